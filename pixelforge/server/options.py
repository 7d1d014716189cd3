"""A1111 options a client set (``POST /sdapi/v1/options``), per identity, in memory and bounded:
at most MAX_KEYS keys of at most MAX_KEY_CHARS characters and MAX_OPTION_BYTES of JSON per
identity, and at most ``max_identities`` identities (the one that set options least recently goes
first), so no client can grow the server's memory without bound: 1,000 × 16 KiB = 16 MiB at most."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

MAX_KEYS = 64
MAX_KEY_CHARS = 128
MAX_OPTION_BYTES = 16 * 1024
MAX_IDENTITIES = 1000


class OptionsRefused(ValueError):
    """Options over the bounds; what was set before stays."""


class ClientOptions:
    def __init__(self, max_identities: int = MAX_IDENTITIES) -> None:
        self.max_identities = max_identities
        self._by_owner: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, owner: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._by_owner.get(owner, {}))

    def update(self, owner: str, values: dict[str, Any]) -> dict[str, Any]:
        """Set ``values`` (a null removes the option) all or nothing; returns the owner's options."""
        long_keys = [key for key in values if len(key) > MAX_KEY_CHARS]
        if long_keys:
            raise OptionsRefused(f"option names are at most {MAX_KEY_CHARS} characters")
        with self._lock:
            merged = {**self._by_owner.get(owner, {}), **values}
            merged = {key: value for key, value in merged.items() if value is not None}
            if len(merged) > MAX_KEYS:
                raise OptionsRefused(f"at most {MAX_KEYS} options per identity, this would make {len(merged)}")
            size = len(json.dumps(merged).encode())
            if size > MAX_OPTION_BYTES:
                raise OptionsRefused(f"at most {MAX_OPTION_BYTES} bytes of options per identity, this would "
                                     f"make {size}")
            self._by_owner.pop(owner, None)
            if merged:
                self._by_owner[owner] = merged
            while len(self._by_owner) > self.max_identities:
                self._by_owner.popitem(last=False)
            return dict(merged)
