"""The Redis store's queue order (``pixelforge/tasks/queue_order.py``): each queued task's rank is its score in the
``queued`` sorted set, each identity's turn its score in ``turns``. The claim script takes the first task in this
order (``_queue_order.lua``); places are read here, and moves write here.
"""

from __future__ import annotations

from typing import cast

import redis
from redis.client import Pipeline

from pixelforge.stores.redis.keys import RedisKeys
from pixelforge.stores.redis.records import text
from pixelforge.tasks.model import TaskState
from pixelforge.tasks.queue_order import NEVER_SERVED, MoveTo, Queued, QueuePolicy, reranked, serving_order
from pixelforge.tasks.store import TaskNotFound, TaskNotQueued


def serving_ids(queue: list[bytes], turns: list[bytes]) -> list[str]:
    """The fair order of the queue as ``queued_owners.lua`` reads it (id, owner, ... in rank order; identity,
    turn, ...)."""
    owned = [Queued(task_id.decode(), owner.decode()) for task_id, owner in zip(queue[::2], queue[1::2], strict=True)]
    return serving_order(owned, {who.decode(): float(turn) for who, turn in zip(turns[::2], turns[1::2], strict=True)},
                         "fair")


# What a sorted-set read with scores gives: (member, score) pairs.
Scored = list[tuple[bytes, float]]


def move(client: redis.Redis, keys: RedisKeys, task_id: str, to: MoveTo, run_next: bool,
         policy: QueuePolicy) -> None:
    """Rewrite the ranks (and for ``run_next`` the turn) a move changes, in one transaction that is tried again
    when the queue or the turns changed meanwhile (a claim, a cancel, another move)."""
    # redis-py types each reply as possibly awaitable (its async client shares the methods): the casts say what
    # this synchronous pipeline, in its immediate mode after WATCH, returns.
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                _watch(pipe, keys.queued, keys.turns)
                owner, state = cast(list[bytes | None], pipe.hmget(keys.task(task_id), ["owner", "state"]))
                if owner is None:
                    raise TaskNotFound(task_id)
                if state != TaskState.QUEUED.value.encode() or pipe.zscore(keys.queued, task_id) is None:
                    raise TaskNotQueued(task_id, TaskState(text(state) or ""))
                if run_next:
                    first = cast(Scored, pipe.zrange(keys.queued, 0, 0, withscores=True))[0][1]
                    least = cast(Scored, pipe.zrange(keys.turns, 0, 0, withscores=True))
                    turn = min([NEVER_SERVED, *(score for _, score in least)]) - 1
                    pipe.multi()
                    pipe.zadd(keys.queued, {task_id: first - 1}, xx=True)
                    pipe.zadd(keys.turns, {owner: turn})
                else:
                    mine = [member.decode() for member in cast(set[bytes], pipe.smembers(keys.active(owner.decode())))]
                    ranks = cast(list[float | None], pipe.zmscore(keys.queued, mine))
                    own = sorted(((m, r) for m, r in zip(mine, ranks, strict=True) if r is not None),
                                 key=lambda pair: pair[1])
                    before = cast(Scored, pipe.zrevrangebyscore(keys.queued, f"({own[0][1]!r}", "-inf", start=0,
                                                                num=1, withscores=True))
                    after = cast(Scored, pipe.zrangebyscore(keys.queued, f"({own[-1][1]!r}", "+inf", start=0, num=1,
                                                            withscores=True))
                    writes = reranked(own, task_id, to, policy, before[0][1] if before else None,
                                      after[0][1] if after else None)
                    pipe.multi()
                    if writes:
                        pipe.zadd(keys.queued, dict(writes), xx=True)
                pipe.execute()
                return
            except redis.WatchError:
                continue


def _watch(pipe: Pipeline, *names: str) -> None:
    pipe.watch(*names)  # type: ignore[no-untyped-call]  # redis-py leaves Pipeline.watch unannotated
