"""End the process at a named write boundary of a task's life, as a ``kill -9`` landing exactly there would.

For the crash-safety tests (``tests/integration/test_crash_safety.py``)::

    PIXELFORGE_CRASH_AT=image:2 python -m pixelforge.testing.crash serve --data-dir ...

runs the ``pixelforge`` command line, and the process ends with ``os._exit(CRASH_EXIT)`` (no cleanup,
no flush, no reply to the request in flight) right after the N-th write of that kind in this process
is durable. The boundaries, in the order of a task's life:

- ``create``: a task and its ``queued`` event are stored (the submitter never gets its answer);
- ``claim``: a worker has moved a task to ``running`` (before its ``started`` event);
- ``started``: the ``started`` event is stored;
- ``png``: a finished image's file is in place, not yet recorded in the task;
- ``image``: the image is recorded with its ``image`` event;
- ``finish``: the terminal state and event are stored (before the bus tells anyone);
- ``cancel``: a queued task is cancelled, with its event (before the bus tells anyone).

The production code has no such switch: this launcher wraps the store's and the image writer's
functions before the command line builds anything.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from pixelforge.engine import postprocess
from pixelforge.stores.sqlite import SQLiteTaskStore
from pixelforge.tasks.model import EventType

CRASH_EXIT = 86  # tells the test the process ended at the boundary, not of anything else


def _always(result: Any) -> bool:
    return True


# boundary -> (where the function lives, its name, which of its results count as that write)
BOUNDARIES: dict[str, tuple[Any, str, Callable[[Any], bool]]] = {
    "create": (SQLiteTaskStore, "create", _always),
    "claim": (SQLiteTaskStore, "claim_next", lambda task: task is not None),
    "started": (SQLiteTaskStore, "append_event", lambda event: event.type is EventType.STARTED),
    "png": (postprocess, "write_png", _always),
    "image": (SQLiteTaskStore, "add_image", _always),
    "finish": (SQLiteTaskStore, "finish", _always),
    "cancel": (SQLiteTaskStore, "request_stop", lambda outcome: outcome[1] is not None),
}


def arm(boundary: str) -> None:
    """Make the process end after the N-th write at ``boundary`` (``name:N``, N defaulting to 1)."""
    name, _, nth = boundary.partition(":")
    if name not in BOUNDARIES:
        raise SystemExit(f"unknown crash boundary {name!r}: one of {', '.join(BOUNDARIES)}")
    owner, attribute, counts = BOUNDARIES[name]
    original = getattr(owner, attribute)
    remaining = [int(nth or 1)]
    lock = threading.Lock()

    @functools.wraps(original)
    def crashing(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if counts(result):
            with lock:
                remaining[0] -= 1
                if remaining[0] == 0:
                    os._exit(CRASH_EXIT)
        return result

    setattr(owner, attribute, crashing)


def main() -> int:
    arm(os.environ["PIXELFORGE_CRASH_AT"])
    from pixelforge.cli import main as cli

    return cli(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
