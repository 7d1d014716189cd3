"""Command line: ``pixelforge serve | generate | models | pixelate``.

Bad input exits with code 2 and one line on stderr; an interrupted generation exits with 130
(the shell's code for Ctrl+C) after keeping every finished image.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pixelforge.pixelart.cli import register as register_pixelate

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad input: printed as one line, exit code 2."""


def _key_value(text: str) -> tuple[str, str]:
    name, sep, key = text.partition("=")
    if not sep or not name or not key:
        raise argparse.ArgumentTypeError(f"expected NAME=KEY, got {text!r}")
    return name, key


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="preset name, local pipeline directory or cached repo id (default: sprite)")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:1, mps")
    parser.add_argument("--dtype", choices=["auto", "float32", "float16", "bfloat16"])
    parser.add_argument("--offload", choices=["none", "model", "sequential"], help="diffusers CPU offload")
    parser.add_argument("--debug-steps", action="store_true", help="log every step's callback data")


def _settings(args: argparse.Namespace, **extra: Any):
    from pixelforge.config import Settings

    values = {
        name: getattr(args, name)
        for name in ("model", "device", "dtype", "offload", "host", "port", "data_dir")
        if getattr(args, name, None) is not None
    }
    if getattr(args, "debug_steps", False):
        values["debug_steps"] = True
    values.update(extra)
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise UsageError(_validation_message(exc)) from exc


def _runtime(settings: Any) -> Any:
    """The in-process runtime; a device this machine does not have is bad input, said in one line."""
    from pixelforge.backends.diffusers import DeviceUnavailable
    from pixelforge.runtime import Runtime

    try:
        return Runtime(settings)
    except DeviceUnavailable as exc:
        raise UsageError(str(exc)) from exc


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "input"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


# --- serve --------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    from pixelforge.backends.presets import ModelNotFound, resolve_model
    from pixelforge.server.app import create_app, serve

    extra: dict[str, Any] = {}
    if args.api_key:
        extra["api_keys"] = dict(args.api_key)
    if args.admin_key:
        extra["admin_keys"] = dict(args.admin_key)
    settings = _settings(args, **extra)
    try:
        resolve_model(settings.model)
    except ModelNotFound as exc:
        raise UsageError(f"{exc}. See `pixelforge models`, or pass --model DIR of a local diffusers pipeline") from exc
    runtime = _runtime(settings)
    serve(create_app(runtime), settings.host, settings.port)
    return EXIT_OK


# --- models -------------------------------------------------------------------------------
def cmd_models(args: argparse.Namespace) -> int:
    from pixelforge.backends.presets import list_models

    entries = list_models(_settings(args))
    if args.json:
        print(json.dumps([e.model_dump() for e in entries], indent=2))
        return EXIT_OK
    for entry in entries:
        mark = "yes" if entry.available else "no "
        default = " (default)" if entry.default else ""
        print(f"{entry.name:<14} available: {mark}  {entry.title}{default}")
        print(f"{'':<14} {entry.problem or entry.source}")
    return EXIT_OK


# --- generate -----------------------------------------------------------------------------
def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "image"


class _ProgressBar:
    """One self-rewriting stderr line: bar, percent, step, job and ETA. Silent when not a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.shown = False

    def update(self, data: dict[str, Any]) -> None:
        if not self.enabled:
            return
        from pixelforge.tasks.progress import format_eta

        fraction = float(data.get("progress", 0.0))
        filled = int(fraction * 30)
        bar = "█" * filled + "·" * (30 - filled)
        text = data.get("textinfo", "")
        line = f"\r[{bar}] {fraction * 100:5.1f}%  {text}  ETA {format_eta(data.get('eta_s'))}"
        sys.stderr.write(line[:160].ljust(100))
        sys.stderr.flush()
        self.shown = True

    def message(self, text: str) -> None:
        if self.enabled:
            sys.stderr.write(f"\r{text}".ljust(100) + "\n")

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.shown = False


def _copy_outputs(ref: Any, data_dir: Path, out_dir: Path, slug: str) -> Path:
    """Copy an image and its other outputs (upscaled copy, palette, manifest, raw) under a readable name."""
    source = data_dir / ref.path
    base = f"{slug}-{ref.seed}{'-partial' if ref.partial else ''}"
    target = out_dir / f"{base}.png"
    shutil.copyfile(source, target)
    for other in ref.files.values():
        other_path = data_dir / other
        suffix = other_path.name.removeprefix(source.stem)  # "@8x.png", ".gpl", "-raw.png", ...
        shutil.copyfile(other_path, out_dir / f"{base}{suffix}")
    return target


def cmd_generate(args: argparse.Namespace) -> int:
    from pixelforge.pixelart import PixelOptions
    from pixelforge.tasks.model import EventType, ImageRef, TaskParams
    from pixelforge.tasks.service import InvalidTask

    try:
        pixel = None
        if args.no_pixel:
            pixel = PixelOptions(enabled=False)
        elif args.palette or args.colors or args.pixel_pitch:
            pixel = PixelOptions(palette=args.palette, colors=args.colors, pitch=args.pixel_pitch)
        params = TaskParams(
            prompt=args.prompt,
            negative_prompt=args.negative_prompt,
            steps=args.steps,
            cfg_scale=args.cfg_scale,
            width=args.width,
            height=args.height,
            seed=args.seed,
            batch_count=args.batch_count,
            batch_size=args.batch_size,
            model=args.model,
            lora=args.lora,
            lora_scale=args.lora_scale,
            timeout_s=args.timeout,
            pixel=pixel,
        )
    except ValidationError as exc:
        raise UsageError(_validation_message(exc)) from exc
    out_dir = Path(args.out)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create output directory {out_dir}: {exc.strerror}") from exc
    bar = _ProgressBar(enabled=sys.stderr.isatty() and not args.quiet)
    with tempfile.TemporaryDirectory(prefix="pixelforge-") as work_dir:
        settings = _settings(args, data_dir=Path(work_dir))
        runtime = _runtime(settings)
        try:
            task = runtime.service.submit(params)
        except InvalidTask as exc:
            runtime.stop()
            raise UsageError(str(exc)) from exc
        runtime.start()
        written: list[Path] = []
        interrupted_by_user = threading.Event()

        def on_ctrl_c(_signum: int, _frame: object) -> None:
            if interrupted_by_user.is_set():
                os._exit(EXIT_INTERRUPTED)  # second Ctrl+C: leave at once
            interrupted_by_user.set()
            bar.message("Interrupting… (Ctrl+C again to quit at once)")
            # Off the signal handler: it may have interrupted the main thread inside the store.
            threading.Thread(target=runtime.service.interrupt, args=(task.id,), daemon=True).start()

        previous_handler = signal.signal(signal.SIGINT, on_ctrl_c)
        try:
            for event in runtime.service.events(task.id):
                if event.type is EventType.PROGRESS:
                    bar.update(event.data)
                elif event.type is EventType.IMAGE:
                    ref = ImageRef.model_validate(event.data)
                    target = _copy_outputs(ref, settings.data_dir, out_dir, _slug(params.prompt))
                    written.append(target)
                    bar.close()
                    if not args.json:
                        print(target, flush=True)
            final = runtime.service.get(task.id)
        finally:
            signal.signal(signal.SIGINT, previous_handler)
            runtime.stop()
    bar.close()
    if args.json:
        summary = {
            "task_id": final.id,
            "state": final.state.value,
            "stop_reason": final.stop_reason,
            "error": final.error,
            "images": [str(p) for p in written],
            "params": final.params.model_dump(),
            "info": final.info_view(),
            "stats": final.stats.model_dump() if final.stats else None,
        }
        print(json.dumps(summary, indent=2))
    if final.state.value == "failed":
        print(f"pixelforge: generation failed: {final.error}", file=sys.stderr)
        return EXIT_FAILED
    if final.state.value == "interrupted":
        if not args.json:
            print(f"pixelforge: interrupted ({final.stop_reason}); kept {len(written)} image(s)", file=sys.stderr)
        return EXIT_INTERRUPTED if interrupted_by_user.is_set() else EXIT_FAILED
    return EXIT_OK


# --- parser -------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pixelforge", description="Pixel-art generation you can stop at any moment.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the engine does")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the web UI and the HTTP API (native + AUTOMATIC1111)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--data-dir", type=Path, help="tasks database and images (default ./data)")
    serve.add_argument("--api-key", action="append", type=_key_value, metavar="NAME=KEY", help="repeatable")
    serve.add_argument("--admin-key", action="append", type=_key_value, metavar="NAME=KEY", help="repeatable")
    _add_engine_options(serve)
    serve.set_defaults(handler=cmd_serve)

    generate = commands.add_parser("generate", help="generate images from a prompt")
    generate.add_argument("prompt")
    generate.add_argument("--negative-prompt", default="")
    generate.add_argument("--lora", help="a LoRA .safetensors file")
    generate.add_argument("--lora-scale", type=float, default=1.0)
    generate.add_argument("--steps", type=int)
    generate.add_argument("--cfg-scale", type=float)
    generate.add_argument("--seed", type=int, default=-1)
    generate.add_argument("--width", type=int)
    generate.add_argument("--height", type=int)
    generate.add_argument("--batch-count", type=int, default=1)
    generate.add_argument("--batch-size", type=int, default=1)
    generate.add_argument("--timeout", type=float, help="stop automatically after this many seconds")
    pixel = generate.add_argument_group("pixel-art stage (default: on for models that paint fake pixel art)")
    pixel.add_argument("--palette", metavar="NAME|FILE", help="built-in name or .hex/.gpl file")
    pixel.add_argument("--colors", type=int, metavar="K", help="colour budget of an adaptive palette")
    pixel.add_argument("--pixel-pitch", type=float, metavar="P", help="output pixels per art pixel, if known")
    pixel.add_argument("--no-pixel", action="store_true", help="keep the model's image as it is")
    generate.add_argument("--out", default="out", help="directory for the PNGs (default ./out)")
    generate.add_argument("--json", action="store_true", help="print a JSON summary at the end")
    generate.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_engine_options(generate)
    generate.set_defaults(handler=cmd_generate)

    models = commands.add_parser("models", help="list model presets and whether their weights are here")
    models.add_argument("--json", action="store_true")
    models.add_argument("--model", help="also check this model")
    models.set_defaults(handler=cmd_models)

    register_pixelate(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose or getattr(args, "debug_steps", False) else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.handler(args)
    except UsageError as exc:
        print(f"pixelforge: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
