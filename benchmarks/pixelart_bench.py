"""Pixel-art stage on the full synthetic corpus: per pitch, with the pitch unknown and known; per sprite kind
(white interiors, white bodies, rings, transparent inputs, pale sprites) and on drifting grids, and over all of
those images with the default options; plus the time for a 1024² input.
Prints Markdown tables; exits 0.

    .venv/bin/python benchmarks/pixelart_bench.py [--sprites 8] [--kind-sprites 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from pixelforge.pixelart import PixelOptions, pixelate
from pixelforge.pixelart.corpus import JITTER, KINDS, PITCHES, CorpusItem, corpus, make_sprite, render
from pixelforge.pixelart.evaluate import Score, score

BUDGET = 16


@dataclass(frozen=True)
class Run:
    pitch: float
    jpeg: bool
    auto: Score
    known: Score
    seconds: float  # wall time of the pitch-unknown run
    pixels: int


def _timed(image, options: PixelOptions):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = pixelate(image, options)
    return result, time.perf_counter() - start


def evaluate(items: list[CorpusItem], **options: object) -> list[Run]:
    runs = []
    for item in items:
        auto, seconds = _timed(item.image, PixelOptions(colors=BUDGET, **options))
        known = pixelate(item.image, PixelOptions(colors=BUDGET, pitch=item.pitch, **options))
        runs.append(
            Run(
                pitch=item.pitch,
                jpeg=item.jpeg_quality is not None,
                auto=score(item, auto.sprite, auto.manifest.pitch),
                known=score(item, known.sprite, item.pitch),
                seconds=seconds,
                pixels=item.image.width * item.image.height,
            )
        )
    return runs


def _row(label: str, runs: list[Run]) -> str:
    def mean(values: list[float]) -> float:
        return float(np.mean(values))

    exact_auto = sum(r.auto.size_exact for r in runs)
    exact_known = sum(r.known.size_exact for r in runs)
    cells = [
        label,
        str(len(runs)),
        f"{exact_auto}/{len(runs)}",
        f"{exact_known}/{len(runs)}",
        f"{100 * statistics.median(r.auto.pitch_error for r in runs):.3f} %",
        f"{mean([r.auto.cell_accuracy for r in runs]):.3f}",
        f"{mean([r.known.cell_accuracy for r in runs]):.3f}",
        f"{mean([r.auto.detail_retention for r in runs]):.3f}",
        f"{mean([r.known.detail_retention for r in runs]):.3f}",
        f"{statistics.median(r.known.colors for r in runs):g}",
        f"{1000 * statistics.median(r.seconds for r in runs):.0f} ms",
        f"{statistics.median(r.pixels for r in runs) / 1e6:.2f} MP",
    ]
    return "| " + " | ".join(cells) + " |"


def quality_table(runs: list[Run]) -> str:
    header = (
        "| pitch | images | size exact (auto) | size exact (known) | median pitch error (auto) | cell acc (auto) "
        "| cell acc (known) | 1-px details (auto) | 1-px details (known) | colours (median) | time/image (median) "
        "| image size (median) |"
    )
    lines = [header, "|" + "---|" * 12]
    by_pitch: dict[float, list[Run]] = defaultdict(list)
    for run in runs:
        by_pitch[run.pitch].append(run)
    lines += [_row(f"{pitch:g}", by_pitch[pitch]) for pitch in PITCHES]
    lines.append(_row("PNG only", [r for r in runs if not r.jpeg]))
    lines.append(_row("JPEG only", [r for r in runs if r.jpeg]))
    lines.append(_row("**all**", runs))
    return "\n".join(lines)


def _kind_row(label: str, runs: list[Run]) -> str:
    cells = [
        label,
        str(len(runs)),
        f"{sum(r.auto.size_exact for r in runs)}/{len(runs)}",
        f"{sum(r.known.size_exact for r in runs)}/{len(runs)}",
        f"{np.mean([r.auto.cell_accuracy for r in runs]):.3f}",
        f"{np.mean([r.known.cell_accuracy for r in runs]):.3f}",
        f"{min(r.known.cell_accuracy for r in runs):.3f}",
    ]
    return "| " + " | ".join(cells) + " |"


def kinds_table(sprites: int, seed: int, standard: list[Run]) -> str:
    """One row per sprite kind and for drifting grids, all pitches, PNG and JPEG (transparent inputs: PNG)."""
    header = (
        "| corpus | images | size exact (auto) | size exact (known) | cell acc (auto) | cell acc (known) "
        "| worst cell acc (known) |"
    )
    lines = [header, "|" + "---|" * 7, _kind_row("standard (the table above)", standard)]
    defaults = list(standard)  # every image once, with the default options
    for kind in KINDS[1:]:
        items = corpus(sprites=sprites, seed=seed, kind=kind)
        runs = evaluate(items)
        defaults += runs
        if kind == "ring":
            lines.append(_kind_row("ring, defaults (hole kept)", runs))
            lines.append(_kind_row("ring, `remove_enclosed`", evaluate(items, remove_enclosed=True)))
        else:
            lines.append(_kind_row(kind, runs))
    drifting = corpus(sprites=sprites, seed=seed, jitter=JITTER)
    label = f"drifting grid (±{100 * JITTER:g} %, offset row and column)"
    runs = evaluate(drifting)
    defaults += runs
    lines.append(_kind_row(f"{label}, per-line fit", runs))
    lines.append(_kind_row(f"{label}, uniform grid (`--uniform-grid`)", evaluate(drifting, adaptive_grid=False)))
    lines.append(_kind_row("**every image above, default options**", defaults))
    return "\n".join(lines)


def timing_table(repeats: int = 7) -> str:
    """Wall and CPU time of ``pixelate`` on 1024² inputs (128 cells at pitch 8; 32 cells at pitch 32)."""
    lines = ["| input | pitch | wall median | wall min | CPU median |", "|---|---|---|---|---|"]
    for cells, pitch in ((128, 8.0), (32, 32.0), (256, 4.0)):
        rng = np.random.default_rng(cells)
        image = render(
            make_sprite(rng, cells), pitch, (1.3, 2.1), rng, blur=1.0, cell_noise=3, pixel_noise=4, jpeg_quality=None
        )
        for options, label in ((PixelOptions(), "unknown"), (PixelOptions(pitch=pitch), "known")):
            pixelate(image, options)  # warm-up: imports, allocator
            walls, cpus = [], []
            for _ in range(repeats):
                wall, cpu = time.perf_counter(), time.process_time()
                pixelate(image, options)
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
            lines.append(
                f"| {image.width}×{image.height}, pitch {label} | {pitch:g} | {1000 * statistics.median(walls):.0f} ms "
                f"| {1000 * min(walls):.0f} ms | {1000 * statistics.median(cpus):.0f} ms |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sprites", type=int, default=8)
    parser.add_argument("--kind-sprites", type=int, default=3, help="sprites per kind in the second table")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"# pixelart benchmark — {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(
        f"\nCorpus: {args.sprites} sprites × pitches {', '.join(f'{p:g}' for p in PITCHES)} × PNG/JPEG, "
        f"seed {args.seed}, budget {BUDGET} colours. auto = pitch unknown; known = true pitch given.\n"
    )
    start = time.perf_counter()
    runs = evaluate(corpus(sprites=args.sprites, seed=args.seed))
    print(quality_table(runs))
    print(f"\n({len(runs)} images, {time.perf_counter() - start:.0f} s including rendering)\n")
    print(
        f"Sprite kinds and drifting grids: {args.kind_sprites} sprites per kind × the same pitches × PNG/JPEG "
        "(transparent inputs PNG only), same budget.\n"
    )
    start = time.perf_counter()
    print(kinds_table(args.kind_sprites, args.seed, runs))
    print(f"\n({time.perf_counter() - start:.0f} s including rendering)\n")
    print(timing_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
