"""Fixed palettes: the built-in ones shipped as Lospec ``.hex`` data files, user ``.hex`` / ``.gpl`` files,
and writing a palette back out in both formats."""

from __future__ import annotations

from importlib import resources

from pixelforge.userpath import expand_user

from .color import hex_to_rgb, rgb_to_hex
from .errors import PixelArtError

RGB = tuple[int, int, int]

BUILTIN_PALETTES: tuple[str, ...] = ("pico-8", "db16", "db32", "endesga-32", "gameboy", "slso8")
# A palette file bigger than this is not a palette; refuse it before reading it all into memory.
_MAX_PALETTE_BYTES = 1 << 20
_MAX_PALETTE_COLORS = 256


def load_palette(spec: str) -> tuple[str, list[RGB]]:
    """A built-in name (case-insensitive) or a path to a ``.hex`` / ``.gpl`` file -> (name, colours)."""
    key = spec.strip().lower()
    if key in BUILTIN_PALETTES:
        text = resources.files(__package__).joinpath("palettes").joinpath(f"{key}.hex").read_text(encoding="utf-8")
        return key, _parse_hex(text, key)
    path = expand_user(spec)
    if path.suffix.lower() not in {".hex", ".gpl"}:
        known = ", ".join(BUILTIN_PALETTES)
        raise PixelArtError(f"unknown palette {spec!r}: use one of {known}, or a path to a .hex or .gpl file")
    try:
        is_file = path.is_file()
    except OSError:  # a name the file system refuses (a part over 255 bytes, ...)
        is_file = False
    if not is_file:
        raise PixelArtError(f"palette file not found: {path}")
    try:
        if path.stat().st_size > _MAX_PALETTE_BYTES:
            raise PixelArtError(f"palette file {path} is too large to be a palette")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PixelArtError(f"palette file {path} is not text") from exc
    except OSError as exc:  # not readable by this user
        raise PixelArtError(f"palette file {path} cannot be read: {exc.strerror}") from exc
    parse = _parse_hex if path.suffix.lower() == ".hex" else _parse_gpl
    return path.stem, parse(text, str(path))


def _checked(colors: list[RGB], source: str) -> list[RGB]:
    if not colors:
        raise PixelArtError(f"palette {source} has no colours")
    if len(colors) > _MAX_PALETTE_COLORS:
        raise PixelArtError(f"palette {source} has {len(colors)} colours; at most {_MAX_PALETTE_COLORS} are allowed")
    # Duplicates would only make "nearest colour" ties; keep the first occurrence.
    return list(dict.fromkeys(colors))


def _parse_hex(text: str, source: str) -> list[RGB]:
    colors: list[RGB] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            colors.append(hex_to_rgb(line))
        except ValueError as exc:
            raise PixelArtError(
                f"malformed palette {source}, line {number}: expected RRGGBB, got {line.strip()!r}"
            ) from exc
    return _checked(colors, source)


def _parse_gpl(text: str, source: str) -> list[RGB]:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "GIMP Palette":
        raise PixelArtError(f"malformed palette {source}: a .gpl file must start with 'GIMP Palette'")
    colors: list[RGB] = []
    for number, line in enumerate(lines[1:], start=2):
        stripped = line.strip()
        # Header lines ("Name: ...", "Columns: ...") and comments carry no colours.
        if not stripped or stripped.startswith("#") or ":" in stripped.split()[0]:
            continue
        parts = stripped.split()
        try:
            rgb = (int(parts[0]), int(parts[1]), int(parts[2]))
        except (ValueError, IndexError) as exc:
            raise PixelArtError(f"malformed palette {source}, line {number}: expected 'R G B [name]'") from exc
        if not all(0 <= v <= 255 for v in rgb):
            raise PixelArtError(f"malformed palette {source}, line {number}: values must be 0..255")
        colors.append(rgb)
    return _checked(colors, source)


def format_hex(colors: list[RGB]) -> str:
    """Lospec ``.hex``: one lowercase RRGGBB a line."""
    return "".join(rgb_to_hex(c)[1:].lower() + "\n" for c in colors)


def format_gpl(colors: list[RGB], name: str) -> str:
    """GIMP ``.gpl`` palette."""
    lines = ["GIMP Palette", f"Name: {name}", f"Columns: {min(len(colors), 16)}", "#"]
    lines += [f"{r:3d} {g:3d} {b:3d}\t{rgb_to_hex((r, g, b))}" for r, g, b in colors]
    return "\n".join(lines) + "\n"
