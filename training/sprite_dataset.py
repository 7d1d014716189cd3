"""Build the sprite dataset v2: many references per concept, real pixel art, captions people type.

    python training/sprite_dataset.py --fetch --cache data/downloads --out data/sprites2

Sources (each one's count and licence go to `<out>/credits.json`, which the model card lists):
- Noto Color Emoji, the font (SIL OFL 1.1; Debian fonts-noto-color-emoji): build_sprite_dataset.py, v1's data.
- Iconify emoji sets from npm, rendered with resvg: twemoji (CC-BY-4.0), fluent-emoji-flat (MIT),
  noto (Apache-2.0), emojione (CC-BY-4.0). Matched to their emoji, so they share its concept and CLDR captions.
- game-icons from npm (CC-BY-3.0): one-colour silhouettes, tinted.
- Dungeon Crawl Stone Soup tiles from Debian's `crawl` source package (CC0): hand-made 32×32 pixel art.

Writes `sprites.npz` (uint8 images N×32×32×4, bool `held_out`), `captions.json` (per sprite: source, key,
name, concept, captions, split) as v1 did, `credits.json`, and `wordnet_links.json` (word → synonyms, then
hypernyms), from which training builds the synonym table the model ships. The split is by concept hash and,
for emoji, the same hash v1 used, so held-out emoji are unseen by v1 and v2 alike.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from training import build_sprite_dataset as emoji_font
from training import dcss_tiles, iconify_sets, sprite_fetch
from training.sprite_captions import compose, load_gloss
from training.wordnet_links import WORDNET_DIR, WordNet, load_wordnet

EMOJI_SETS = ("twemoji", "fluent-emoji-flat", "noto", "emojione")
ICON_SETS = ("game-icons",)


@dataclass(frozen=True)
class Entry:
    source: str
    key: str  # unique within its source: the emoji, the icon name, the tile path
    name: str
    concept: str  # sprites of one concept are different pictures of one thing
    captions: list[str]
    held_out: bool
    pixels: np.ndarray


@dataclass(frozen=True)
class Credit:
    source: str
    licence: str
    count: int
    author: str
    url: str
    version: str = ""
    note: str = ""


class Captioner:
    """compose() with the WordNet senses and the Chinese gloss loaded once."""

    def __init__(self, wordnet: WordNet | None, gloss: dict[str, str]) -> None:
        self.wordnet, self.gloss = wordnet, gloss

    def __call__(self, name: str, style: str, pixels: np.ndarray, category: str = "",
                 extra: list[str] | None = None) -> list[str]:
        senses = self.wordnet.first_sense if self.wordnet is not None else None
        return compose(name, style, pixels, category=category, extra=extra, senses=senses, gloss=self.gloss)


def font_entries(font_sprites: list[emoji_font.Sprite], captioner: Captioner) -> list[Entry]:
    return [Entry("noto-color-emoji-font", s.emoji, s.name, s.concept,
                  captioner(s.name, "emoji", s.pixels, extra=s.captions[1:]), s.held_out, s.pixels)
            for s in font_sprites]


def emoji_set_entries(icon_set: iconify_sets.IconSet, emoji_data: dict[str, dict], index: iconify_sets.EmojiIndex,
                      annotations: dict, captioner: Captioner, limit: int | None = None) -> list[Entry]:
    """Icons matched to an emoji only: an unmatched one has no CLDR captions and no concept to share."""
    entries: list[Entry] = []
    for name, icon in iconify_sets.iter_icons(icon_set):
        if limit is not None and len(entries) >= limit:
            break
        text = index.match(name, icon_set)
        if text is None:
            continue
        pixels = iconify_sets.icon_sprite(icon, icon_set)
        if pixels is None:
            continue
        captions = emoji_font.captions_for(text, emoji_data[text], annotations)
        entries.append(Entry(icon_set.prefix, name, captions[0], emoji_font.concept_of(text),
                             captioner(captions[0], "emoji", pixels, extra=captions[1:]),
                             emoji_font.is_held_out(text), pixels))
    return entries


def icon_entries(icon_set: iconify_sets.IconSet, captioner: Captioner, limit: int | None = None) -> list[Entry]:
    entries: list[Entry] = []
    for name, icon in iconify_sets.iter_icons(icon_set):
        if limit is not None and len(entries) >= limit:
            break
        tint = iconify_sets.tint_for(name)
        pixels = iconify_sets.icon_sprite(icon, icon_set, iconify_sets.hex_colour(iconify_sets.TINTS[tint]))
        if pixels is None:
            continue
        words = " ".join(w for w in name.split("-") if w.isalpha())
        if not words:
            continue
        captions = captioner(words, "icon", pixels, extra=[f"{words} silhouette"])
        entries.append(Entry(icon_set.prefix, name, words, f"{icon_set.prefix}:{words}", captions,
                             emoji_font.is_held_out(words), pixels))
    return entries


def tile_entries(tiles: list[dcss_tiles.Tile], captioner: Captioner) -> list[Entry]:
    # The concept is the cleaned name: a monster's animation frames and variants are one concept, several pictures.
    return [Entry("dcss", t.path, t.name, f"dcss:{t.name}",
                  captioner(t.name, "pixel art", t.pixels, category=t.category, extra=[t.root]),
                  emoji_font.is_held_out(t.name), t.pixels)
            for t in tiles]


def save(entries: list[Entry], credits: list[Credit], links: dict[str, list[str]], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "sprites.npz", images=np.stack([e.pixels for e in entries]),
                        held_out=np.array([e.held_out for e in entries]))
    records = [{"source": e.source, "key": e.key, "name": e.name, "concept": e.concept, "captions": e.captions,
                "split": "held_out" if e.held_out else "train"} for e in entries]
    (out / "captions.json").write_text(json.dumps(records, ensure_ascii=False, indent=0))
    (out / "credits.json").write_text(json.dumps([asdict(c) for c in credits], ensure_ascii=False, indent=1))
    (out / "wordnet_links.json").write_text(json.dumps(links, ensure_ascii=False))


def build(args: argparse.Namespace) -> tuple[list[Entry], list[Credit], dict[str, list[str]]]:
    wordnet = load_wordnet(args.wordnet)
    captioner = Captioner(wordnet, load_gloss())
    annotations = {language: emoji_font.load_cldr(language, args.cldr) for language in emoji_font.CLDR_LANGUAGES}
    emoji_data = emoji_font.fully_qualified()
    entries = font_entries(emoji_font.build(emoji_font.load_font(args.font), emoji_data, args.limit, annotations),
                           captioner)
    credits = [Credit("Noto Color Emoji (font)", "OFL-1.1", len(entries), "Google Inc",
                      "https://github.com/googlefonts/noto-emoji", note="Debian fonts-noto-color-emoji")]
    index = iconify_sets.EmojiIndex.of(emoji_data)
    for package in (*EMOJI_SETS, *ICON_SETS):
        folder = sprite_fetch.fetch_npm(package, args.cache) if args.fetch else args.cache / "npm" / package / "package"
        icon_set = iconify_sets.load_icon_set(folder)
        made = (emoji_set_entries(icon_set, emoji_data, index, annotations, captioner, args.limit)
                if package in EMOJI_SETS else icon_entries(icon_set, captioner, args.limit))
        entries += made
        credits.append(Credit(f"@iconify-json/{package}", icon_set.licence, len(made), icon_set.author,
                              icon_set.url, icon_set.version, "rendered with resvg, box-filtered to 32×32"
                              + (", tinted" if package in ICON_SETS else "")))
        print(f"{package}: {len(made)} sprites ({icon_set.licence})", flush=True)
    unpacked = sorted(args.cache.glob("crawl/*/source/rltiles")) or [args.cache / "crawl" / "source" / "rltiles"]
    rltiles = sprite_fetch.fetch_crawl(args.cache) if args.fetch else unpacked[0]
    tiles = list(dcss_tiles.iter_tiles(rltiles))[: args.limit]
    made = tile_entries(tiles, captioner)
    entries += made
    credits.append(Credit("Dungeon Crawl Stone Soup tiles", "CC0-1.0", len(made), "the DCSS tile artists",
                          "https://github.com/crawl/tiles",
                          note="Debian source package crawl (.orig tarball), source/rltiles; "
                               "tiles listed as of unknown licence, UNUSED/ and tentacle segments left out"))
    print(f"dcss tiles: {len(made)} sprites", flush=True)
    return entries, credits, wordnet.links()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/sprites2"))
    parser.add_argument("--cache", type=Path, default=Path("data/downloads"),
                        help="where --fetch puts the npm and Debian downloads (and where they are read from)")
    parser.add_argument("--fetch", action="store_true", help="download what the cache lacks (npm pack, apt-get source)")
    parser.add_argument("--font", type=Path, default=emoji_font.FONT_PATH)
    parser.add_argument("--cldr", type=Path, default=emoji_font.CLDR_DIR, help="CLDR's common/ folder")
    parser.add_argument("--wordnet", type=Path, default=WORDNET_DIR, help="WordNet's dict folder (wordnet-base)")
    parser.add_argument("--limit", type=int, default=None, help="at most N sprites per source (tests, quick looks)")
    args = parser.parse_args(argv)
    try:
        entries, credits, links = build(args)
    except FileNotFoundError as exc:
        print(f"{exc} (or run with --fetch)", file=sys.stderr)
        return 1
    save(entries, credits, links, args.out)
    held = sum(e.held_out for e in entries)
    print(f"{len(entries)} sprites ({held} held out), {len({e.concept for e in entries})} concepts -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
