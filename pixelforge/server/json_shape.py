"""The shape of a JSON body, bounded before anything parses it: at most MAX_JSON_VALUES values and
MAX_JSON_DEPTH levels of nesting.

Validation answers one error per bad element and runs on the event loop, so a 4 MB
``{"init_images": [0, 0, ...]}`` (two million errors) or two million unknown keys held every client
for close to a minute; nesting a few hundred levels deep broke the JSON encoder on the way back out
(a 500 on every later ``GET /sdapi/v1/options``). No request pixelforge takes comes near either
bound: its bodies are a few dozen fields and a few images (long strings, one value each).
"""

from __future__ import annotations

import re

MAX_JSON_VALUES = 10_000
MAX_JSON_DEPTH = 32

# A string (skipped whole: commas and brackets inside it are text), or one structural character.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]')
_OPENS = frozenset(b"[{")
_CLOSES = frozenset(b"]}")
_COMMA = ord(",")


def json_shape_problem(body: bytes) -> str | None:
    """Why ``body`` is too large or too deep in values, or None. Costs a byte count for the usual body
    (few commas and brackets anywhere, so few values) and stops at the first token over a bound
    otherwise: milliseconds whatever the body's size. A malformed body is left to the JSON parser."""
    opens = body.count(b"[") + body.count(b"{")
    if opens <= MAX_JSON_DEPTH and opens + body.count(b",") < MAX_JSON_VALUES:
        return None  # every structural character is among these bytes: neither bound can be reached
    depth = 0
    values = 1
    for token in _TOKEN.finditer(body):
        first = body[token.start()]
        if first in _OPENS:
            depth += 1
            values += 1
            if depth > MAX_JSON_DEPTH:
                return f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
        elif first in _CLOSES:
            depth -= 1
        elif first == _COMMA:
            values += 1
            if values > MAX_JSON_VALUES:
                return f"more than {MAX_JSON_VALUES} JSON values in one request"
    return None


def is_json(content_type: bytes | None) -> bool:
    """Whether FastAPI parses a body with this Content-Type as JSON (it does when there is none)."""
    if not content_type:
        return True
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")
