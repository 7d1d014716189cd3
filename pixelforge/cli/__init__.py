"""Command line: ``pixelforge serve | worker | generate | models | mcp | pixelate``.

Bad input exits with code 2 and one line on stderr; an interrupted generation exits with 130
(the shell's code for Ctrl+C) after keeping every finished image. Modules are imported by the command
that needs them: ``generate`` against a running server never imports torch.

This module holds the parser and the ``serve``, ``worker`` and ``models`` commands; ``generate.py`` (generate, in
process or through a server), ``client.py`` (the thin HTTP + SSE client, standard library only),
``progress.py`` (the progress bar), ``queue.py`` (the queue verbs against a server), ``mcp.py`` (``pixelforge
mcp``: MCP on stdio) and ``common.py`` (exit codes, settings and runtime from the options) do the rest.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pixelforge import __version__
from pixelforge.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    runtime_for,
    served_url,
    settings_from,
)
from pixelforge.cli.generate import cmd_generate
from pixelforge.cli.mcp import add_mcp
from pixelforge.cli.queue import register as register_queue

if TYPE_CHECKING:
    from pixelforge.config import Settings

# Every option's help ends with its default; argparse fills %(default)s.
DEFAULT = " (default: %(default)s)"


def _key_value(text: str) -> tuple[str, str]:
    name, sep, key = text.partition("=")
    if not sep or not name or not key:
        raise argparse.ArgumentTypeError(f"expected NAME=KEY, got {text!r}")
    return name, key


def _add_engine_options(parser: argparse.ArgumentParser, title: str) -> None:
    parser.add_argument("--model", help="preset name, local pipeline directory or cached repo id (default: sprite, "
                        "or $PIXELFORGE_MODEL)")
    engine = parser.add_argument_group(title)
    engine.add_argument("--device", help="auto, cpu, cuda, cuda:1 or mps (default: auto)")
    engine.add_argument("--dtype", choices=["auto", "float32", "float16", "bfloat16"], help="weights dtype "
                        "(default: auto)")
    engine.add_argument("--offload", choices=["none", "model", "sequential"], help="diffusers CPU offload "
                        "(default: none)")
    engine.add_argument("--debug-steps", action="store_true", help="log every step's callback data")


def _add_queue_policy(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--queue-policy", choices=["fair", "fifo"], help="fair: identities with queued tasks take "
                        "turns; fifo: first in, first out (default: fair, or $PIXELFORGE_QUEUE_POLICY; in "
                        "distributed mode give every server and worker the same)")


# --- serve --------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    from pixelforge.backends.presets import ModelNotFound, resolve_model
    from pixelforge.listen_socket import PortUnavailable, listen_socket
    from pixelforge.server.app import create_app, serve

    extra: dict[str, Any] = {}
    if args.api_key:
        extra["api_keys"] = dict(args.api_key)
    if args.admin_key:
        extra["admin_keys"] = dict(args.admin_key)
    if args.split_batches:
        if args.redis is None:
            raise UsageError("--split-batches needs --redis: only a distributed deployment has several workers")
        extra["split_batches"] = True
    settings = settings_from(args, **extra)
    try:
        resolve_model(settings.model)
    except ModelNotFound as exc:
        raise UsageError(f"{exc}. See `pixelforge models`, or pass --model DIR of a local diffusers pipeline") from exc
    try:
        sock = listen_socket(settings.host, settings.port)
    except PortUnavailable as exc:
        raise UsageError(str(exc)) from exc
    with sock:
        if settings.redis_url is not None:
            runtime = _connected(_distributed().ApiRuntime, settings)
        else:
            runtime = runtime_for(settings, url=served_url(settings.host, sock.getsockname()[1]))
        serve(create_app(runtime), settings.host, settings.port, sock)
    return EXIT_OK


def _distributed() -> Any:
    """The distributed-mode module, or a usage error naming the extra when the Redis client is missing."""
    try:
        import pixelforge.distributed
    except ModuleNotFoundError as exc:
        if exc.name != "redis":
            raise
        raise UsageError(
            "distributed mode needs the Redis client: pip install redis (the project's 'redis' extra)"
        ) from exc
    return pixelforge.distributed


def _connected(make: Any, *args: Any) -> Any:
    """``make(*args)``, with a Redis that cannot be reached, or holds another schema version, said in one line."""
    from pixelforge.stores.redis.keys import CONNECTION_ERRORS
    from pixelforge.tasks.store import StoreUnavailable, StoreUnreadable

    try:
        return make(*args)
    except StoreUnreadable as exc:
        raise UsageError(str(exc)) from exc
    except (*CONNECTION_ERRORS, StoreUnavailable) as exc:
        raise UsageError(f"cannot reach Redis: {exc}") from exc
    except ValueError as exc:  # redis-py's word for a URL it cannot parse
        raise UsageError(f"invalid --redis URL: {exc}") from exc


# --- worker -------------------------------------------------------------------------------
def cmd_worker(args: argparse.Namespace) -> int:
    import signal

    from pixelforge.backends.diffusers import DeviceUnavailable
    from pixelforge.backends.presets import ModelNotFound
    from pixelforge.engine.worker import task_log

    task_log.setLevel(logging.INFO)  # one line per task, -v or not: an operator's only view of what it ran
    settings = settings_from(args)
    try:
        worker = _connected(_distributed().WorkerProcess, settings, args.worker_id)
        worker.start()
    except (ModelNotFound, DeviceUnavailable) as exc:
        raise UsageError(str(exc)) from exc
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    print(f"pixelforge worker {worker.worker_id} on {worker.backend.device} holds {settings.model}", flush=True)
    try:
        worker.wait()
    except KeyboardInterrupt:
        worker.stop()
    return EXIT_OK


# --- models -------------------------------------------------------------------------------
def cmd_models(args: argparse.Namespace) -> int:
    from pixelforge.backends.presets import list_models

    settings = settings_from(args)
    if args.words is not None:
        return _print_words(settings, args.words, args.json)
    entries = list_models(settings)
    if args.json:
        print(json.dumps([e.model_dump() for e in entries], indent=2))
        return EXIT_OK
    for entry in entries:
        mark = "yes" if entry.available else "no "
        default = " (default)" if entry.default else ""
        print(f"{entry.name:<14} available: {mark}  {entry.title}{default}")
        print(f"{'':<14} {entry.problem or entry.source}")
        print(textwrap.fill(entry.description, width=100, initial_indent=" " * 15, subsequent_indent=" " * 15))
        if entry.vocabulary is not None:
            nearest = entry.vocabulary.nearest_words
            more = f" (and reads {nearest:,} more as the nearest one it knows)" if nearest else ""
            print(f"{'':<14} knows {entry.vocabulary.words:,} words{more}: see `pixelforge models --words PROMPT`")
    return EXIT_OK


def _print_words(settings: Settings, prompt: str, as_json: bool) -> int:
    """How the default model (or --model) reads a prompt, word by word."""
    from pixelforge.backends.presets import ModelNotFound, prompt_words
    from pixelforge.backends.vocabulary import ReadAs

    try:
        reading = prompt_words(settings, settings.model, prompt)
    except ModelNotFound as exc:
        raise UsageError(f"{exc}. See `pixelforge models`") from exc
    if as_json:
        print(reading.model_dump_json(indent=2))
        return EXIT_OK
    if reading.vocabulary is None:
        print(f"{reading.model} reads any text: every word of the prompt reaches it")
        return EXIT_OK
    shown = {ReadAs.KNOWN: "known", ReadAs.PLURAL: "known (plural of {})", ReadAs.NEAREST: "read as '{}'",
             ReadAs.UNKNOWN: "not known: ignored"}
    for word in reading.words:
        print(f"{word.word:<16} {shown[word.read_as].format(word.known_word)}")
    if not reading.words:
        print("no word the model reads (only function words)")
    return EXIT_OK


# --- parser -------------------------------------------------------------------------------
def _add_generate(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    generate = commands.add_parser(
        "generate",
        help="generate images from a prompt",
        description="Generate images from a prompt. With a `pixelforge serve` running on this machine (or "
        "--server URL) the task runs there and this command is a thin client that starts at once; otherwise the "
        "engine runs in this process. Prints one path per finished image; Ctrl+C interrupts the task.",
    )
    generate.add_argument("prompt", help="what to draw")
    generate.add_argument("--negative-prompt", default="", help="what to avoid (default: none)")
    generate.add_argument("--lora", help="a LoRA .safetensors file (default: none)")
    generate.add_argument("--lora-scale", type=float, default=1.0, help="strength of the LoRA" + DEFAULT)
    generate.add_argument("--steps", type=int, help="denoising steps per image (default: the model's)")
    generate.add_argument("--cfg-scale", type=float, help="classifier-free guidance scale (default: the model's)")
    generate.add_argument("--seed", type=int, default=-1, help="-1 picks one at random; image k of job j uses "
                          "seed + j·batch_size + k" + DEFAULT)
    per_model = ("per model: the sprite model draws 32 and scales up by a whole factor (32, 64, 96…); "
                 "qwen-image and other pipelines take multiples of 16 (default: the model's, 32 for sprite)")
    generate.add_argument("--width", type=int, help=per_model)
    generate.add_argument("--height", type=int, help=per_model)
    generate.add_argument("--batch-count", type=int, default=1, help="jobs, one after another" + DEFAULT)
    generate.add_argument("--forever", action="store_true", help="generate image after image until stopped (Ctrl+C; "
                          "the server's max_images_per_task ends it too); same as --batch-count 0")
    generate.add_argument("--batch-size", type=int, default=1, help="images per job, made together" + DEFAULT)
    generate.add_argument("--timeout", type=float, help="stop after this many seconds of the whole command, time "
                          "waiting in the queue included; exits 1 (default: no limit)")
    generate.add_argument("--stop-after-image", action="store_true", help="the first Ctrl+C lets the current "
                          "image finish (it is kept) and then stops; a second one stops at once (default: the first "
                          "stops at once)")
    generate.add_argument("--callback-url", metavar="URL", help="with a server: it POSTs the finished task here, "
                          "signed (the host must be in its callback_hosts setting; default: no notice)")
    img2img = generate.add_argument_group("img2img and inpainting")
    img2img.add_argument("--init-image", metavar="PATH", help="start from this image (PNG, JPEG, WebP, GIF, BMP) "
                         "instead of noise; a photo is cropped to the model's shape, never squashed (to make pixel "
                         "art of a photo as it is, use `pixelforge pixelate`) (default: none, txt2img)")
    img2img.add_argument("--strength", type=float, metavar="S", help="denoising strength 0..1 with --init-image: "
                         "0 returns it, 1 ignores it (default: 0.75)")
    img2img.add_argument("--mask", metavar="PATH", help="inpaint: repaint where this mask (the init image's size) is "
                         "white (default: none, the whole image)")
    pixel = generate.add_argument_group("pixel-art stage (default: on for models that paint fake pixel art)")
    pixel.add_argument("--palette", metavar="NAME|FILE", help="built-in name or .hex/.gpl file (default: adaptive)")
    pixel.add_argument("--colors", type=int, metavar="K", help="colour budget of an adaptive palette (default: 16)")
    pixel.add_argument("--pixel-pitch", type=float, metavar="P", help="output pixels per art pixel, if known "
                       "(default: detected)")
    pixel.add_argument("--no-pixel", action="store_true", help="keep the model's image as it is")
    generate.add_argument("--out", default="out", help="directory for the PNGs" + DEFAULT)
    generate.add_argument("--json", action="store_true", help="print a JSON summary at the end")
    generate.add_argument("--quiet", action="store_true", help="no progress bar")
    where = generate.add_argument_group("where it runs")
    where.add_argument("--server", metavar="URL", help="a pixelforge server to run the task on (default: "
                       "$PIXELFORGE_SERVER, else a local `pixelforge serve` when one answers)")
    where.add_argument("--local", action="store_true", help="run in this process even when a server is running")
    _add_engine_options(generate, "engine (any of these runs the task in this process, not on a server)")
    generate.set_defaults(handler=cmd_generate)


def build_parser(with_pixelate: bool = True) -> argparse.ArgumentParser:
    """The whole command line. ``with_pixelate=False`` leaves out ``pixelate``, whose module imports NumPy and
    SciPy (a second and more): main() only adds it when it can be the command."""
    parser = argparse.ArgumentParser(prog="pixelforge", description="Pixel-art generation you can stop at any moment.")
    parser.add_argument("--version", action="version", version=f"pixelforge {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the engine does")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the web UI and the HTTP API (native + AUTOMATIC1111)")
    serve.add_argument("--host", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: 7860)")
    serve.add_argument("--data-dir", type=Path, help="tasks database and images (default: ./data)")
    serve.add_argument("--api-key", action="append", type=_key_value, metavar="NAME=KEY",
                       help="an API key; repeatable (default: none, identities by client id)")
    serve.add_argument("--admin-key", action="append", type=_key_value, metavar="NAME=KEY",
                       help="an admin API key; repeatable (default: none)")
    serve.add_argument("--redis", metavar="URL", help="distributed mode: queue tasks on this Redis server "
                       "(redis://host:port/0) for `pixelforge worker`s to run; this server runs none (default: "
                       "one process with SQLite)")
    serve.add_argument("--split-batches", action="store_true", default=None,
                       help="with --redis: a batch's jobs (batch_count > 1) run on several workers at once, images "
                       "in order (default: off, one worker runs a task's jobs one after another)")
    _add_queue_policy(serve)
    _add_engine_options(serve, "engine")
    serve.set_defaults(handler=cmd_serve)

    worker = commands.add_parser(
        "worker", help="run tasks from a Redis queue on one device (distributed mode)",
        description="One worker of a distributed deployment: claims tasks that `pixelforge serve --redis URL` "
        "queued, on one device, and writes images under the data dir every server and worker shares.")
    worker.add_argument("--redis", metavar="URL", required=True,
                        help="the deployment's Redis server, redis://host:port/0 (required: no default)")
    worker.add_argument("--data-dir", type=Path, help="the shared data dir (default: ./data)")
    worker.add_argument("--worker-id", help="its name in `GET /api/v1/workers` (default: host-pid-random)")
    _add_queue_policy(worker)
    _add_engine_options(worker, "engine")
    worker.set_defaults(handler=cmd_worker)

    _add_generate(commands)

    register_queue(commands)

    models = commands.add_parser("models", help="list model presets and whether their weights are here")
    models.add_argument("--json", action="store_true", help="print JSON")
    models.add_argument("--model", help="also check this model; with --words, the model to read the prompt")
    models.add_argument("--words", metavar="PROMPT",
                        help="tell how the model (the default one, or --model) reads PROMPT, word by word")
    models.set_defaults(handler=cmd_models)
    add_mcp(commands)

    if with_pixelate:
        from pixelforge.pixelart.cli import register as register_pixelate

        register_pixelate(commands)
    return parser


def _command_of(argv: list[str]) -> str | None:
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = _command_of(argv)
    parser = build_parser(with_pixelate=command not in ("generate", "serve", "worker", "models", "mcp", "queue"))
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
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
    except BrokenPipeError:
        # The reader went away (`pixelforge generate ... | head`): nothing left to say, and no traceback.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Python flushes stdout at exit; give it somewhere
        return EXIT_FAILED

