"""JSON bodies must be valid Unicode text: a lone surrogate (``"\\ud800"``) is legal JSON and a legal
Python string, but it cannot be stored in SQLite nor encoded back into a response, so it is refused
with 422 at the door, before any route sees it."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

_SURROGATE = re.compile("[\ud800-\udfff]")
# A surrogate reaches json.loads either escaped (\uD800) or as raw bytes, which it decodes with
# 'surrogatepass'; a body with neither needs no parsing here.
_MAYBE = re.compile(rb"\\u|\xed")


def _first_lone_surrogate(value: Any, path: tuple[str | int, ...]) -> tuple[tuple[str | int, ...], str] | None:
    if isinstance(value, str):
        return (path, "must be valid Unicode text (it has a lone surrogate)") if _SURROGATE.search(value) else None
    if isinstance(value, list):
        items: Any = enumerate(value)
    elif isinstance(value, dict):
        for key in value:
            if _SURROGATE.search(key):
                return path, "a key is not valid Unicode text (it has a lone surrogate)"
        items = value.items()
    else:
        return None
    for key, item in items:
        found = _first_lone_surrogate(item, (*path, key))
        if found is not None:
            return found
    return None


async def valid_text_body(request: Request) -> None:
    """App-wide dependency: 422 naming the field when a JSON body carries a lone surrogate."""
    if "json" not in request.headers.get("content-type", ""):
        return
    body = await request.body()
    if not _MAYBE.search(body):
        return
    try:
        parsed = json.loads(body)
    except ValueError:
        return  # malformed JSON: FastAPI's own parser reports it
    found = _first_lone_surrogate(parsed, ("body",))
    if found is not None:
        loc, msg = found
        raise RequestValidationError([{"loc": loc, "msg": msg, "type": "unicode"}])
