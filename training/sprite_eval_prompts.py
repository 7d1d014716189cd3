"""The evaluation's prompts nobody tuned the model to: everyday subjects and game subjects, phrased as people
type them, in English and Chinese. Each comes with its key nouns: an image counts when the nearest real
reference sprite (emoji renders and pixel-art tiles of the dataset) has one of them among its caption words.

The first twenty everyday prompts are v1's "natural prompts", so its figure carries over.
"""

from __future__ import annotations


def _keyed(pairs: list[tuple[str, str]]) -> list[tuple[str, frozenset[str]]]:
    return [(prompt, frozenset(keys.split())) for prompt, keys in pairs]


EVERYDAY = _keyed([
    ("a shiny red apple", "apple"), ("a slice of pizza", "pizza"), ("a pine tree", "tree"),
    ("two red hearts", "heart"), ("a cute cat", "cat"), ("a happy dog", "dog"), ("a small house", "house"),
    ("a yellow banana", "banana"), ("the full moon", "moon"), ("a bright sun", "sun"),
    ("a steel sword", "sword dagger"), ("a birthday cake", "cake"), ("a red car", "car automobile"),
    ("a tropical fish", "fish"), ("a green frog", "frog"), ("a pink flower", "flower blossom"),
    ("红苹果", "apple"), ("一只猫", "cat"), ("一块蛋糕", "cake"), ("小狗", "dog"),
    ("a rocket ship", "rocket"), ("a cup of hot coffee", "coffee"), ("a slice of watermelon", "watermelon"),
    ("a ripe strawberry", "strawberry"), ("a snowman", "snowman"), ("an umbrella", "umbrella"),
    ("a bicycle", "bicycle bike"), ("an electric guitar", "guitar"), ("a light bulb", "bulb"),
    ("a big hamburger", "hamburger burger"), ("a rainbow", "rainbow"), ("a little bird", "bird"),
    ("a brown horse", "horse"), ("a honey bee", "bee honeybee"), ("a pumpkin", "pumpkin"),
    ("an old book", "book"), ("月亮", "moon"), ("太阳", "sun"), ("一朵花", "flower blossom"), ("房子", "house"),
    ("一条鱼", "fish"), ("香蕉", "banana"), ("火箭", "rocket"), ("汽车", "car automobile"),
])

GAME = _keyed([
    ("a wizard", "wizard mage"), ("a red potion", "potion"), ("a fire dragon", "dragon"),
    ("a skeleton warrior", "skeleton"), ("a wooden shield", "shield"), ("an iron helmet", "helmet helm"),
    ("a magic ring", "ring"), ("an orc", "orc"), ("a green snake", "snake serpent"), ("a battle axe", "axe"),
    ("an old scroll", "scroll"), ("a bow", "bow"), ("a knight with a sword", "knight sword"),
    ("a treasure chest", "chest"), ("a gold coin", "coin"), ("a ghost", "ghost"), ("a zombie", "zombie"),
    ("a goblin", "goblin"), ("a giant spider", "spider"), ("a magic wand", "wand"), ("a spell book", "book"),
    ("a dagger", "dagger knife"), ("a golden crown", "crown"), ("a health potion", "potion"), ("a bat", "bat"),
    ("a castle", "castle"), ("a tombstone", "tombstone gravestone grave"), ("a bomb", "bomb"),
    ("an amulet", "amulet necklace"), ("a troll", "troll"), ("a vampire", "vampire"), ("a wolf", "wolf"),
    ("a crossbow", "crossbow"), ("a war hammer", "hammer"), ("巫师", "wizard mage"), ("龙", "dragon"),
    ("宝剑", "sword"), ("药水", "potion"), ("骷髅", "skeleton skull"), ("盾牌", "shield"),
])
