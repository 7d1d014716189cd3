"""Composition root: the store, the bus, the task service and the workers of one process.

The server receives a Runtime from the CLI and only ever uses its ``service`` (store + bus);
it never imports this module, so it never imports the engine.
"""

from __future__ import annotations

import logging

from pixelforge.backends.diffusers import DiffusersBackend
from pixelforge.backends.presets import InvalidLora, ModelNotFound, check_lora_file, resolve_model
from pixelforge.config import Settings
from pixelforge.engine.worker import Worker
from pixelforge.pixelart import PixelArtError, validate_options
from pixelforge.tasks.bus import InProcessBus
from pixelforge.tasks.files import sweep_leftovers
from pixelforge.tasks.history import prune_history
from pixelforge.tasks.model import EventType, TaskLimits, TaskParams
from pixelforge.tasks.service import ParamsCheck, TaskService
from pixelforge.tasks.sqlite_store import SQLiteTaskStore

log = logging.getLogger(__name__)


def limits_from(settings: Settings) -> TaskLimits:
    """The operator's bounds, which Settings carries under the same names."""
    return TaskLimits.model_validate(settings.model_dump(include=set(TaskLimits.model_fields)))


def submission_check(settings: Settings) -> ParamsCheck:
    """Reject, at submission, a model that is not here, a LoRA that cannot be read, bad pixel-art options."""

    def check(params: TaskParams) -> list[str]:
        problems = []
        try:
            resolve_model(params.model or settings.model)
        except ModelNotFound as exc:
            problems.append(f"model: {exc}")
        if params.lora:
            try:
                check_lora_file(params.lora)
            except InvalidLora as exc:
                problems.append(f"lora: {exc}")
        if params.pixel is not None:
            try:
                validate_options(params.pixel)
            except PixelArtError as exc:
                problems.append(f"pixel: {exc}")
        return problems

    return check


class Runtime:
    def __init__(self, settings: Settings, workers: int = 1) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = SQLiteTaskStore(settings.db_path)
        self.bus = InProcessBus()
        self.service = TaskService(self.store, self.bus, limits_from(settings), checks=[submission_check(settings)])
        self.workers = [
            Worker(self.service, DiffusersBackend(settings), settings, worker_id=f"worker-{n}") for n in range(workers)
        ]
        self._started = False

    def start(self) -> None:
        """Recover from a crash, prune old history, sweep crash leftovers, start the workers."""
        if self._started:
            return
        for task_id in self.store.recover():
            log.warning("task %s was running when the last process stopped: marked interrupted", task_id)
            self.service.emit(task_id, EventType.INTERRUPTED, {"reason": "restart"})
        prune_history(self.store, self.settings.data_dir, self.settings.history_limit)
        swept = sweep_leftovers(self.store, self.settings.data_dir, self.settings.images_dir)
        if swept:
            log.warning("removed %d files a crash left behind (half-written or never recorded)", len(swept))
        for worker in self.workers:
            worker.start()
        self._started = True

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.bus.close()
        self.store.close()
        self._started = False

    def __enter__(self) -> Runtime:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

