"""Bounded history: finished tasks beyond the limit go, with their image files."""

from __future__ import annotations

from pathlib import Path

from pixelforge.tasks.store import TaskStore


def prune_history(store: TaskStore, data_dir: Path, keep: int) -> int:
    """Drop the oldest finished tasks beyond ``keep`` and every file they wrote; returns how many went."""
    pruned = store.prune(keep)
    for task in pruned:
        for image in task.images:
            for relative in (image.path, *image.files.values()):
                (data_dir / relative).unlink(missing_ok=True)
        if task.sprite_sheet:
            (data_dir / task.sprite_sheet).unlink(missing_ok=True)
    return len(pruned)
