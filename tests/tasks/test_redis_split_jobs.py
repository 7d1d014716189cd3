"""A batch's jobs on several workers at once (``split_batches``) in the Redis store: one queue entry per job, each
job claimed, leased, taken over and ended on its own; images in batch order; the task ends once, with its last job.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from pixelforge.server.schemas import EventOut, StartedData
from pixelforge.stores.redis.store import RedisTaskStore
from pixelforge.tasks.job_ends import merge_job_ends
from pixelforge.tasks.model import (
    EventType,
    ImageRef,
    Phase,
    StopRequest,
    Task,
    TaskEnd,
    TaskParams,
    TaskProgress,
    TaskState,
    WorkerInfo,
)
from pixelforge.tasks.store import TaskTakenOver
from pixelforge.testing.redis_server import RedisServer


@pytest.fixture
def namespace() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
def store(redis_server: RedisServer, namespace: str) -> Iterator[RedisTaskStore]:
    made = RedisTaskStore(redis_server.url, namespace, split_batches=True)
    yield made
    made.close()


def add(store: RedisTaskStore, jobs: int, batch_size: int = 1) -> Task:
    params = TaskParams(prompt="p", batch_count=jobs, batch_size=batch_size, seed=7)
    return store.create(Task(id=f"task({uuid.uuid4().hex})", params=params))[0]


def claim(store: RedisTaskStore, worker: str) -> Task:
    task = store.claim_next(worker)
    assert task is not None and task.claim is not None
    return task


def end(state: TaskState, job_no: int, worker: str, **fields: object) -> TaskEnd:
    return TaskEnd(state=state, job_no=job_no, worker_id=worker, **fields)


def image(index: int, job_no: int) -> ImageRef:
    return ImageRef(index=index, job_no=job_no, seed=7 + index, path=f"images/{index}.png", width=32, height=32)


def pending_entries(store: RedisTaskStore) -> int:
    return store.redis.xlen(store.keys.queue)


def test_each_worker_claims_its_own_job_and_the_first_claim_starts_the_task(store: RedisTaskStore) -> None:
    task = add(store, jobs=3)
    claims = [claim(store, f"w{n}") for n in range(3)]
    assert [(c.id, c.claim.job_no, c.claim.starts_task) for c in claims if c.claim] == [
        (task.id, 0, True), (task.id, 1, False), (task.id, 2, False)]
    assert all(c.state is TaskState.RUNNING for c in claims)
    assert store.claim_next("w3") is None
    assert store.queued_ids() == []


def test_a_single_job_task_and_a_store_without_the_setting_queue_the_task_whole(
    redis_server: RedisServer, namespace: str, store: RedisTaskStore
) -> None:
    add(store, jobs=1)
    assert claim_whole(store, "w0")
    plain = RedisTaskStore(redis_server.url, namespace)
    try:
        add(plain, jobs=3)
        assert claim_whole(plain, "w1")
        assert plain.claim_next("w2") is None  # one worker runs all three jobs
    finally:
        plain.close()


def claim_whole(store: RedisTaskStore, worker: str) -> bool:
    task = store.claim_next(worker)
    return task is not None and task.claim is None


def test_images_keep_their_batch_order_whichever_job_ends_first(store: RedisTaskStore) -> None:
    task = add(store, jobs=2, batch_size=2)
    claim(store, "w0"), claim(store, "w1")
    for ref in (image(2, 1), image(3, 1), image(0, 0), image(1, 0)):
        store.add_image(task.id, ref)
    store.add_image(task.id, image(2, 1).model_copy(update={"partial": True}))  # a rerun replaces its index
    images = store.get(task.id).images
    assert [i.index for i in images] == [0, 1, 2, 3] and images[2].partial


def test_the_last_job_to_end_gets_every_end_and_the_task_ends_once(store: RedisTaskStore) -> None:
    task = add(store, jobs=3)
    for n in range(3):
        claim(store, f"w{n}")
    assert store.finish_job(task.id, end(TaskState.COMPLETED, 2, "w2")) is None
    assert store.finish_job(task.id, end(TaskState.COMPLETED, 0, "w0")) is None
    assert store.get(task.id).state is TaskState.RUNNING
    ends = store.finish_job(task.id, end(TaskState.COMPLETED, 1, "w1"))
    assert ends is not None and sorted(ends) == [0, 1, 2] and all(e and e.state is TaskState.COMPLETED
                                                                   for e in ends.values())
    assert pending_entries(store) == 1  # the last job's entry stays until the task's end is stored
    done, event = store.finish(task.id, merge_job_ends(ends, total_s=1.0))
    assert done.state is TaskState.COMPLETED and event.type is EventType.COMPLETED
    assert pending_entries(store) == 0


@pytest.fixture
def impatient(redis_server: RedisServer, namespace: str) -> Iterator[RedisTaskStore]:
    """The same deployment seen with lease_s=0: every entry is overdue at once, so a take-over is reached without
    waiting on a clock."""
    made = RedisTaskStore(redis_server.url, namespace, lease_s=0, max_attempts=2, split_batches=True)
    yield made
    made.close()


def last_job_stalls(store: RedisTaskStore, impatient: RedisTaskStore) -> tuple[Task, dict[int, TaskEnd | None]]:
    """A 2-job task whose last job ended on w1, which then stalls past its lease before storing the task's end
    (w2 runs that job again); returns the task and the ends w1 got."""
    task = add(store, jobs=2)
    claim(store, "w0"), claim(store, "w1")
    store.finish_job(task.id, end(TaskState.COMPLETED, 0, "w0"))
    stale = store.finish_job(task.id, end(TaskState.COMPLETED, 1, "w1"))
    rerun = impatient.claim_next("w2")
    assert stale is not None and rerun is not None and rerun.claim and rerun.claim.job_no == 1
    return task, stale


def test_a_stalled_last_worker_that_stores_the_end_first_refuses_the_reruns(
    store: RedisTaskStore, impatient: RedisTaskStore
) -> None:
    task, stale = last_job_stalls(store, impatient)
    done, _ = store.finish(task.id, merge_job_ends(stale, 1.0).model_copy(update={"worker_id": "w1"}))
    assert done.state is TaskState.COMPLETED
    with pytest.raises(TaskTakenOver):  # the rerun's end comes after the task's: refused, no second end
        store.finish_job(task.id, end(TaskState.COMPLETED, 1, "w2"))
    assert [e.type for e in store.events_since(task.id)].count(EventType.COMPLETED) == 1
    assert pending_entries(store) == 0


def test_a_rerun_that_ends_its_job_first_takes_the_end_from_the_stalled_worker(
    store: RedisTaskStore, impatient: RedisTaskStore
) -> None:
    task, stale = last_job_stalls(store, impatient)
    ends = store.finish_job(task.id, end(TaskState.COMPLETED, 1, "w2"))
    assert ends is not None  # the rerun's worker is the task's to end now
    with pytest.raises(TaskTakenOver, match="now run by worker w2"):
        store.finish(task.id, merge_job_ends(stale, 1.0).model_copy(update={"worker_id": "w1"}))
    done, _ = store.finish(task.id, merge_job_ends(ends, 1.0).model_copy(update={"worker_id": "w2"}))
    assert done.state is TaskState.COMPLETED and pending_entries(store) == 0


def test_a_worker_renews_only_the_entries_of_the_task_it_reports_running(store: RedisTaskStore) -> None:
    task = add(store, jobs=2)
    claim(store, "w0")
    assert len(store.heartbeat(WorkerInfo(worker_id="w0", device="cpu", task_id=task.id), ttl_s=5)) == 1
    # Its end could not be stored and it went idle: the entry is no longer renewed, so another worker takes it.
    assert store.heartbeat(WorkerInfo(worker_id="w0", device="cpu"), ttl_s=5) == []


def test_an_end_from_a_worker_that_does_not_run_the_job_is_refused(store: RedisTaskStore) -> None:
    task = add(store, jobs=2)
    claim(store, "w0"), claim(store, "w1")
    with pytest.raises(TaskTakenOver):
        store.finish_job(task.id, end(TaskState.COMPLETED, 0, "w1"))


def test_an_interrupt_drops_the_jobs_not_started_and_the_running_ones_end_the_task(store: RedisTaskStore) -> None:
    task = add(store, jobs=4)
    claim(store, "w0"), claim(store, "w1")
    running, _ = store.request_stop(task.id, StopRequest(action="interrupt"))
    assert running.state is TaskState.RUNNING and pending_entries(store) == 2  # jobs 2 and 3 left the queue
    assert store.claim_next("w2") is None
    assert store.finish_job(task.id, end(TaskState.INTERRUPTED, 0, "w0", stop_reason="user")) is None
    ends = store.finish_job(task.id, end(TaskState.INTERRUPTED, 1, "w1", stop_reason="user"))
    assert ends is not None and ends[2] is None and ends[3] is None
    merged = merge_job_ends(ends, total_s=1.0)
    assert merged.state is TaskState.INTERRUPTED and merged.stop_reason == "user"


def test_an_interrupt_between_jobs_leaves_one_job_to_claim_so_that_a_worker_ends_the_task(
    store: RedisTaskStore,
) -> None:
    task = add(store, jobs=3)
    claim(store, "w0")
    assert store.finish_job(task.id, end(TaskState.COMPLETED, 0, "w0")) is None  # no job runs now
    store.request_stop(task.id, StopRequest(action="interrupt"))
    left = claim(store, "w1")
    assert left.claim and left.claim.job_no == 1 and store.get(task.id).stop_request.applies_to(1)
    assert store.claim_next("w2") is None  # job 2 was dropped
    ends = store.finish_job(task.id, end(TaskState.INTERRUPTED, 1, "w1", stop_reason="user"))
    assert ends is not None and ends[0] and ends[2] is None


def test_a_failed_job_drops_the_jobs_not_started(store: RedisTaskStore) -> None:
    task = add(store, jobs=3)
    claim(store, "w0")
    ends = store.finish_job(task.id, end(TaskState.FAILED, 0, "w0", error="out of memory"))
    assert ends is not None and ends[1] is None and ends[2] is None
    assert merge_job_ends(ends, total_s=1.0).error == "out of memory"


def test_a_skip_names_the_jobs_running_and_expires_with_them(store: RedisTaskStore) -> None:
    task = add(store, jobs=3)
    claim(store, "w0"), claim(store, "w1")
    skipped, _ = store.request_stop(task.id, StopRequest(action="skip", keep_partial=True))
    request = skipped.stop_request
    assert request is not None and request.jobs == [0, 1] and request.keep_partial
    assert request.applies_to(0) and not request.applies_to(2)
    store.finish_job(task.id, end(TaskState.COMPLETED, 0, "w0"))
    assert store.get(task.id).stop_request.jobs == [1]
    store.finish_job(task.id, end(TaskState.COMPLETED, 1, "w1"))
    assert store.get(task.id).stop_request is None
    assert claim(store, "w0").claim.job_no == 2


def test_a_dead_workers_job_is_run_again_by_another_then_failed_after_its_attempts(
    store: RedisTaskStore, impatient: RedisTaskStore
) -> None:
    task = add(store, jobs=2)
    claim(store, "w0"), claim(store, "w1")
    taken = impatient.claim_next("w2")  # job 0's worker stopped renewing its lease
    assert taken is not None and taken.claim and (taken.claim.job_no, taken.claim.failed) == (0, None)
    assert not taken.claim.starts_task and store.get(task.id).state is TaskState.RUNNING
    rerun = store.events_since(task.id)[-1]  # the task keeps running: a 'started' names the job and why
    assert rerun.type is EventType.STARTED and (rerun.data["job_no"], rerun.data["worker_id"]) == (0, "w2")
    assert "worker w0 stopped while running job 1" in rerun.data["requeued"] and rerun.data["attempt"] == 2
    shown = EventOut.of(rerun).data  # as a watcher's event stream shows it
    assert isinstance(shown, StartedData) and (shown.job_no, shown.worker_id, shown.attempt) == (0, "w2", 2)
    with pytest.raises(TaskTakenOver):  # w0 was only stalled: its end is dropped
        store.finish_job(task.id, end(TaskState.COMPLETED, 0, "w0"))
    assert store.finish_job(task.id, end(TaskState.COMPLETED, 1, "w1")) is None

    last = impatient.claim_next("w3")  # w2 dies as well: job 0 has had its two attempts
    assert last is not None and last.claim and last.claim.job_no == 0
    assert last.claim.failed and "no more allowed" in last.claim.failed
    ends = store.finish_job(task.id, end(TaskState.FAILED, 0, "w3", error=last.claim.failed))
    assert ends is not None and merge_job_ends(ends, total_s=1.0).state is TaskState.FAILED


def test_the_tasks_progress_combines_its_running_jobs(store: RedisTaskStore) -> None:
    task = add(store, jobs=4)
    claim(store, "w0"), claim(store, "w1"), claim(store, "w2")
    store.finish_job(task.id, end(TaskState.COMPLETED, 0, "w0"))

    def job(step: int) -> TaskProgress:
        return TaskProgress(phase=Phase.DENOISE, step=step, steps=10, progress=step / 10, eta_s=1.0, elapsed_s=1.0)

    store.append_job_progress(task.id, 1, job(5))
    event = store.append_job_progress(task.id, 2, job(5))
    assert event.type is EventType.PROGRESS
    progress = store.get(task.id).progress
    assert progress.progress == pytest.approx((1 + 0.5 + 0.5) / 4)
    assert (progress.job_no, progress.job_count) == (1, 4)
    assert progress.eta_s == pytest.approx(1.0 + 2.0)  # the longest job left, then job 3 on one of two workers
    assert progress.textinfo == "Jobs: 1/4 done, 2 running, step 5/10"


def test_a_split_task_cancelled_while_queued_leaves_nothing_in_the_queue(store: RedisTaskStore) -> None:
    task = add(store, jobs=3)
    cancelled, event = store.request_stop(task.id, StopRequest(action="interrupt"))
    assert cancelled.state is TaskState.CANCELLED and event is not None
    assert pending_entries(store) == 0 and store.claim_next("w0") is None


def test_a_job_given_back_by_a_worker_that_shuts_down_is_queued_again_for_another(store: RedisTaskStore) -> None:
    task = add(store, jobs=2)
    claim(store, "w0"), claim(store, "w1")
    assert store.return_job(task.id, 0, "w0")
    again = claim(store, "w2")
    assert again.claim and (again.claim.job_no, again.claim.starts_task) == (0, False)
    assert not store.return_job(task.id, 0, "w0")  # w2's now
    assert store.get(task.id).state is TaskState.RUNNING


def test_a_combined_progress_that_would_move_the_bar_back_is_not_stored(store: RedisTaskStore) -> None:
    task = add(store, jobs=2)
    claim(store, "w0"), claim(store, "w1")

    def job(step: int) -> TaskProgress:
        return TaskProgress(phase=Phase.DENOISE, step=step, steps=10, progress=step / 10, eta_s=1.0, elapsed_s=1.0)

    assert store.append_job_progress(task.id, 0, job(6)) is not None
    assert store.append_job_progress(task.id, 1, job(4)) is not None
    before = store.events_since(task.id)
    assert store.append_job_progress(task.id, 1, job(0)) is None  # job 1 run again from its start: bar holds
    assert store.events_since(task.id) == before and store.get(task.id).progress.progress == pytest.approx(0.5)
    assert store.append_job_progress(task.id, 1, job(5)) is not None  # past where it was: moves on
    store.request_stop(task.id, StopRequest(action="interrupt"))
    store.finish_job(task.id, end(TaskState.INTERRUPTED, 0, "w0"))
    ends = store.finish_job(task.id, end(TaskState.INTERRUPTED, 1, "w1"))
    assert ends is not None
    store.finish(task.id, merge_job_ends(ends, 1.0).model_copy(update={"worker_id": "w1"}))
    assert store.append_job_progress(task.id, 0, job(9)) is None  # after the task's end: nothing more
