"""Bounded history: finished tasks beyond the limits go, with their image files.

The limit is per identity (one identity's tasks never push out another's), under a server-wide ceiling that, when
reached, prunes the identity holding the most first. Which tasks go is decided here, once, for every store; each
store only lists its finished tasks and deletes the ones chosen, in one transaction.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from pixelforge.tasks.files import task_files
from pixelforge.tasks.store import TaskStore


def beyond_limits(finished: list[tuple[str, str]], keep: int, keep_total: int | None = None) -> list[str]:
    """The ids to prune of ``finished``: (task id, owner) pairs, the most recently finished first. Each owner keeps
    its ``keep`` latest; past ``keep_total`` in all, the owner that keeps the most loses its oldest, one at a time
    (on a tie, the owner whose oldest finished first). An owner's latest task goes last: never the end just stored
    while any other owner keeps more."""
    kept: dict[str, list[int]] = defaultdict(list)  # owner -> positions in ``finished`` (growing = older)
    pruned = []
    for position, (task_id, owner) in enumerate(finished):
        if len(kept[owner]) < keep:
            kept[owner].append(position)
        else:
            pruned.append(task_id)
    total = len(finished) - len(pruned)
    while keep_total is not None and total > keep_total:
        largest = max(kept, key=lambda owner: (len(kept[owner]), kept[owner][-1] if kept[owner] else -1))
        pruned.append(finished[kept[largest].pop()][0])
        total -= 1
    return pruned


def prune_history(store: TaskStore, data_dir: Path, keep: int, keep_total: int | None = None) -> int:
    """Drop the finished tasks beyond the limits (``keep`` per owner, ``keep_total`` in all) and every file they
    wrote; returns how many went."""
    pruned = store.prune(keep, keep_total)
    for task in pruned:
        for relative in task_files(task):
            (data_dir / relative).unlink(missing_ok=True)
    return len(pruned)
