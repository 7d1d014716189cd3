"""The CLI's progress bar: one line on stderr, redrawn in place, never wider than the terminal.

Plain standard library, so that the thin client (``pixelforge generate`` against a running server) draws it
without importing anything heavy. Works from a task's progress data (the ``progress`` event's payload, the
same for the in-process engine and the HTTP event stream).
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any, TextIO

# Erase from the cursor to the end of the line: the bar is redrawn over itself without padding, so a
# shorter line leaves nothing of a longer one behind.
CLEAR_LINE = "\r\x1b[K"
BAR_MAX = 30
BAR_MIN = 8

PHASE_TEXT = {
    "queued": "waiting in the queue",
    "load": "loading the model",
    "encode": "encoding the prompt",
    "decode": "decoding",
    "postprocess": "saving",
}


def format_eta(seconds: float | None) -> str:
    """HH:MM:SS above an hour, MM:SS above a minute, else ``Ns``; ``--`` when unknown."""
    if seconds is None:
        return "--"
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours:02d}:{minutes:02d}:{secs:02d}"
    if minutes:
        return f"{minutes:02d}:{secs:02d}"
    return f"{secs}s"


def describe(data: dict[str, Any]) -> str:
    """What the task is doing, for the right of the bar: step, job, phase, ETA once it is known."""
    parts = []
    phase = data.get("phase", "")
    if phase == "queued" and data.get("position"):
        parts.append(f"in queue {data['position']}/{data.get('size') or data['position']}")
    elif phase == "denoise" and data.get("steps"):
        parts.append(f"step {min(data.get('step', 0), data['steps'])}/{data['steps']}")
    elif phase in PHASE_TEXT:
        parts.append(PHASE_TEXT[phase])
    job_count = data.get("job_count", 1)
    if job_count > 1 and phase != "done":
        parts.append(f"job {min(data.get('job_no', 0) + 1, job_count)}/{job_count}")
    # The server gives no ETA until it has measured a step beyond the warm-up one.
    if data.get("eta_s") is not None and phase != "done":
        parts.append(f"ETA {format_eta(data['eta_s'])}")
    return ", ".join(parts)


def render(fraction: float, text: str, columns: int) -> str:
    """`` 42% [████████······] step 3/8, ETA 4s`` fitted to ``columns`` (the last column stays free: writing
    into it makes some terminals wrap)."""
    width = max(20, columns) - 1
    percent = f"{min(100, max(0, int(fraction * 100))):3d}%"
    room = width - len(percent) - 3
    bar_width = max(BAR_MIN, min(BAR_MAX, room - len(text) - 1)) if text else max(BAR_MIN, min(BAR_MAX, room))
    filled = round(min(1.0, max(0.0, fraction)) * bar_width)
    line = f"{percent} [{'█' * filled}{'·' * (bar_width - filled)}]"
    if text:
        line = f"{line} {text}"
    return line if len(line) <= width else line[: width - 1] + "…"


class ProgressBar:
    """The bar on ``stream`` (stderr); silent when the stream is not a terminal."""

    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.shown = False
        self.last: tuple[float, str] | None = None

    def update(self, data: dict[str, Any]) -> None:
        """Redraw from a progress event's data (queue events give ``position`` and ``size``)."""
        self.last = (float(data.get("progress", 0.0)), describe(data))
        self._draw()

    def _draw(self) -> None:
        if not self.enabled or self.last is None:
            return
        self.stream.write(CLEAR_LINE + render(*self.last, self._columns()))
        self.stream.flush()
        self.shown = True

    def _columns(self) -> int:
        """The width of the terminal the bar is drawn on (asked every time: the window may be resized)."""
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, OSError, ValueError):
            columns = 0
        # 0: a terminal that does not know its size (a bare pty); then $COLUMNS or 80.
        return columns or shutil.get_terminal_size((80, 24)).columns

    def above(self, write: Any) -> None:
        """Print something (a path on stdout) on a clean line, then put the bar back under it."""
        if self.shown:
            self.stream.write(CLEAR_LINE)
            self.stream.flush()
        write()
        self._draw()

    def message(self, text: str) -> None:
        self.above(lambda: print(text, file=self.stream, flush=True))

    def finish(self, text: str, fraction: float | None = None) -> None:
        """The final line: the bar at ``fraction`` (1.0 when the task completed; else where it stopped) with
        ``text`` ("done", "interrupted"), then a newline. Nothing when no bar was ever drawn."""
        if not self.enabled or self.last is None:
            return
        self.last = (self.last[0] if fraction is None else fraction, text)
        self._draw()
        self.stream.write("\n")
        self.stream.flush()
        self.shown = False
