"""``pixelforge pixelate``: true pixel art from any image. The top-level CLI calls ``register``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from .errors import PixelArtError
from .options import PixelOptions
from .pipeline import load_image, pixelate

EXIT_OK = 0
EXIT_WRITE_FAILED = 1
EXIT_BAD_INPUT = 2


def _colors(text: str) -> int | None:
    if text == "auto":
        return None
    try:
        return int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number of colours or 'auto', got {text!r}") from exc


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``pixelate`` subcommand to the top-level parser."""
    parser = subparsers.add_parser(
        "pixelate",
        help="turn an image of pixel art into true pixel art (1× sprite, palette, transparency)",
        description="Detect the pixel grid, take one colour per cell, limit the palette, remove the background, "
        "and write IN-pixel.png (1×), IN-pixel@Nx.png, IN-pixel.gpl, IN-pixel.hex and IN-pixel.json.",
    )
    parser.add_argument("input", type=Path, metavar="IN", help="the image (PNG, JPEG, WebP, ...)")
    parser.add_argument("--pitch", type=float, help="image pixels per art pixel, if known (fractional allowed)")
    parser.add_argument("--expected-pitch", type=float, help="search for the pitch near this value")
    parser.add_argument(
        "--uniform-grid",
        action="store_true",
        help="one uniform grid, never cell boundaries fitted per column and row (for grids that drift)",
    )
    colors = parser.add_mutually_exclusive_group()
    colors.add_argument("--colors", type=_colors, default=16, metavar="K", help="colour budget, or 'auto' (16)")
    colors.add_argument(
        "--palette", metavar="NAME|FILE", help="pico-8, db16, db32, endesga-32, gameboy, slso8, or a .hex/.gpl file"
    )
    parser.add_argument("--dither", choices=["none", "ordered"], default="none", help="default: none")
    parser.add_argument("--no-background-removal", action="store_true", help="keep the background opaque")
    parser.add_argument(
        "--remove-enclosed",
        action="store_true",
        help="also remove background-coloured regions inside the sprite (a ring's hole); off: they are art",
    )
    parser.add_argument("--background-tolerance", type=float, default=12.0, metavar="ΔE", help="default: 12")
    parser.add_argument("--outline", metavar="#RRGGBB", help="draw a 1-px outline in this colour")
    parser.add_argument(
        "--upscale", type=int, default=0, metavar="N", help="factor of the upscaled copy (default: the pitch)"
    )
    parser.add_argument("--already-1x", action="store_true", help="the image is already one pixel per art pixel")
    parser.add_argument("--out", type=Path, metavar="DIR", help="output directory (default: next to IN)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary instead of the paths")
    parser.set_defaults(handler=cmd_pixelate)


def cmd_pixelate(args: argparse.Namespace) -> int:
    """Run the command; bad input is one line on stderr and exit code 2, never a traceback."""
    try:
        options = PixelOptions(
            pitch=args.pitch,
            expected_pitch=args.expected_pitch,
            adaptive_grid=not args.uniform_grid,
            colors=args.colors,
            palette=args.palette,
            dither=args.dither,
            remove_background=not args.no_background_removal,
            remove_enclosed=args.remove_enclosed,
            background_tolerance=args.background_tolerance,
            outline=args.outline,
            upscale=args.upscale,
        )
        result = pixelate(load_image(args.input), options, already_1x=args.already_1x)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        print(f"pixelforge: invalid --{field.replace('_', '-')}: {first['msg']}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except PixelArtError as exc:
        print(f"pixelforge: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    out_dir = args.out if args.out is not None else args.input.parent
    try:
        paths = result.write(out_dir, f"{args.input.stem}-pixel")
    except OSError as exc:
        print(f"pixelforge: cannot write to {out_dir}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_WRITE_FAILED
    if args.json:
        summary = {"outputs": {k: str(v) for k, v in paths.items()}, "manifest": result.manifest.model_dump()}
        print(json.dumps(summary, indent=2))
    else:
        for path in paths.values():
            print(path)
    return EXIT_OK
