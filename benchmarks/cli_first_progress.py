"""CLI start-up: time from launching `pixelforge generate` to its first progress line and to its first image,
as a thin client of a running server and in-process (`--local`, which imports torch and loads the model).

Runs a `pixelforge serve` with the bundled sprite model in its own process on a free loopback port, warms it
with one task (the model loads once per server), then launches the CLI under a pseudo-terminal (so that the
progress bar is drawn, as a person sees it) and timestamps what it writes:

* first bar: the first progress line on the terminal (the task queued or started on the server);
* first step: the first line that shows a denoising step;
* first image: the first path printed.

    .venv/bin/python benchmarks/cli_first_progress.py [--runs 10] [--local-runs 3]

Prints a table and exits 0.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

from pixelforge.testing.percentiles import percentile
from pixelforge.testing.serve_process import start_serve

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PIXELFORGE_SERVER": "none"}
BAR = re.compile(rb"\d+% \[")
STEP = re.compile(rb"step \d+/")


def timed_run(args: list[str], out: Path) -> dict[str, float]:
    """Launch the CLI with its stdout and stderr on a pty; seconds from launch to each milestone."""
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # an 80×24 terminal
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "pixelforge.cli", *args, "--out", str(out)], env=ENV,
                               stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary, close_fds=True)
    os.close(secondary)
    seen: dict[str, float] = {}
    output = b""
    while True:
        ready, _, _ = select.select([primary], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(primary, 4096)
            except OSError:
                break  # the child closed the terminal
            if not chunk:
                break
            output += chunk
            now = time.perf_counter() - start
            for name, found in (("bar", BAR.search(output)), ("step", STEP.search(output)),
                                ("image", b".png" in output)):
                if found and name not in seen:
                    seen[name] = now
        elif process.poll() is not None:
            break
    process.wait()
    seen["total"] = time.perf_counter() - start
    os.close(primary)
    if process.returncode != 0:
        raise SystemExit(f"pixelforge generate failed ({process.returncode}): {output.decode(errors='replace')}")
    return seen


def row(name: str, runs: list[dict[str, float]]) -> str:
    cells = []
    for key in ("bar", "step", "image", "total"):
        values = sorted(run[key] for run in runs)
        cells.append(f"{statistics.median(values):.3f} / {percentile(values, 95):.3f}")
    return f"| {name} | {len(runs)} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="thin-client runs (default: 10)")
    parser.add_argument("--local-runs", type=int, default=3, help="in-process runs (default: 3)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pf-cli-bench-") as tmp:
        server = start_serve(Path(tmp) / "data", env=ENV, log=Path(tmp) / "serve.log")
        url = server.url
        task = ["generate", "a red heart", "--steps", "20", "--seed", "1"]
        try:
            timed_run([*task, "--server", url], Path(tmp) / "warm")  # the server loads the model once
            thin = [timed_run([*task, "--server", url], Path(tmp) / f"thin{n}") for n in range(options.runs)]
        finally:
            server.stop()
        local = [timed_run([*task, "--local"], Path(tmp) / f"local{n}") for n in range(options.local_runs)]
    print(f"`pixelforge generate` (sprite model, 20 steps), seconds from launch, median / p95; load average "
          f"{os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs")
    print()
    print("| path | runs | first bar line | first step line | first image | exit |")
    print("|---|---|---|---|---|---|")
    print(row("thin client (`--server`, warm server)", thin))
    print(row("in process (`--local`)", local))


if __name__ == "__main__":
    main()
