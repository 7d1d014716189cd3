"""The Lua scripts of the Redis TaskStore: each is one atomic step, as each SQLite transaction is one.

Every script that changes what a watcher sees appends the matching event in the same step (a task
and its ``queued`` event, an image and its ``image`` event, a terminal state and its terminal event).
Task ids, times and JSON documents come in ARGV; keys in KEYS. Each script is a ``.lua`` file beside this
module whose header comment documents its KEYS, its ARGV and what it returns; a ``-- Uses:`` line names the
helper files (``_*.lua``: functions shared by several scripts) that are put before it, since a script sent
to EVAL cannot import anything.
"""

from __future__ import annotations

import re
from importlib.resources import files

_USES = re.compile(r"^-- Uses: (.+)$", re.MULTILINE)


def _read(file_name: str) -> str:
    return files(__package__).joinpath(file_name).read_text(encoding="utf-8")


def _script(name: str) -> str:
    """The script ``<name>.lua``, after the helper files its ``-- Uses:`` line names."""
    text = _read(f"{name}.lua")
    uses = _USES.search(text)
    helpers = uses.group(1).split(", ") if uses else []
    return "\n".join([*(_read(helper) for helper in helpers), text])


CREATE = _script("create")
CLAIM = _script("claim")
TAKE_OVER = _script("take_over")
APPEND_EVENT = _script("append_event")
ADD_IMAGE = _script("add_image")
ADD_PREVIEW = _script("add_preview")
FINISH = _script("finish")
REQUEST_STOP = _script("request_stop")
RECOVER = _script("recover")
FINISH_JOB = _script("finish_job")
RETURN_JOB = _script("return_job")
JOB_PROGRESS = _script("job_progress")
SPLIT_PROGRESS = _script("split_progress")
RENEW = _script("renew")
CANCEL_QUEUED = _script("cancel_queued")
SCHEMA = _script("schema")
QUEUED_OWNERS = _script("queued_owners")
