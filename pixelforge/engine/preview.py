"""Live previews: a step's x0 estimate, turned into a small image off the denoising thread.

The model reports its estimate of the clean image (``x0``) after every step (the diffusers models take it
from the scheduler: ``backends/x0.py``); the runner hands it to :class:`PreviewEncoder`, whose thread renders
it with the model's cheap ``preview`` and publishes it, so the sampler never waits.
"""

from __future__ import annotations

import contextlib
import io
import logging
import queue
import threading
import time
from collections.abc import Callable

from PIL import Image

log = logging.getLogger(__name__)


def encode_image(image: Image.Image, image_format: str) -> tuple[bytes, str]:
    """Encode a preview; returns (bytes, media type)."""
    buffer = io.BytesIO()
    fmt = image_format.lower()
    if fmt in ("jpeg", "jpg"):
        image.convert("RGB").save(buffer, "JPEG", quality=85)
        return buffer.getvalue(), "image/jpeg"
    if fmt == "webp":
        image.save(buffer, "WEBP", quality=85)
        return buffer.getvalue(), "image/webp"
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue(), "image/png"


PreviewJob = tuple[int, Callable[[], Image.Image | None], Callable[[Image.Image], None]]

# At most this many previews per second, whatever the step cadence. Publishing one (PNG encode, a
# SQLite write, an event to every subscriber) is cheap, but it runs on another Python thread, and each
# GIL hand-off can cost the sampler up to the 5 ms switch interval: on a 2-core CPU with 10 ms steps,
# a preview every 2 steps slowed denoising by 8-20 %. No UI redraws faster than a few times a second.
PREVIEW_MIN_INTERVAL_S = 0.25


class PreviewEncoder:
    """One background thread that renders and publishes previews, so the sampler never waits.

    Only the newest pending preview matters: if the encoder is still busy when the next one is
    submitted, the older one is dropped instead of queueing up behind it, and a preview submitted
    less than ``min_interval_s`` after the last accepted one is dropped too. When a job ends,
    :meth:`cancel_pending` drops what has not been published yet, so a preview of an unfinished
    estimate never lands after the job's final image (or after the task's terminal event).
    """

    def __init__(self, min_interval_s: float = PREVIEW_MIN_INTERVAL_S) -> None:
        self.min_interval_s = min_interval_s
        self._last_accepted = -float("inf")
        self._slot: queue.Queue[PreviewJob | None] = queue.Queue(maxsize=1)
        # Held while a preview is published; a cancel takes it too, so a publish is either over
        # before the cancel returns or sees the new generation and is skipped.
        self._publish_lock = threading.Lock()
        self._generation = 0
        self._thread = threading.Thread(target=self._run, name="pixelforge-preview", daemon=True)
        self._thread.start()

    def submit(self, render: Callable[[], Image.Image | None], publish: Callable[[Image.Image], None]) -> bool:
        """Queue a preview; False when it was dropped because the last one is too recent."""
        now = time.monotonic()
        if now - self._last_accepted < self.min_interval_s:
            return False
        self._last_accepted = now
        with contextlib.suppress(queue.Empty):
            self._slot.get_nowait()  # drop the stale one
        self._slot.put((self._generation, render, publish))
        return True

    def cancel_pending(self) -> None:
        """Drop every preview not yet published; on return none of them will be.

        A render already under way finishes on the encoder thread, but its result is thrown away.
        """
        with self._publish_lock:
            self._generation += 1
            self._last_accepted = -float("inf")  # the next job's first preview comes at once
            with contextlib.suppress(queue.Empty):
                self._slot.get_nowait()

    def _run(self) -> None:
        while True:
            job = self._slot.get()
            if job is None:
                return
            generation, render, publish = job
            try:
                image = render() if generation == self._generation else None
                if image is not None:
                    with self._publish_lock:
                        if generation == self._generation:
                            publish(image)
            except Exception:  # a broken preview must never take the encoder (or the task) down
                log.exception("preview failed")

    def close(self) -> None:
        self._slot.put(None)
        self._thread.join(timeout=5)
