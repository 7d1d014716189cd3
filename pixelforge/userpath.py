"""A path a user typed, with ``~`` expanded."""

from __future__ import annotations

from pathlib import Path


def expand_user(spec: str | Path) -> Path:
    """``spec`` with a leading ``~`` or ``~user`` expanded. An unknown user (``~nobody-here/x``) leaves it as
    written, a path that is not there, so callers report it like any other missing file (pathlib raises
    RuntimeError there, which no caller would expect from a bad name)."""
    path = Path(spec)
    try:
        return path.expanduser()
    except RuntimeError:
        return path
