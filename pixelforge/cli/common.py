"""What every ``pixelforge`` command shares: exit codes, the usage error, settings from the options."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError

    from pixelforge.config import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
ENGINE_OPTIONS = ("device", "dtype", "offload", "debug_steps")


class UsageError(Exception):
    """Bad input: printed as one line, exit code 2."""


def validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "input"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def settings_from(args: argparse.Namespace, **extra: Any) -> Settings:
    """Settings from the command's options (over PIXELFORGE_* variables and defaults)."""
    from pydantic import ValidationError

    from pixelforge.config import Settings

    values = {
        name: getattr(args, name)
        for name in ("model", "device", "dtype", "offload", "host", "port", "data_dir", "queue_policy")
        if getattr(args, name, None) is not None
    }
    if getattr(args, "redis", None) is not None:
        values["redis_url"] = args.redis
    if getattr(args, "debug_steps", False):
        values["debug_steps"] = True
    values.update(extra)
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise UsageError(validation_message(exc)) from exc


def served_url(host: str, port: int | str) -> str:
    """The URL a client on this machine reaches a server bound to ``host``:``port`` at."""
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # a wildcard bind is reached on loopback
    return f"http://{host}:{port}"


def runtime_for(settings: Settings, url: str | None = None) -> Any:
    """The in-process runtime (``url``: where it is served); a device this machine does not have, a data dir
    another process holds, or a task database that cannot be opened, is said in one line."""
    from pixelforge.backends.diffusers import DeviceUnavailable
    from pixelforge.datadir_lock import DataDirInUse
    from pixelforge.runtime import Runtime
    from pixelforge.tasks.store import StoreUnreadable

    try:
        return Runtime(settings, url=url)
    except (DeviceUnavailable, DataDirInUse, StoreUnreadable) as exc:
        raise UsageError(str(exc)) from exc
