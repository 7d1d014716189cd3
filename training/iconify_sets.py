"""Iconify JSON icon sets (npm `@iconify-json/<set>`) rendered into 32×32 sprites with resvg.

An Iconify set is one `icons.json` (each icon an SVG body over the set's view box) and, for emoji sets, a
`chars.json` from code points to icon names. Emoji icons are matched to the emoji they draw by those code
points, or else by name slug, so they share the emoji's concept and CLDR captions. game-icons are one-colour
silhouettes ("currentColor"): each is tinted with a colour picked from its name, so the tint is stable.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from training.build_sprite_dataset import cldr_key, glyph_to_sprite

SUPERSAMPLE = 8  # rendered at 8 × 32 px, then box-filtered down: anti-aliased edges without blur
# Tints for the game-icons silhouettes, named as the colour captions name them.
TINTS: dict[str, tuple[int, int, int]] = {
    "red": (200, 40, 40), "orange": (230, 130, 30), "yellow": (230, 200, 40), "green": (50, 160, 60),
    "blue": (50, 90, 210), "purple": (130, 60, 180), "brown": (130, 80, 40), "grey": (120, 120, 120),
    "black": (30, 30, 30),
}


@dataclass(frozen=True)
class IconSet:
    prefix: str
    licence: str  # SPDX identifier from the package's info.json
    author: str
    url: str
    version: str
    icons: dict[str, dict]
    width: int
    height: int
    chars: dict[str, str]  # icon name → the emoji text it draws (code points joined), for emoji sets


def load_icon_set(package_dir: Path) -> IconSet:
    """An unpacked npm package of `@iconify-json/<set>` (its `package/` folder)."""
    data = json.loads((package_dir / "icons.json").read_text())
    info = json.loads((package_dir / "info.json").read_text())
    version = json.loads((package_dir / "package.json").read_text())["version"]
    chars_file = package_dir / "chars.json"
    chars = json.loads(chars_file.read_text()) if chars_file.is_file() else {}
    by_name = {name: "".join(chr(int(h, 16)) for h in code.split("-")) for code, name in chars.items()}
    return IconSet(data["prefix"], info["license"]["spdx"], info.get("author", {}).get("name", ""),
                   info.get("author", {}).get("url", ""), version, data["icons"], data.get("width", 16),
                   data.get("height", 16), by_name)


def svg_of(icon: dict, icon_set: IconSet, size: int, colour: str = "#000000") -> str:
    width, height = icon.get("width", icon_set.width), icon.get("height", icon_set.height)
    left, top = icon.get("left", 0), icon.get("top", 0)
    body = icon["body"].replace("currentColor", colour)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'width="{size}" height="{size}" viewBox="{left} {top} {width} {height}">{body}</svg>')


def render_svg(svg: str) -> Image.Image:
    import resvg_py  # the `train` extra: pip install -e ".[train]"

    return Image.open(io.BytesIO(bytes(resvg_py.svg_to_bytes(svg_string=svg, skip_system_fonts=True)))).convert("RGBA")


def icon_sprite(icon: dict, icon_set: IconSet, colour: str = "#000000") -> np.ndarray | None:
    """The icon as a 32×32 sprite (cropped, centred, box-filtered, alpha thresholded); None when empty."""
    glyph = render_svg(svg_of(icon, icon_set, 32 * SUPERSAMPLE, colour))
    if glyph.getchannel("A").getbbox() is None:
        return None
    return glyph_to_sprite(glyph)


def tint_for(name: str) -> str:
    """A tint picked by a hash of the icon's name: the same icon gets the same colour in every build."""
    names = sorted(TINTS)
    return names[int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") % len(names)]


def hex_colour(rgb: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{c:02x}" for c in rgb)


def slug(words: str) -> str:
    return "-".join(words.lower().replace("_", " ").replace(":", " ").split())


@dataclass(frozen=True)
class EmojiIndex:
    """Finds the fully-qualified emoji (a key of the emoji package's data) that an icon draws."""

    by_key: dict[str, str]  # cldr_key(text) → text
    by_slug: dict[str, str]  # name slug ("red-apple") → text, from the emoji package's names and aliases

    @classmethod
    def of(cls, entries: dict[str, dict]) -> EmojiIndex:
        by_slug: dict[str, str] = {}
        for text, entry in entries.items():
            for name in (entry["en"], *entry.get("alias", [])):
                by_slug.setdefault(slug(name), text)
        return cls({cldr_key(text): text for text in entries}, by_slug)

    def match(self, name: str, icon_set: IconSet) -> str | None:
        drawn = icon_set.chars.get(name)
        found = self.by_key.get(cldr_key(drawn)) if drawn is not None else None
        return found or self.by_slug.get(name)


def iter_icons(icon_set: IconSet) -> Iterator[tuple[str, dict]]:
    """Every icon of the set, hidden ones (kept only for old names) left out."""
    for name, icon in sorted(icon_set.icons.items()):
        if not icon.get("hidden"):
            yield name, icon
