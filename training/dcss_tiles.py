"""Dungeon Crawl Stone Soup's hand-drawn 32×32 tiles (`source/rltiles/` of Debian's `crawl` source package).

The tiles are CC0 (the RLTiles set they grew from is public domain) except the ones the crawl/tiles repository
lists in TILES_UNDER_UNKNOWN_LICENSE.md, which are left out by file name here. Their paths describe them
(`mon/dragons/fire_dragon.png`, `item/potion/ruby.png`): the file name is the sprite's name, its folders its
category. Left out too: `UNUSED/`, the tentacle segments (connector pieces, not pictures), the player's
paper-doll layers (drawn at their place on a body, not as objects), floors, walls, spell effects and the GUI.
Tiles that are not 32×32 (a few tall monsters) are left out rather than resampled: they are the real pixel
art of the set only at their own grid.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

CRAWL_APT_HINT = ("add 'deb-src http://deb.debian.org/debian bookworm main' to a private apt config and run "
                  "'apt-get source --download-only crawl', then unpack the .orig tarball")
INCLUDED_ROOTS = ("mon", "item", "dngn")
EXCLUDED_PARTS = frozenset({"UNUSED", "tentacles", "floor", "wall"})
# crawl/tiles TILES_UNDER_UNKNOWN_LICENSE.md: file names of unclear ownership, excluded from any release.
UNKNOWN_LICENCE_FILE = Path(__file__).with_name("dcss_unknown_licence.txt")
UNKNOWN_LICENCE = frozenset(line for line in UNKNOWN_LICENCE_FILE.read_text().splitlines()
                            if line and not line.startswith("#"))
# RLTiles' colour key: old tiles saved without alpha mark transparency with this teal.
COLOUR_KEY = (71, 108, 108)
# Item kinds whose tiles are named by their look alone (item/potion/ruby.png, item/book/light_green.png): the
# name gets the kind appended, "ruby potion", or a green book would be called "light green".
NAMED_BY_LOOK = frozenset({"potion", "scroll", "book", "wand", "ring", "amulet", "staff", "rod"})
# The top folder, as a word a person would type for it.
ROOT_WORDS = {"mon": "monster", "item": "item", "dngn": "dungeon"}
# File-name prefixes that name the tile kind in crawl's own shorthand, not the picture.
_PREFIXES = re.compile(r"^(dngn|mon|i|dc|misc|item)[_-]")
_SPLIT = re.compile(r"[_\-\s]+")


@dataclass(frozen=True)
class Tile:
    path: str  # relative to rltiles/, e.g. "mon/dragons/fire_dragon.png"
    name: str  # "fire dragon"
    category: str  # "dragon": the innermost folder, singular
    root: str  # "monster", "item", "dungeon"
    pixels: np.ndarray  # uint8 32×32×4, binary alpha, transparent pixels (0, 0, 0, 0)


def clean_name(stem: str) -> str:
    """`fire_dragon` → "fire dragon"; animation and variant numbers and crawl's prefixes dropped."""
    words = [w for w in _SPLIT.split(_PREFIXES.sub("", stem.lower())) if w]
    words = [re.sub(r"\d+$", "", w) for w in words]
    return " ".join(w for w in words if w and not w.isdigit() and len(w) > 1)


def category_of(folder: str) -> str:
    """`dragons` → "dragon", `fungi_plants` → "fungi plant": the folder as a singular phrase."""
    words = _SPLIT.split(folder.lower())
    last = words[-1]
    if last.endswith("ies"):
        last = last[:-3] + "y"
    elif last.endswith("s") and not last.endswith("ss"):
        last = last[:-1]
    return " ".join([*words[:-1], last])


def tile_pixels(image: Image.Image) -> np.ndarray:
    """RGBA uint8 with binary alpha; the RLTiles colour key counts as transparent."""
    rgba = np.asarray(image.convert("RGBA")).copy()
    transparent = (rgba[..., 3] < 128) | np.all(rgba[..., :3] == COLOUR_KEY, axis=-1)
    rgba[..., 3] = np.where(transparent, 0, 255)
    rgba[transparent] = 0
    return rgba


def is_included(relative: Path) -> bool:
    parts = relative.parts
    return (parts[0] in INCLUDED_ROOTS and not EXCLUDED_PARTS.intersection(parts)
            and relative.stem not in UNKNOWN_LICENCE and "tentacle" not in relative.stem)


def iter_tiles(rltiles: Path) -> Iterator[Tile]:
    """Every included 32×32 tile under `rltiles` (the source tree's `source/rltiles`), in path order."""
    if not rltiles.is_dir():
        raise FileNotFoundError(f"{rltiles} is missing; {CRAWL_APT_HINT}")
    for path in sorted(rltiles.rglob("*.png")):
        relative = path.relative_to(rltiles)
        if not is_included(relative) or path.name.startswith("._"):  # "._": macOS resource forks in the tarball
            continue
        with Image.open(path) as image:
            if image.size != (32, 32):
                continue
            pixels = tile_pixels(image)
        name = clean_name(relative.stem)
        if not name or not pixels[..., 3].any():
            continue
        folder = relative.parts[-2] if len(relative.parts) > 2 else relative.parts[0]
        category = category_of(folder)
        if category in NAMED_BY_LOOK and category not in name.split():
            name = f"{name} {category}"
        yield Tile(relative.as_posix(), name, category, ROOT_WORDS[relative.parts[0]], pixels)
