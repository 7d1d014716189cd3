"""Task ids as each identity sees them.

A client-chosen id belongs to the identity that chose it: it is stored with a digest of the owner
appended (``<id>~<digest>``), so two identities may choose the same id and neither can tell that
the other's exists. The owner sees and uses the id it chose; anyone else allowed to see the task
(an admin) sees and uses the stored id. Server-made ids carry 80 random bits and are stored as they are.
"""

from __future__ import annotations

import hashlib

from pixelforge.tasks.model import Task

# Never part of a chosen id (TASK_ID_PATTERN), so a stored id splits back without ambiguity.
SCOPE_MARK = "~"


def stored_id(owner: str, chosen: str) -> str:
    return f"{chosen}{SCOPE_MARK}{hashlib.sha256(owner.encode()).hexdigest()[:20]}"


def candidates(owner: str, requested: str, admin: bool = False) -> list[str]:
    """The stored ids a requested id may name, the caller's own first. A stored id names its owner (the
    digest): another identity's is not even looked up, unless the caller is an admin, so the answer does
    the same work and takes the same time whether that task exists or not (the digest of a guessable
    owner name is no secret)."""
    if SCOPE_MARK not in requested:
        return [stored_id(owner, requested), requested]
    chosen = requested.rpartition(SCOPE_MARK)[0]
    return [requested] if admin or requested == stored_id(owner, chosen) else []


def shown_id(task: Task, viewer: str) -> str:
    """The id ``viewer`` (an owner string) knows the task by."""
    return owner_shown_id(task.id) if task.owner == viewer else task.id


def owner_shown_id(task_id: str) -> str:
    """The id the task's owner knows it by (the one it chose, for a client-chosen id)."""
    chosen, mark, _ = task_id.rpartition(SCOPE_MARK)
    return chosen if mark else task_id
