"""The A1111 checkpoint hash of a model: SHA-256 of its weights, computed once per file version.

A1111 hashes one checkpoint file; a diffusers pipeline is a folder, so its hash here is the SHA-256 of
its ``*.safetensors`` files read in sorted path order. Models larger than ``HASH_LIMIT_BYTES`` are not
hashed (reading 40 GB on every listing would stall the server); A1111 too leaves ``sha256`` empty until
it has computed a hash. Torch-free, so the server may call it.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

HASH_LIMIT_BYTES = 2 * 2**30
_CHUNK = 2**20


def weights_sha256(path: Path, limit: int = HASH_LIMIT_BYTES) -> str | None:
    """Hex SHA-256 of the weights at ``path`` (a file or a pipeline folder); None when too large or none."""
    files = sorted(path.rglob("*.safetensors")) if path.is_dir() else [path]
    try:
        stats = [(str(f), f.stat()) for f in files]
    except OSError:
        return None
    versions = tuple((name, stat.st_size, stat.st_mtime_ns) for name, stat in stats)
    if not versions or sum(size for _, size, _ in versions) > limit:
        return None
    return _hash(versions)


@lru_cache(maxsize=64)
def _hash(versions: tuple[tuple[str, int, int], ...]) -> str:
    # Keyed on (path, size, mtime): a replaced file is hashed again, an unchanged one never twice.
    digest = hashlib.sha256()
    for name, _, _ in versions:
        with open(name, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def short_hash(sha256: str) -> str:
    """A1111's short hash: the first 10 hex digits, shown in titles as ``name [short]``."""
    return sha256[:10]
