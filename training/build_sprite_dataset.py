"""Build the sprite dataset: every fully-qualified emoji of Noto Color Emoji as a 32×32 RGBA sprite.

    python training/build_sprite_dataset.py --out data/sprites [--limit N]

Writes `sprites.npz` (uint8 images N×32×32×4, bool `held_out`) and `captions.json` (one record per
sprite: emoji, name, concept, captions, split). Noto Color Emoji is SIL OFL 1.1 (Debian
`fonts-noto-color-emoji`); the English and Chinese keywords come from Unicode CLDR (Debian
`unicode-cldr-core`).

The pure functions (`glyph_to_sprite`, `captions_for`, `is_held_out`, `render_glyph`) are what the tests
exercise; `main` only wires them to the font file and the output directory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_PATH = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
APT_HINT = "apt-get update && apt-get install -y fonts-noto-color-emoji"
CLDR_DIR = Path("/usr/share/unicode/cldr/common")
CLDR_APT_HINT = "apt-get update && apt-get install -y unicode-cldr-core"
CLDR_LANGUAGES = ("en", "zh")
SKIN_TONES = {chr(c) for c in range(0x1F3FB, 0x1F400)}
VARIATION_SELECTOR = "\ufe0f"
# Noto Color Emoji is a CBDT bitmap font: its strikes exist at 109 px only, any other size fails to load.
BITMAP_SIZE = 109
SPRITE_SIZE = 32
ALPHA_THRESHOLD = 128
HELD_OUT_PERCENT = 10


@dataclass(frozen=True)
class Sprite:
    emoji: str
    name: str
    concept: str  # the emoji without skin-tone modifiers: variants of one picture share it
    captions: list[str]
    held_out: bool
    pixels: np.ndarray  # uint8 SPRITE_SIZE×SPRITE_SIZE×4


@dataclass(frozen=True)
class Annotation:
    """One emoji's CLDR annotation in one language: its spoken name and its keywords."""

    tts: str = ""
    keywords: list[str] = field(default_factory=list)


def cldr_key(emoji_text: str) -> str:
    # CLDR writes most emoji without the variation selector the emoji package keeps (❤️ vs ❤).
    return emoji_text.replace(VARIATION_SELECTOR, "")


def concept_of(emoji_text: str) -> str:
    return "".join(ch for ch in cldr_key(emoji_text) if ch not in SKIN_TONES)


def load_cldr(language: str, cldr_dir: Path = CLDR_DIR) -> dict[str, Annotation]:
    """Annotations of `language` from CLDR's annotations and annotationsDerived (skin tones, flags, sequences)."""
    paths = [cldr_dir / folder / f"{language}.xml" for folder in ("annotations", "annotationsDerived")]
    if not paths[0].is_file():
        raise FileNotFoundError(f"{paths[0]} is missing; install it with: {CLDR_APT_HINT}")
    tts: dict[str, str] = {}
    keywords: dict[str, list[str]] = {}
    for path in paths:
        if not path.is_file():
            continue
        for node in ET.parse(path).getroot().iter("annotation"):
            key, text = cldr_key(node.get("cp", "")), (node.text or "").strip()
            if not key or not text or text == "↑↑↑":  # ↑↑↑ means "inherited": nothing of its own
                continue
            if node.get("type") == "tts":
                tts[key] = text
            else:
                keywords[key] = [k.strip() for k in text.split("|") if k.strip()]
    return {key: Annotation(tts.get(key, ""), keywords.get(key, [])) for key in tts.keys() | keywords.keys()}


def load_font(path: Path = FONT_PATH) -> ImageFont.FreeTypeFont:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; install it with: {APT_HINT}")
    return ImageFont.truetype(str(path), BITMAP_SIZE)


def render_glyph(font: ImageFont.FreeTypeFont, text: str) -> Image.Image | None:
    """Render `text` at the font's native size; None when the font cannot draw it as one glyph.

    A sequence the font has no ligature for (a new ZWJ family, an unknown flag) is laid out as several
    glyphs side by side, so its advance is a multiple of one emoji's; a code point the font lacks draws
    the .notdef box, which `_tofu` recognises.
    """
    one = font.getlength("\N{GRINNING FACE}")
    if font.getlength(text) > 1.5 * one:
        return None
    left, top, right, bottom = font.getbbox(text)
    if right <= left or bottom <= top:
        return None
    canvas = Image.new("RGBA", (right - left, bottom - top), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((-left, -top), text, font=font, embedded_color=True)
    if canvas.getchannel("A").getbbox() is None or _same_image(canvas, _tofu(font)):
        return None
    return canvas


def _tofu(font: ImageFont.FreeTypeFont) -> Image.Image:
    # U+10FFFD is a private-use code point no emoji font maps, so it always draws the .notdef glyph.
    cached = getattr(font, "_pixelforge_tofu", None)
    if cached is None:
        left, top, right, bottom = font.getbbox("\U0010fffd")
        cached = Image.new("RGBA", (max(right - left, 1), max(bottom - top, 1)), (0, 0, 0, 0))
        ImageDraw.Draw(cached).text((-left, -top), "\U0010fffd", font=font, embedded_color=True)
        font._pixelforge_tofu = cached  # type: ignore[attr-defined]
    return cached


def _same_image(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and a.tobytes() == b.tobytes()


def glyph_to_sprite(glyph: Image.Image, size: int = SPRITE_SIZE, threshold: int = ALPHA_THRESHOLD) -> np.ndarray:
    """Crop to the visible pixels, pad to a centred square, area-downscale, binarise alpha.

    Pillow resizes RGBA in premultiplied space, so edge pixels keep their colour instead of darkening
    towards the transparent black around them. Transparent pixels become (0, 0, 0, 0) so that equal
    sprites compare equal byte for byte.
    """
    bbox = glyph.getchannel("A").getbbox()
    if bbox is None:
        raise ValueError("glyph has no visible pixels")
    cropped = glyph.crop(bbox)
    side = max(cropped.size)
    square = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    square.paste(cropped, ((side - cropped.width) // 2, (side - cropped.height) // 2))
    small = np.asarray(square.resize((size, size), Image.Resampling.BOX)).copy()
    opaque = small[..., 3] >= threshold
    small[..., 3] = np.where(opaque, 255, 0)
    small[~opaque] = 0
    return small


def _words(name: str) -> str:
    spaced = name.strip(":").translate(str.maketrans("_-:,", "    "))
    return " ".join(spaced.lower().split())


def captions_for(emoji_text: str, entry: dict, annotations: dict[str, dict[str, Annotation]] | None = None
                 ) -> list[str]:
    """Captions from the emoji package's name and aliases and, per CLDR language, the spoken name and the
    keywords joined into one caption ("apple fruit red"), all normalised to lower-case words.

    Flags are named after the country alone (":Japan:"), so they get "flag of japan" and "japan flag" too.
    The first caption is always the emoji package's name: evaluation prompts are drawn from it.
    """
    captions = [_words(entry["en"]), *(_words(alias) for alias in entry.get("alias", []))]
    if all(0x1F1E6 <= ord(ch) <= 0x1F1FF for ch in emoji_text):
        country = captions[0]
        captions += [f"flag of {country}", f"{country} flag"]
    for by_emoji in (annotations or {}).values():
        annotation = by_emoji.get(cldr_key(emoji_text))
        if annotation is not None:
            captions += [_words(annotation.tts), " ".join(_words(k) for k in annotation.keywords)]
    return list(dict.fromkeys(c for c in captions if c))


def is_held_out(emoji_text: str, percent: int = HELD_OUT_PERCENT) -> bool:
    # A hash, not a random draw: the split stays the same when the emoji list grows or --limit changes.
    digest = hashlib.sha256(emoji_text.encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < percent


def fully_qualified() -> dict[str, dict]:
    import emoji  # the `train` extra: pip install -e ".[train]"

    status = emoji.STATUS["fully_qualified"]
    return {text: entry for text, entry in emoji.EMOJI_DATA.items() if entry["status"] == status}


def build(font: ImageFont.FreeTypeFont, entries: dict[str, dict], limit: int | None = None,
          annotations: dict[str, dict[str, Annotation]] | None = None) -> list[Sprite]:
    sprites: list[Sprite] = []
    for text, entry in entries.items():
        if limit is not None and len(sprites) >= limit:
            break
        glyph = render_glyph(font, text)
        if glyph is None:
            continue
        captions = captions_for(text, entry, annotations)
        sprites.append(Sprite(text, captions[0], concept_of(text), captions, is_held_out(text),
                              glyph_to_sprite(glyph)))
    return sprites


def save(sprites: list[Sprite], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out / "sprites.npz",
        images=np.stack([s.pixels for s in sprites]),
        held_out=np.array([s.held_out for s in sprites]),
    )
    records = [
        {"emoji": s.emoji, "name": s.name, "concept": s.concept, "captions": s.captions,
         "split": "held_out" if s.held_out else "train"}
        for s in sprites
    ]
    (out / "captions.json").write_text(json.dumps(records, ensure_ascii=False, indent=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/sprites"))
    parser.add_argument("--font", type=Path, default=FONT_PATH)
    parser.add_argument("--cldr", type=Path, default=CLDR_DIR, help="CLDR's common/ folder")
    parser.add_argument("--limit", type=int, default=None, help="stop after N sprites (tests, quick looks)")
    args = parser.parse_args(argv)
    try:
        font = load_font(args.font)
        annotations = {language: load_cldr(language, args.cldr) for language in CLDR_LANGUAGES}
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 1
    entries = fully_qualified()
    sprites = build(font, entries, args.limit, annotations)
    save(sprites, args.out)
    held = sum(s.held_out for s in sprites)
    print(f"{len(sprites)} sprites ({held} held out) from {len(entries)} fully-qualified emoji -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
