"""The two stop rules stated once in Python (``StopRequest.yields_to``, ``StopRequest.expires_between``), exactly:
every store is checked against them in ``test_store_contract_stop_rules.py``, the StopToken follows the first."""

from __future__ import annotations

import pytest

from pixelforge.tasks.model import StopRequest
from pixelforge.tasks.stop import StopToken

SKIP = StopRequest(action="skip")
SKIP_NAMED = StopRequest(action="skip", jobs=[0])
AFTER_JOB = StopRequest(action="interrupt", when="after_job")
INTERRUPT = StopRequest(action="interrupt")
INTERRUPT_PARTIAL = StopRequest(action="interrupt", keep_partial=True)


@pytest.mark.parametrize(
    ("request_", "pending", "yields"),
    [
        (SKIP, None, False),
        (SKIP, SKIP, False),
        (SKIP, AFTER_JOB, True),
        (SKIP, INTERRUPT, True),
        (SKIP_NAMED, INTERRUPT_PARTIAL, True),
        (AFTER_JOB, None, False),
        (AFTER_JOB, SKIP, False),
        (AFTER_JOB, AFTER_JOB, False),
        (AFTER_JOB, INTERRUPT, True),
        (INTERRUPT, None, False),
        (INTERRUPT, SKIP, False),
        (INTERRUPT, AFTER_JOB, False),
        (INTERRUPT, INTERRUPT_PARTIAL, False),
        (INTERRUPT_PARTIAL, INTERRUPT, False),
    ],
)
def test_a_stop_is_never_downgraded_and_an_equal_or_stronger_one_replaces_it(
    request_: StopRequest, pending: StopRequest | None, yields: bool
) -> None:
    assert request_.yields_to(pending) is yields


@pytest.mark.parametrize(
    ("pending", "before", "after", "expires"),
    [
        (SKIP, 0, 0, False),  # the job it ends still runs
        (SKIP, 0, 1, True),
        (SKIP, 3, 2, True),
        (SKIP_NAMED, 0, 1, False),  # a split task's skip expires with its jobs instead
        (AFTER_JOB, 0, 1, False),
        (INTERRUPT, 0, 1, False),
        (INTERRUPT_PARTIAL, 0, 0, False),
    ],
)
def test_only_a_skip_of_the_running_job_expires_once_progress_names_another_job(
    pending: StopRequest, before: int, after: int, expires: bool
) -> None:
    assert pending.expires_between(before, after) is expires


def test_the_stop_token_keeps_a_pending_interrupt_when_a_skip_follows() -> None:
    token = StopToken()
    token.request(INTERRUPT_PARTIAL)
    token.request(SKIP)
    assert token.pending == INTERRUPT_PARTIAL
    token.request(INTERRUPT)  # an equal one replaces it
    assert token.pending == INTERRUPT
    skipped = StopToken()
    skipped.request(SKIP)
    skipped.request(INTERRUPT)
    assert skipped.pending == INTERRUPT
