"""Every store keeps stop requests by the rules stated once in Python: a stop is never downgraded
(``StopRequest.yields_to``) and a skip expires once progress names another job (``StopRequest.expires_between``).
SQLite applies them in Python; Redis states them again in Lua (request_stop.lua, append_event.lua), as a script must
to stay atomic: each pair of requests checks the store's outcome against the Python rule's, on SQLite and a real
Redis."""

from __future__ import annotations

import itertools

import test_store_contract as contract

from pixelforge.tasks.model import EventType, StopRequest, TaskProgress
from pixelforge.tasks.store import TaskStore

# The fixtures every store runs under, and the helper that queues a task.
backend, store, add = contract.backend, contract.store, contract.add

REQUESTS = [
    StopRequest(action="skip", at=1.0),
    StopRequest(action="skip", keep_partial=True, at=2.0),
    StopRequest(action="skip", jobs=[0], at=3.0),
    StopRequest(action="interrupt", when="after_job", at=4.0),
    StopRequest(action="interrupt", at=5.0),
    StopRequest(action="interrupt", keep_partial=True, reason="timeout", at=6.0),
]


def test_every_pair_of_stop_requests_is_kept_as_the_python_rule_says(store: TaskStore) -> None:
    outcomes = []
    for pending, request in itertools.product([None, *REQUESTS], REQUESTS):
        task = add(store)
        assert store.claim_next("w") is not None
        if pending is not None:
            store.request_stop(task.id, pending)
        store.request_stop(task.id, request)
        kept = pending if request.yields_to(pending) else request
        outcomes.append((pending, request, store.get(task.id).stop_request, kept))
    assert [o for o in outcomes if o[2] != o[3]] == []


def test_each_stop_request_expires_with_progress_as_the_python_rule_says(store: TaskStore) -> None:
    outcomes = []
    for pending, (before, after) in itertools.product(REQUESTS, [(0, 0), (0, 1), (2, 2), (2, 1)]):
        task = add(store)
        assert store.claim_next("w") is not None
        store.append_event(task.id, EventType.PROGRESS, {}, TaskProgress(job_no=before, job_count=3))
        store.request_stop(task.id, pending)
        store.append_event(task.id, EventType.PROGRESS, {}, TaskProgress(job_no=after, job_count=3, step=1))
        kept = None if pending.expires_between(before, after) else pending
        outcomes.append((pending, before, after, store.get(task.id).stop_request, kept))
    assert [o for o in outcomes if o[3] != o[4]] == []
