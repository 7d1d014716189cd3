"""Where a task's files go and what they are called; the store keeps their paths relative to the
data directory, so a data directory can move."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pixelforge.engine.postprocess import SavedImage
from pixelforge.tasks.files import file_stem
from pixelforge.tasks.model import ImageRef


class TaskFiles:
    """One task's output folder (a folder per day under ``images_dir``) and its file names."""

    def __init__(self, data_dir: Path, images_dir: Path, task_id: str) -> None:
        self.data_dir = data_dir
        self.folder = images_dir / datetime.now().strftime("%Y-%m-%d")
        self.stem = file_stem(task_id)  # injective: two tasks never share a file

    def relative(self, path: Path) -> str:
        return str(path.relative_to(self.data_dir))

    def image_ref(self, saved: SavedImage, *, index: int, job_no: int, seed: int, partial: bool) -> ImageRef:
        return ImageRef(
            index=index,
            job_no=job_no,
            seed=seed,
            path=self.relative(saved.path),
            width=saved.size[0],
            height=saved.size[1],
            partial=partial,
            files={kind: self.relative(other) for kind, other in saved.files.items()},
        )
