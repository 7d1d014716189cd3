"""The order the queue serves its tasks in, and how a move reorders it: the one statement of both rules.

Every queued task has a *rank* (a float: its place among the queued tasks, first in first out as submitted,
changed by a move) and every identity that has been served a *turn* (a float: when it was last served; lower goes
first). Under ``fifo`` the queue serves by rank alone. Under ``fair`` it serves the identities round-robin, the least
recently served first (one never served before all, in the order of its first queued task), and each identity's own
tasks by rank: three identities that submit a, a, a, b, b, c are served a1 b1 c1 a2 b2 a3, and one that submits while
a2 waits goes before it. The stores keep ranks and turns with each write and compute places from them when read;
their claims follow :func:`serving_order` (the contract suite checks each store against it).

A move reorders a task among its owner's queued tasks only (``up``/``down``: past its owner's previous or next
task; ``front``/``back``: before its owner's first or after its owner's last): the places those tasks hold stay
theirs, so nobody else's task ever moves, under either policy. An admin's ``front`` is "run next": before every
queued task, and under ``fair`` its owner takes the next turn too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from typing import Literal

QueuePolicy = Literal["fair", "fifo"]
MoveTo = Literal["front", "up", "down", "back"]
MOVES: tuple[MoveTo, ...] = ("front", "up", "down", "back")
# The turn of an identity never served: served turns count up from it, an admin's "run next" goes below it.
NEVER_SERVED = 0.0


@dataclass(frozen=True)
class Queued:
    """A queued task as the serving order needs it."""

    task_id: str
    owner: str


def serving_order(queued: Sequence[Queued], turns: Mapping[str, float], policy: QueuePolicy) -> list[str]:
    """The ids of ``queued`` (given in rank order) in the order the queue serves them. Under ``fair``, owners by
    their turn (``NEVER_SERVED`` for one not in ``turns``), owners that tie in the order of their first task."""
    if policy == "fifo":
        return [q.task_id for q in queued]
    by_owner: dict[str, list[str]] = {}
    for q in queued:
        by_owner.setdefault(q.owner, []).append(q.task_id)
    # sorted() is stable: owners that tie keep the order of their first task
    owners = sorted(by_owner, key=lambda owner: turns.get(owner, NEVER_SERVED))
    rounds = zip_longest(*(by_owner[owner] for owner in owners))
    return [task_id for one_round in rounds for task_id in one_round if task_id is not None]


def reranked(own: Sequence[tuple[str, float]], task_id: str, to: MoveTo, policy: QueuePolicy,
             before: float | None = None, after: float | None = None) -> list[tuple[str, float]]:
    """The writes that move ``task_id`` among its owner's queued tasks ``own`` ((id, rank) in rank order) so that no
    other owner's task changes place: ``before`` / ``after`` are the ranks of the queued tasks just before the
    owner's first and just after its last (None: there is none). Returns the (id, new rank) pairs that change;
    empty when the task is already there (``up`` from the first, ...).

    ``up`` / ``down`` swap two ranks. Under ``fair`` only an owner's own order counts, so ``front`` / ``back`` give
    one new rank, halfway to the neighbouring task (so that the order of the owners' first tasks, which breaks
    ties between owners never served, stays as it was too). Under ``fifo``, or once halving leaves no float between
    the two (some fifty moves into the same gap), the owner's tasks share out the ranks they hold instead: one
    write per task that changes place, and every other task keeps its place in the one queue."""
    ids = [i for i, _ in own]
    at = ids.index(task_id)
    target = {"front": 0, "up": max(at - 1, 0), "down": min(at + 1, len(ids) - 1), "back": len(ids) - 1}[to]
    if target == at:
        return []
    if to == "front" and policy == "fair":
        first = own[0][1]
        rank = first - 1 if before is None else (before + first) / 2
        if before is None or before < rank < first:
            return [(task_id, rank)]
    if to == "back" and policy == "fair":
        last = own[-1][1]
        rank = last + 1 if after is None else (last + after) / 2
        if after is None or last < rank < after:
            return [(task_id, rank)]
    ids.insert(target, ids.pop(at))
    return [(moved, rank) for moved, (was, rank) in zip(ids, own, strict=True) if moved != was]
