"""Uploaded init images are stored without amplification (the client's own file when it reads back as
the same image), and an upload on a full disk is a 507 that leaves nothing behind."""

from __future__ import annotations

import io
import json
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from serverkit import QUICK, wait_finished

from pixelforge.config import Settings
from pixelforge.testing.disk import fill
from pixelforge.testing.live_server import LiveServer, start_server

SIDE = 384


def _noise(mode: str) -> Image.Image:
    """Incompressible pixels: the worst case for a PNG re-encoding."""
    rng = random.Random(7)
    return Image.frombytes(mode, (SIDE, SIDE), bytes(rng.getrandbits(8) for _ in range(SIDE * SIDE * len(mode))))


def _encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _upload(client: httpx.Client, data: bytes) -> httpx.Response:
    return client.post("/api/v1/tasks/upload", files={"init_image": ("init", data)}, data={"params": json.dumps(QUICK)})


def _stored(live: LiveServer, task: dict) -> Path:
    return live.runtime.settings.data_dir / live.runtime.service.get(task["id"]).inputs.init_image


@pytest.mark.parametrize(("fmt", "mode", "media_type"), [("JPEG", "RGB", "image/jpeg"), ("WEBP", "RGBA", "image/webp"),
                                                         ("PNG", "RGB", "image/png")])
def test_a_valid_file_is_stored_as_sent(keyed: LiveServer, alice: httpx.Client, fmt: str, mode: str,
                                        media_type: str) -> None:
    sent = _encoded(_noise(mode), fmt, quality=90)
    response = _upload(alice, sent)
    assert response.status_code == 201, response.text
    task = wait_finished(alice, response.json()["id"])
    assert task["state"] == "completed"  # the engine reads the file as stored
    assert _stored(keyed, task).read_bytes() == sent
    served = alice.get(task["inputs"]["init_image_url"])
    assert served.headers["content-type"] == media_type and served.content == sent


def test_a_file_that_reads_back_differently_is_stored_as_png(keyed: LiveServer, alice: httpx.Client) -> None:
    """A palette image with a transparent colour: the engine would lose its alpha reading it again."""
    image = _noise("RGB").quantize(16)
    image.info["transparency"] = 0
    response = _upload(alice, _encoded(image, "GIF", transparency=0))
    assert response.status_code == 201, response.text
    task = wait_finished(alice, response.json()["id"])
    with Image.open(_stored(keyed, task)) as stored:
        assert stored.format == "PNG" and stored.mode == "RGBA"


@pytest.fixture(scope="module")
def small_disk(server_model: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose images folder is a 256 KiB tmpfs of its own (mounting needs root, as the tests run)."""
    data_dir = tmp_path_factory.mktemp("small-disk")
    images = data_dir / "images"
    images.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(images)], capture_output=True,
                             text=True)
    assert mounted.returncode == 0, f"root could not mount a tmpfs: {mounted.stderr}"
    live = start_server(Settings(data_dir=data_dir, model=server_model))
    try:
        yield live
    finally:
        live.stop()
        subprocess.run(["umount", "-l", str(images)], check=True)


def test_an_upload_on_a_full_disk_is_507_and_leaves_nothing(small_disk: LiveServer) -> None:
    images = small_disk.runtime.settings.images_dir
    sent = _encoded(_noise("RGB"), "JPEG", quality=90)
    filler = fill(images)
    with small_disk.client(headers={"X-Client-Id": "full-disk-uploader"}) as client:
        try:
            response = _upload(client, sent)
            assert response.status_code == 507, response.text
            assert "disk is full" in response.json()["message"]
            assert sorted(path.name for path in images.rglob("*") if path.is_file()) == ["filler"]
            assert client.get("/api/v1/tasks").json()["total"] == 0
        finally:
            filler.unlink()
        response = _upload(client, sent)
        assert response.status_code == 201, response.text
        assert wait_finished(client, response.json()["id"])["state"] == "completed"
