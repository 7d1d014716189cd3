"""The worker: one per device. Claims queued tasks in order and runs each through its task context."""

from __future__ import annotations

import logging
import threading
import time

from pixelforge.backends.base import Backend
from pixelforge.config import Settings
from pixelforge.engine.preview import PreviewEncoder
from pixelforge.engine.runner import TaskRunner, describe_error
from pixelforge.engine.tokens import TokenRegistry
from pixelforge.tasks.context import TaskContext
from pixelforge.tasks.job_ends import merge_job_ends
from pixelforge.tasks.model import EventType, ImageRef, Task, TaskEnd, TaskProgress, TaskState, WorkerHealth, WorkerInfo
from pixelforge.tasks.service import TaskService
from pixelforge.tasks.stop import StopToken
from pixelforge.tasks.store import TaskEnded, TaskTakenOver

log = logging.getLogger(__name__)
# One INFO line per task (or job) a worker ran: `pixelforge worker` shows these by default.
task_log = logging.getLogger(f"{__name__}.tasks")

# How long the idle loop sleeps between looks at the store when no bus event wakes it.
IDLE_POLL_S = 0.5
# An end that could not be stored (the store failed twice) is tried again after these pauses (the last repeats),
# before anything else: the worker claims no task until it is stored.
UNSTORED_RETRY_S = (0.5, 1.0, 2.0, 5.0)
# This many tasks in a row failing on storage (a full or read-only disk) make the worker unhealthy until one ends
# otherwise: every task it takes would fail the same way.
STORAGE_FAILURES_UNHEALTHY = 2


class Worker:
    def __init__(
        self,
        service: TaskService,
        backend: Backend,
        settings: Settings,
        tokens: TokenRegistry,
        worker_id: str = "worker-0",
    ) -> None:
        self.service = service
        self.backend = backend
        self.settings = settings
        self.tokens = tokens
        self.worker_id = worker_id
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._encoder: PreviewEncoder | None = None
        self._runner: TaskRunner | None = None
        self._current: StopToken | None = None
        self._task_id: str | None = None
        self._last_beat = time.monotonic()
        # Set when a task is taken: a distributed worker says at once which task it holds, so that one killed in
        # the first seconds of a task is reported lost with that task (its periodic beat could still be 2 s off).
        self.took_task = threading.Event()
        self._last_error: str | None = None
        self._model: str | None = None  # the model of its last task: what it holds loaded
        self._unstored: tuple[str, TaskEnd] | None = None  # a task's end the store refused twice, to store still
        self._storage_failures: list[str] = []  # the errors of the last tasks in a row that failed on storage

    def health(self) -> WorkerHealth:
        busy = self._task_id is not None
        return WorkerHealth(
            worker_id=self.worker_id,
            alive=self._thread is not None and self._thread.is_alive(),
            task_id=self._task_id,
            stuck=busy and time.monotonic() - self._last_beat >= self.settings.worker_stuck_s,
            last_error=self._last_error,
            problem=self._problem(),
        )

    def _problem(self) -> str | None:
        """Why this worker cannot do its work now, for the health route; None when it can."""
        unstored = self._unstored
        if unstored is not None:
            return (f"cannot store the end of task {unstored[0]} ({self._last_error}); it takes no task until the "
                    "store accepts it")
        failures = self._storage_failures
        if len(failures) >= STORAGE_FAILURES_UNHEALTHY:
            return f"its last {len(failures)} tasks failed on storage (the images folder or the disk): {failures[-1]}"
        return None

    def info(self) -> WorkerInfo:
        """Device, model held, current task, last sign of life (wall-clock time) and its health."""
        since_beat = time.monotonic() - self._last_beat
        health = self.health()
        return WorkerInfo(
            worker_id=self.worker_id,
            device=str(self.backend.device),
            models=[self._model] if self._model else [],
            task_id=self._task_id,
            heartbeat_at=time.time() - (since_beat if self._task_id is not None else 0.0),
            alive=health.alive,
            stuck=health.stuck,
            last_error=health.last_error,
            problem=health.problem,
        )

    def preload(self) -> None:
        """Load the default model before the first task, so that the worker holds it (and says so)."""
        self.backend.load(self.settings.model, None, 1.0)
        self._model = self.settings.model

    def beat(self) -> None:
        """A sign of progress: the running task reported something."""
        self._last_beat = time.monotonic()

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._encoder = PreviewEncoder()
        self._runner = TaskRunner(self.backend, self.settings, self._encoder)
        self._thread = threading.Thread(target=self._loop, name=f"pixelforge-{self.worker_id}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Interrupt the running task (reason ``shutdown``) and end the loop."""
        self._closing.set()
        with self._lock:
            running = self._current
        if running is not None:
            running.interrupt(reason="shutdown")
        if self._thread is not None:
            self._thread.join(timeout)
        if self._encoder is not None:
            self._encoder.close()

    # --- the loop --------------------------------------------------------------------------
    def _loop(self) -> None:
        # Only "queued" events wake the worker: the progress of its own task never reaches this inbox.
        with self.service.subscribe(types=frozenset({EventType.QUEUED})) as wakeups:
            retries = 0
            while not self._closing.is_set():
                if self._unstored is not None:  # an end first: a task left running would never end otherwise
                    if not self._store_unstored():
                        self._closing.wait(UNSTORED_RETRY_S[min(retries, len(UNSTORED_RETRY_S) - 1)])
                        retries += 1
                        continue
                    retries = 0
                try:
                    task = self.service.store.claim_next(self.worker_id)
                except Exception as exc:  # the store is unusable for now: say so, and try again later
                    self._fault("could not claim a task", exc)
                    task = None
                if task is None:
                    wakeups.get(IDLE_POLL_S)
                    continue
                self._run(task)
                while wakeups.get(0) is not None:  # tasks queued meanwhile: claim_next finds them all
                    pass

    def _fault(self, what: str, exc: BaseException) -> None:
        log.exception("%s %s", self.worker_id, what)
        self._last_error = f"{what}: {describe_error(exc)}"

    def _run(self, task: Task) -> None:
        """Run one claimed task (or one job of it) to a stored end. Never raises: a worker that died would leave
        its task running and every later task queued forever."""
        claim = task.claim
        began = time.monotonic()
        token, hooks = self.tokens.begin(task.id, claim.job_no if claim is not None else None)
        with self._lock:
            self._current, self._task_id = token, task.id
            self._model = task.params.model or self.settings.model
        self.beat()
        self.took_task.set()
        if self._closing.is_set():
            token.interrupt(reason="shutdown")
        assert self._runner is not None
        try:
            if claim is not None and claim.failed is not None:  # its workers kept dying: not run again
                end = TaskEnd(state=TaskState.FAILED, error=claim.failed)
            else:
                device = str(self.backend.device)
                context = _Beating(self.service.start(task, token, device, self.worker_id), self)
                end = self._runner.run(context, hooks)
        except Exception as exc:  # outside the runner's own handling: the store, the device
            self._fault(f"could not run {task.id}", exc)
            end = TaskEnd(state=TaskState.FAILED, error=describe_error(exc))
        finally:
            # Forgotten before the terminal event: whoever sees that event finds nothing left behind.
            self.tokens.end(task.id)
            with self._lock:
                self._current, self._task_id = None, None
        self._log_end(task, end, time.monotonic() - began)
        if claim is not None:
            task_end = self._end_job(task.id, claim.job_no, end)
            if task_end is None:  # other jobs of the task run or wait: one of them ends it
                return
            end = task_end
        self._count_storage_failure(end)
        finished = self._finish(task.id, end)
        if finished is None or finished.state is not TaskState.COMPLETED:
            # gc + empty_cache: a stop or failure must not leave memory held. Only now, after the terminal
            # event and the token's removal, and still before the next claim: a full gc takes 0.2-0.5 s in a
            # process holding torch + diffusers, and a stop is reported as soon as the pipeline has left.
            self._release()

    def _log_end(self, task: Task, end: TaskEnd, seconds: float) -> None:
        job = f" job {task.claim.job_no}" if task.claim is not None else ""
        why = end.error if end.state is TaskState.FAILED else end.stop_reason
        model = task.params.model or self.settings.model
        task_log.info("%s %s%s %s %s in %.1f s%s", self.worker_id, task.id, job, model, end.state.value, seconds,
                      f" ({why})" if why else "")

    def _release(self) -> None:
        """Give the stopped or failed run's memory back; a device error here is the worker's fault to report
        (health shows it), never a reason to stop claiming tasks."""
        try:
            self.backend.release()
        except Exception as exc:
            self._fault("could not release memory", exc)

    def _end_job(self, task_id: str, job_no: int, end: TaskEnd) -> TaskEnd | None:
        """One job of a split task ended here: it goes back to the queue (a shutdown) or its end is stored. Returns
        the task's end when it was the task's last job, else None (memory released now unless the job completed)."""
        if self._gave_back(task_id, job_no, end):
            self._release()
            return None
        task_end = self._last_job_end(task_id, end.model_copy(update={"job_no": job_no}))
        if task_end is None and end.state is not TaskState.COMPLETED:
            self._release()
        return task_end

    def _gave_back(self, task_id: str, job_no: int, end: TaskEnd) -> bool:
        """A job of a split task that this worker's shutdown stopped goes back to the queue for another worker,
        rather than ending the whole batch (an interrupt stored for the task still ends it at the next claim)."""
        if not (self._closing.is_set() and end.state is TaskState.INTERRUPTED and end.stop_reason == "shutdown"):
            return False
        try:
            return self.service.return_job(task_id, job_no, self.worker_id)
        except Exception as exc:  # then its lease runs out and another worker runs it again
            self._fault(f"could not give back {task_id} job {job_no}", exc)
            return True

    def _last_job_end(self, task_id: str, end: TaskEnd) -> TaskEnd | None:
        """Store how this worker's job of a split task ended; when it was the task's last, the task's end: every
        job's end merged, with the sprite sheet of the whole batch."""
        try:
            ends = self.service.finish_job(task_id, end.model_copy(update={"worker_id": self.worker_id}))
        except Exception as exc:  # TaskTakenOver: another worker runs this job now, its end is the one that counts;
            # anything else: this worker stops renewing the job's lease, and another worker runs it again
            self._fault(f"could not store the end of {task_id} job {end.job_no}", exc)
            return None
        if ends is None:
            return None
        try:
            task = self.service.get(task_id)
            interrupt = task.stop_request if task.stop_request and task.stop_request.action == "interrupt" else None
            merged = merge_job_ends(ends, total_s=time.time() - (task.started_at or task.created_at),
                                    stop_reason=interrupt.reason if interrupt else "user")
        except Exception as exc:  # the store again: the task still ends, failed with the reason
            self._fault(f"could not merge the ends of {task_id}", exc)
            return TaskEnd(state=TaskState.FAILED, error=self._last_error)
        if merged.state is not TaskState.FAILED:
            assert self._runner is not None
            try:
                merged.sprite_sheet = self._runner.sheet_of(task)
            except Exception as exc:  # the images are stored: a batch without its sheet still ends
                self._fault(f"could not write the sprite sheet of {task_id}", exc)
        return merged

    def _count_storage_failure(self, end: TaskEnd) -> None:
        if end.state is TaskState.FAILED and end.storage_fault:
            self._storage_failures = [*self._storage_failures[-STORAGE_FAILURES_UNHEALTHY + 1 :], end.error or ""]
        else:
            self._storage_failures = []

    def _finish(self, task_id: str, end: TaskEnd) -> Task | None:
        """Store the task's end, or its failure to store that end; when neither can be stored, keep the end
        (``_unstored``) to store before the next claim: a task is never left running while its worker moves on."""
        end = end.model_copy(update={"worker_id": self.worker_id})
        finished = None
        try:
            finished = self._store_end(task_id, end)
        except Exception as exc:  # still nothing: try again before anything else
            self._fault(f"could not store the failure of {task_id}", exc)
            self._unstored = (task_id, end)
            return None
        self._unstored = None
        return finished

    def _store_end(self, task_id: str, end: TaskEnd) -> Task | None:
        """The end, else the failure to store it; None when it is not this worker's to end any more."""
        try:
            return self.service.finish(task_id, end)
        except TaskTakenOver as exc:  # another worker runs it now: its end is the one that counts
            self._fault(f"could not store the end of {task_id}", exc)
            return None
        except TaskEnded as exc:  # ended meanwhile (another worker, or a process's recovery): that end stays
            log.warning("%s: %s", self.worker_id, exc)
            return None
        except Exception as exc:  # e.g. "database or disk is full": store the failure, smaller
            self._fault(f"could not store the end of {task_id}", exc)
        try:
            return self.service.finish(
                task_id, TaskEnd(state=TaskState.FAILED, error=self._last_error, worker_id=self.worker_id,
                                 storage_fault=True))
        except (TaskTakenOver, TaskEnded) as exc:
            log.warning("%s: %s", self.worker_id, exc)
            return None

    def _store_unstored(self) -> bool:
        """Try again to store the end the store refused (then its failure); True once it is stored, or moot (the
        task ended otherwise, or another worker took it over)."""
        assert self._unstored is not None
        task_id, end = self._unstored
        self._finish(task_id, end)
        if self._unstored is None:
            log.warning("%s: the end of %s is stored now; taking tasks again", self.worker_id, task_id)
            return True
        return False


class _Beating:
    """The task context, passed through, telling the worker about every sign of progress."""

    def __init__(self, context: TaskContext, worker: Worker) -> None:
        self._context, self._worker = context, worker

    @property
    def task(self) -> Task:
        return self._context.task

    @property
    def stop(self) -> StopToken:
        return self._context.stop

    def report_progress(self, progress: TaskProgress) -> None:
        self._worker.beat()
        self._context.report_progress(progress)

    def add_image(self, image: ImageRef) -> None:
        self._worker.beat()
        self._context.add_image(image)

    def add_preview(self, data: bytes, media_type: str) -> None:
        self._worker.beat()
        self._context.add_preview(data, media_type)
