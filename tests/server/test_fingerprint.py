"""The A1111 checkpoint hash: SHA-256 of the weights, recomputed only when a file changes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pixelforge.backends.fingerprint import short_hash, weights_sha256


def test_folder_hash_is_the_weights_in_path_order_and_follows_changes(tmp_path: Path) -> None:
    (tmp_path / "unet").mkdir()
    (tmp_path / "vae").mkdir()
    (tmp_path / "vae" / "w.safetensors").write_bytes(b"vae")
    (tmp_path / "unet" / "w.safetensors").write_bytes(b"unet")
    (tmp_path / "model_index.json").write_text("{}")  # not weights: not hashed
    assert weights_sha256(tmp_path) == hashlib.sha256(b"unetvae").hexdigest()
    (tmp_path / "vae" / "w.safetensors").write_bytes(b"VAE!")
    os.utime(tmp_path / "vae" / "w.safetensors", ns=(1, 1))  # a new version even on a coarse clock
    assert weights_sha256(tmp_path) == hashlib.sha256(b"unetVAE!").hexdigest()
    assert short_hash(weights_sha256(tmp_path) or "") == hashlib.sha256(b"unetVAE!").hexdigest()[:10]


def test_no_hash_for_too_large_missing_or_empty_weights(tmp_path: Path) -> None:
    (tmp_path / "w.safetensors").write_bytes(b"x" * 100)
    assert weights_sha256(tmp_path, limit=99) is None
    assert weights_sha256(tmp_path / "missing.safetensors") is None
    (tmp_path / "empty").mkdir()
    assert weights_sha256(tmp_path / "empty") is None  # a folder without weights
