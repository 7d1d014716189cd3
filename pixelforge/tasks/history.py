"""Bounded history: finished tasks beyond the limits go, with their image files.

The limit is per identity (one identity's tasks never push out another's), under a server-wide ceiling that, when
reached, prunes the identity holding the most first. Which tasks go is decided here, once, for every store; each
store only lists its finished tasks and deletes the ones chosen, in one transaction.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

from pixelforge.tasks.files import task_files
from pixelforge.tasks.store import TaskStore


class HeldTask(NamedTuple):
    """A finished task as the pruning sees it: whose it is and what its input images take."""

    task_id: str
    owner: str
    input_bytes: int = 0


def beyond_limits(
    finished: list[HeldTask], keep: int, keep_total: int | None = None, keep_bytes: int | None = None
) -> list[str]:
    """The ids to prune of ``finished``, the most recently finished first. Each owner keeps its ``keep`` latest, and of
    them only those whose input images add up to ``keep_bytes`` at most; past ``keep_total`` in all, the owner that
    keeps the most loses its oldest, one at a time (on a tie, the owner whose oldest finished first). An owner's
    latest task goes last: never the end just stored while any other owner keeps more."""
    kept: dict[str, list[int]] = defaultdict(list)  # owner -> positions in ``finished`` (growing = older)
    kept_bytes: dict[str, int] = defaultdict(int)
    pruned = []
    for position, (task_id, owner, input_bytes) in enumerate(finished):
        over_bytes = keep_bytes is not None and kept_bytes[owner] + input_bytes > keep_bytes and bool(kept[owner])
        if len(kept[owner]) < keep and not over_bytes:
            kept[owner].append(position)
            kept_bytes[owner] += input_bytes
        else:
            pruned.append(task_id)
    total = len(finished) - len(pruned)
    while keep_total is not None and total > keep_total:
        largest = max(kept, key=lambda owner: (len(kept[owner]), kept[owner][-1] if kept[owner] else -1))
        pruned.append(finished[kept[largest].pop()].task_id)
        total -= 1
    return pruned


def prune_history(
    store: TaskStore, data_dir: Path, keep: int, keep_total: int | None = None, keep_bytes: int | None = None
) -> int:
    """Drop the finished tasks beyond the limits (``keep`` and ``keep_bytes`` of inputs per owner, ``keep_total`` in
    all) and every file they wrote; returns how many went."""
    pruned = store.prune(keep, keep_total, keep_bytes)
    for task in pruned:
        for relative in task_files(task):
            (data_dir / relative).unlink(missing_ok=True)
    return len(pruned)
