"""The v2 dataset builder on a few files it makes itself: a WordNet excerpt, a crawl rltiles tree, Iconify
packages. Like test_dataset.py it needs Debian's fonts-noto-color-emoji and unicode-cldr-core, and the `train`
extra (emoji, resvg-py); nothing is downloaded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training import dcss_tiles, iconify_sets
from training.sprite_captions import colour_words, compose, gloss_zh, head_noun, load_gloss
from training.sprite_dataset import main
from training.wordnet_links import load_wordnet, nearest_known

# WordNet's data/index line formats: offset lex_file ss_type word_count(hex) [word lex_id]... pointer_count
# [symbol offset pos source/target]... | gloss; index: lemma pos synset_count pointer_count [symbols]...
# sense_count tagsense_count offsets...
DATA_NOUN = [
    "  1 This software and database is being provided (a licence header line)",
    "00000001 05 n 01 animal 0 000 | a living organism",
    "00000002 05 n 01 carnivore 0 001 @ 00000001 n 0000 | a meat eater",
    "00000003 05 n 02 dog 0 domestic_dog 0 001 @ 00000002 n 0000 | a canine",
    "00000004 05 n 02 puppy 0 pup 0 001 @ 00000003 n 0000 | a young dog",
    "00000005 05 n 01 cat 0 001 @ 00000002 n 0000 | a feline",
]
INDEX_NOUN = [
    "  1 licence header",
    "animal n 1 0 1 0 00000001",
    "carnivore n 1 1 @ 1 0 00000002",
    "dog n 1 1 @ 1 0 00000003",
    "domestic_dog n 1 1 @ 1 0 00000003",
    "puppy n 1 1 @ 1 0 00000004",
    "pup n 1 1 @ 1 0 00000004",
    "cat n 1 1 @ 1 0 00000005",
]
DATA_ADJ = ["00000010 00 a 01 red 0 000 | red", "00000011 00 s 01 crimson 0 001 & 00000010 a 0000 | deep red"]
INDEX_ADJ = ["red a 1 0 1 0 00000010", "crimson a 1 1 & 1 0 00000011"]


@pytest.fixture
def wordnet_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "wordnet"
    folder.mkdir()
    for name, lines in (("data.noun", DATA_NOUN), ("index.noun", INDEX_NOUN), ("data.adj", DATA_ADJ),
                        ("index.adj", INDEX_ADJ)):
        (folder / name).write_text("\n".join(lines) + "\n")
    return folder


def test_wordnet_links_synonyms_then_hypernyms_and_the_nearest_known_table(wordnet_dir: Path) -> None:
    wordnet = load_wordnet(wordnet_dir)
    links = wordnet.links()
    assert links["puppy"] == ["pup", "dog", "carnivore", "animal"]
    assert links["crimson"] == ["red"]  # adjectives: "similar to" leads to the head adjective
    assert "domestic_dog" not in links  # multi-word lemmas are not prompt words
    assert wordnet.first_sense("puppy") == (["pup"], ["dog"])
    assert wordnet.first_sense("puppies") == (["pup"], ["dog"])  # read as its singular
    table = nearest_known(links, {"dog", "cat", "red"})
    assert table["puppy"] == "dog" and table["pup"] == "dog" and table["crimson"] == "red"
    assert "carnivore" not in table  # none of its links is known: it stays unknown
    assert "dog" not in table  # known words are never redirected


def test_missing_wordnet_names_the_debian_package(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="wordnet-base"):
        load_wordnet(tmp_path)


def _png(path: Path, image: Image.Image) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


@pytest.fixture
def rltiles(tmp_path: Path) -> Path:
    """A crawl source tree's rltiles/ with one tile of each kind the builder keeps or leaves out."""
    root = tmp_path / "cache" / "crawl" / "stone_soup-0.0" / "source" / "rltiles"
    dragon = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    dragon.paste((200, 30, 30, 255), (4, 4, 28, 28))
    _png(root / "mon" / "dragons" / "fire_dragon2.png", dragon)
    keyed = Image.new("RGB", (32, 32), dcss_tiles.COLOUR_KEY)  # an old tile: transparency by colour key
    keyed.paste((40, 60, 220), (10, 10, 22, 22))
    _png(root / "item" / "potion" / "i-ruby.png", keyed)
    for left_out in ("UNUSED/mon/old_dragon.png", "mon/tentacles/kraken_segment.png", "mon/undead/zombie_bat.png",
                     "player/head/helmet.png", "dngn/floor/grass0.png"):
        _png(root / left_out, dragon)
    _png(root / "mon" / "giants" / "tall_giant.png", Image.new("RGBA", (32, 48), (90, 90, 90, 255)))
    (root / "mon" / "dragons" / "._fire_dragon2.png").write_bytes(b"\0\5\26\7 not a png")  # a macOS resource fork
    return root


def test_tiles_keep_named_32px_art_and_leave_out_unused_tentacles_and_unknown_licence(rltiles: Path) -> None:
    tiles = list(dcss_tiles.iter_tiles(rltiles))
    assert [(t.path, t.name, t.category, t.root) for t in tiles] == [
        ("item/potion/i-ruby.png", "ruby potion", "potion", "item"),  # named by its look: the kind appended
        ("mon/dragons/fire_dragon2.png", "fire dragon", "dragon", "monster"),
    ]
    ruby = tiles[0].pixels
    assert ruby[0, 0].tolist() == [0, 0, 0, 0]  # the colour key became transparent
    assert ruby[16, 16].tolist() == [40, 60, 220, 255]
    assert set(np.unique(ruby[..., 3])) == {0, 255}


def _icon_package(folder: Path, prefix: str, licence: str, icons: dict, chars: dict | None = None) -> Path:
    package = folder / "npm" / prefix / "package"
    package.mkdir(parents=True)
    (package / "icons.json").write_text(json.dumps({"prefix": prefix, "width": 16, "height": 16, "icons": icons}))
    (package / "info.json").write_text(json.dumps({"license": {"spdx": licence}, "author": {"name": "Someone"}}))
    (package / "package.json").write_text(json.dumps({"version": "1.0.0"}))
    if chars is not None:
        (package / "chars.json").write_text(json.dumps(chars))
    return package


APPLE_BODY = '<circle cx="8" cy="8" r="7" fill="#e01010"/>'
SWORD_BODY = '<path fill="currentColor" d="M7 1h2v10h3v2H9v2H7v-2H4v-2h3z"/>'


def test_iconify_icons_render_to_sprites_and_match_their_emoji(tmp_path: Path) -> None:
    package = _icon_package(tmp_path, "twemoji", "CC-BY-4.0",
                            {"red-apple": {"body": APPLE_BODY}, "cat-face": {"body": APPLE_BODY, "hidden": True}},
                            chars={"1f34e": "red-apple"})
    icon_set = iconify_sets.load_icon_set(package)
    assert [name for name, _ in iconify_sets.iter_icons(icon_set)] == ["red-apple"]  # hidden icons are old names
    sprite = iconify_sets.icon_sprite(icon_set.icons["red-apple"], icon_set)
    assert sprite is not None and sprite.shape == (32, 32, 4) and set(np.unique(sprite[..., 3])) == {0, 255}
    assert sprite[16, 16].tolist() == [224, 16, 16, 255] and sprite[0, 0].tolist() == [0, 0, 0, 0]
    index = iconify_sets.EmojiIndex.of({"\N{RED APPLE}": {"en": ":red_apple:"}, "\N{CAT FACE}": {"en": ":cat_face:"}})
    assert index.match("red-apple", icon_set) == "\N{RED APPLE}"  # by code point (chars.json)
    assert index.match("cat-face", icon_set) == "\N{CAT FACE}"  # by name slug


def test_silhouettes_are_tinted_with_a_stable_colour(tmp_path: Path) -> None:
    icon_set = iconify_sets.load_icon_set(_icon_package(tmp_path, "game-icons", "CC-BY-3.0",
                                                        {"broadsword": {"body": SWORD_BODY}}))
    tint = iconify_sets.tint_for("broadsword")
    assert tint == iconify_sets.tint_for("broadsword")
    sprite = iconify_sets.icon_sprite(icon_set.icons["broadsword"], icon_set,
                                      iconify_sets.hex_colour(iconify_sets.TINTS[tint]))
    opaque = sprite[sprite[..., 3] > 0][:, :3]
    assert (np.abs(opaque.astype(int) - iconify_sets.TINTS[tint]).max(axis=1) <= 2).mean() > 0.8


def test_captions_name_style_category_colour_senses_and_chinese() -> None:
    red = np.zeros((32, 32, 4), np.uint8)
    red[8:24, 8:24] = (210, 30, 30, 255)
    assert colour_words(red) == ["red"]
    assert gloss_zh("fire dragon", load_gloss()) == "火龙" and gloss_zh("fire zorblax", load_gloss()) is None
    captions = compose("fire dragon", "pixel art", red, category="dragon monster",
                       senses=lambda word: (["firedrake"], ["monster"]), gloss=load_gloss())
    assert captions[0] == "fire dragon"
    assert {"fire dragon pixel art", "fire dragon dragon monster", "red fire dragon", "firedrake", "monster",
            "火龙"} <= set(captions)
    assert head_noun("man construction worker medium dark skin tone") == "worker"
    assert head_noun("ballet shoes") == "shoes"
    with pytest.raises(ValueError, match="unknown style"):
        compose("x", "watercolour", red)


def test_builder_writes_sprites_captions_credits_and_links(tmp_path: Path, rltiles: Path,
                                                           wordnet_dir: Path) -> None:
    cache = tmp_path / "cache"
    for prefix, licence in (("twemoji", "CC-BY-4.0"), ("fluent-emoji-flat", "MIT"), ("noto", "Apache-2.0"),
                            ("emojione", "CC-BY-4.0")):
        icons = {"red-apple": {"body": APPLE_BODY}, "no-such-emoji": {"body": APPLE_BODY}}
        _icon_package(cache, prefix, licence, icons, chars={"1f34e": "red-apple"})
    _icon_package(cache, "game-icons", "CC-BY-3.0", {"broadsword": {"body": SWORD_BODY}})
    out = tmp_path / "out"
    assert main(["--cache", str(cache), "--out", str(out), "--wordnet", str(wordnet_dir), "--limit", "3"]) == 0

    records = json.loads((out / "captions.json").read_text())
    arrays = np.load(out / "sprites.npz")
    assert arrays["images"].shape == (len(records), 32, 32, 4) and arrays["held_out"].shape == (len(records),)
    by_source: dict[str, list[dict]] = {}
    for record in records:
        by_source.setdefault(record["source"], []).append(record)
    assert len(by_source["noto-color-emoji-font"]) == 3
    apples = [r for s in ("twemoji", "fluent-emoji-flat", "noto", "emojione") for r in by_source[s]]
    assert len(apples) == 4 and {r["concept"] for r in apples} == {"\N{RED APPLE}"}  # one concept, four pictures
    assert all("red apple emoji" in r["captions"] and "红苹果" in r["captions"] for r in apples)
    assert by_source["game-icons"][0]["captions"][:2] == ["broadsword", "broadsword icon"]
    assert [r["name"] for r in by_source["dcss"]] == ["ruby potion", "fire dragon"]
    dragon = by_source["dcss"][1]
    assert "fire dragon pixel art" in dragon["captions"] and "火龙" in dragon["captions"]

    credits = {c["source"]: c for c in json.loads((out / "credits.json").read_text())}
    assert credits["@iconify-json/twemoji"]["licence"] == "CC-BY-4.0" and credits["@iconify-json/twemoji"]["count"] == 1
    assert credits["@iconify-json/game-icons"]["licence"] == "CC-BY-3.0"
    assert credits["Dungeon Crawl Stone Soup tiles"]["count"] == 2
    assert json.loads((out / "wordnet_links.json").read_text())["puppy"][0] == "pup"


def test_builder_without_the_crawl_tiles_says_how_to_get_them(tmp_path: Path, wordnet_dir: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "cache"
    for prefix in ("twemoji", "fluent-emoji-flat", "noto", "emojione", "game-icons"):
        _icon_package(cache, prefix, "MIT", {})
    assert main(["--cache", str(cache), "--out", str(tmp_path / "out"), "--wordnet", str(wordnet_dir),
                 "--limit", "1"]) == 1
    assert "apt-get source --download-only crawl" in capsys.readouterr().err
