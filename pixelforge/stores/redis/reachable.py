"""Connection faults of the Redis store said in the domain's words."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from pixelforge.stores.redis.keys import CONNECTION_ERRORS
from pixelforge.tasks.store import StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")


def reachable(method: Callable[P, R]) -> Callable[P, R]:
    """A Redis that stays unreachable through the client's retries is a StoreUnavailable (a 503 for HTTP
    clients, a logged fault that a worker retries), never a bare connection error."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except CONNECTION_ERRORS as exc:
            raise StoreUnavailable() from exc

    return call
