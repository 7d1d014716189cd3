"""Composition root: the store, the bus, the task service, the stop tokens and the workers of one process.

The server receives a Runtime from the CLI and only ever uses its ``service`` (store + bus);
it never imports this module, so it never imports the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pixelforge.backends.diffusers import DiffusersBackend
from pixelforge.backends.presets import InvalidLora, ModelNotFound, check_lora_file, resolve_model
from pixelforge.backends.sizes import SizeRefused, native_scale
from pixelforge.config import Settings
from pixelforge.datadir_lock import DataDirLock
from pixelforge.engine.tokens import TokenRegistry
from pixelforge.engine.worker import Worker
from pixelforge.pixelart import PixelArtError, validate_options
from pixelforge.stores.sqlite import SQLiteTaskStore
from pixelforge.tasks.bus import EventBus, InProcessBus
from pixelforge.tasks.files import InputFolder
from pixelforge.tasks.model import EventType, Problem, TaskLimits, TaskParams, WorkerHealth, WorkerInfo
from pixelforge.tasks.notices import CallbackPolicy
from pixelforge.tasks.service import HistoryPolicy, ParamsCheck, TaskService
from pixelforge.tasks.store import TaskStore

log = logging.getLogger(__name__)

# How many of the files the start-up sweep removed its log line names (the rest are counted).
SWEPT_NAMED = 20


def limits_from(settings: Settings) -> TaskLimits:
    """The operator's bounds, which Settings carries under the same names."""
    return TaskLimits.model_validate(settings.model_dump(include=set(TaskLimits.model_fields)))


def submission_check(settings: Settings) -> ParamsCheck:
    """Reject, at submission, a model that is not here, a size it cannot make, a LoRA that cannot be read or a
    model that takes none, bad pixel-art options."""

    def check(params: TaskParams) -> list[Problem]:
        problems = []
        try:
            model = resolve_model(params.model or settings.model)
        except ModelNotFound as exc:
            problems.append(Problem(field="model", message=str(exc)))
        else:
            if model.preset is not None and model.preset.native_size is not None:
                try:
                    native_scale(model.name, params.width, params.height, model.preset.native_size)
                except SizeRefused as exc:
                    problems.append(Problem(field=exc.field, message=str(exc)))
            if params.lora and not model.takes_loras:
                problems.append(Problem(field="lora", message=f"the {model.name} model takes no LoRA"))
        if params.lora:
            try:
                check_lora_file(params.lora)
            except InvalidLora as exc:
                problems.append(Problem(field="lora", message=str(exc)))
        if params.pixel is not None:
            try:
                validate_options(params.pixel)
            except PixelArtError as exc:
                problems.append(Problem(field="pixel", message=str(exc)))
        return problems

    return check


def task_service(
    settings: Settings, store: TaskStore, bus: EventBus, workers: Callable[[], int] = lambda: 1
) -> TaskService:
    """The task service of these settings over any store and bus (SQLite in one process, or Redis); ``workers``
    counts the workers that take its tasks now."""
    return TaskService(
        store,
        bus,
        limits_from(settings),
        checks=[submission_check(settings)],
        history=HistoryPolicy(settings.data_dir, settings.history_limit, settings.history_limit_total,
                              settings.max_input_bytes_per_identity),
        inputs=InputFolder(settings.data_dir, settings.images_dir / "inputs"),
        workers=workers,
        callbacks=CallbackPolicy(frozenset(settings.callback_hosts), settings.callback_secret),
    )


class Runtime:
    """``url``: where this process serves the data dir, written into its lock so that a second process can
    name the server and the Python API can attach to it (None: nobody can reach this process)."""

    def __init__(self, settings: Settings, workers: int = 1, url: str | None = None) -> None:
        self.settings = settings
        # Before the store is opened: a second process on this data dir would end our running tasks in its
        # restart recovery. DataDirInUse names the holder.
        self.lock = DataDirLock(settings.data_dir)
        self.lock.acquire(url)
        try:
            self.store = SQLiteTaskStore(settings.db_path, settings.queue_policy)
            self.bus = InProcessBus()
            self.service = task_service(settings, self.store, self.bus, workers=lambda: len(self.workers))
            self.tokens = TokenRegistry(self.service.subscribe(types=frozenset({EventType.CANCELLED})))
            self._unregister_tokens = self.service.on_stop_request(self.tokens.deliver)
            self.workers = [
                Worker(self.service, DiffusersBackend(settings), settings, self.tokens, worker_id=f"worker-{n}")
                for n in range(workers)
            ]
        except BaseException:
            self.lock.release()
            raise
        self.started = False

    def start(self) -> None:
        """Recover from a crash, prune old history, sweep crash leftovers, start the workers."""
        if self.started:
            return
        for task_id in self.service.recover():
            log.warning("task %s did not end cleanly in the last process: its end is recorded now", task_id)
        self.service.prune_history()
        swept = self.service.sweep_leftovers(self.settings.images_dir)
        if swept:
            names = ", ".join(str(path.relative_to(self.settings.images_dir)) for path in swept[:SWEPT_NAMED])
            more = f" and {len(swept) - SWEPT_NAMED} more" if len(swept) > SWEPT_NAMED else ""
            log.warning("removed %d files a crash left behind in %s (half-written, or written for a task and never "
                        "recorded): %s%s", len(swept), self.settings.images_dir, names, more)
        for worker in self.workers:
            worker.start()
        self.started = True

    def worker_health(self) -> list[WorkerHealth]:
        return [worker.health() for worker in self.workers]

    def store_problem(self) -> str | None:
        """None: this process's SQLite store is a file it holds open (its faults reach the workers' health)."""
        return None

    def worker_infos(self) -> list[WorkerInfo]:
        """This process's workers as distributed mode lists its own (a heartbeat is now)."""
        return [worker.info() for worker in self.workers]

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self._unregister_tokens()
        self.bus.close()
        self.store.close()
        self.lock.release()
        self.started = False

    def __enter__(self) -> Runtime:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

