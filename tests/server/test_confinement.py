"""What a client may name on the server: models, LoRAs and palette files only inside the configured roots, with one
message for everything outside them (no file-system probing), and task ids that are its own."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from serverkit import QUICK, submit, wait_finished

from pixelforge.server.task_ids import candidates, stored_id
from pixelforge.testing.live_server import LiveServer


def _refusal(client: httpx.Client, field: str, spec: str) -> str:
    response = client.post("/api/v1/tasks", json={**QUICK, field: spec})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", field]
    return response.json()["message"].replace(spec, "<spec>")


def test_models_outside_the_roots_are_unknown_whatever_is_there(alice: httpx.Client, tiny_qwen_dir: Path,
                                                                tmp_path: Path) -> None:
    (tmp_path / "a-dir").mkdir()
    (tmp_path / "a-file").write_text("x")
    probes = [str(tiny_qwen_dir), str(tmp_path / "a-dir"), str(tmp_path / "a-file"), str(tmp_path / "nothing"),
              "/", "/etc/passwd", "../../..", "models/../../../etc", str(tmp_path / ("a" * 300))]
    messages = {_refusal(alice, "model", spec) for spec in probes}
    assert len(messages) == 1, messages


def test_loras_outside_the_roots_are_unknown_whatever_is_there(alice: httpx.Client, tiny_lora: Path,
                                                               tmp_path: Path) -> None:
    (tmp_path / "dir.safetensors").mkdir()
    probes = [str(tiny_lora), str(tmp_path / "dir.safetensors"), str(tmp_path / "none.safetensors"),
              "../" * 8 + "etc/passwd", str(tiny_lora.parent), "x\x00y.safetensors"]
    messages = {_refusal(alice, "lora", spec) for spec in probes}
    assert len(messages) == 1, messages


def test_palette_files_outside_the_roots_are_unknown_whatever_is_there(alice: httpx.Client, tmp_path: Path) -> None:
    (tmp_path / "real.hex").write_text("ff0000\n00ff00\n")  # a palette: its colours would come back in .hex
    (tmp_path / "secret.hex").write_text("not a colour\n")  # its first line would be quoted in the error
    (tmp_path / "dir.gpl").mkdir()
    probes = [str(tmp_path / "real.hex"), str(tmp_path / "secret.hex"), str(tmp_path / "dir.gpl"),
              str(tmp_path / "none.gpl"), "../" * 8 + "etc/passwd.hex", "/etc/passwd", "x\x00y.hex"]
    messages = set()
    for spec in probes:
        response = alice.post("/api/v1/tasks", json={**QUICK, "pixel": {"palette": spec}})
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["body", "pixel"]
        messages.add(response.json()["message"].replace(spec, "<spec>"))
    assert len(messages) == 1, messages


def test_palettes_built_in_or_in_the_models_folder_are_named_by_name(alice: httpx.Client, keyed: LiveServer,
                                                                    paused: None) -> None:
    models_root = keyed.runtime.settings.models_root
    models_root.mkdir(parents=True, exist_ok=True)
    mine = models_root / "mine.hex"
    mine.write_text("ff0000\n00ff00\n")
    try:
        assert submit(alice, pixel={"palette": "mine.hex"})["params"]["pixel"]["palette"] == str(mine)
        assert submit(alice, pixel={"palette": "Pico-8"})["params"]["pixel"]["palette"] == "Pico-8"
    finally:
        mine.unlink()


def test_models_and_loras_in_their_folders_are_named_by_name(alice: httpx.Client, keyed: LiveServer,
                                                             tiny_qwen_dir: Path, tiny_lora: Path,
                                                             paused: None) -> None:
    settings = keyed.runtime.settings
    settings.models_root.mkdir(parents=True, exist_ok=True)
    settings.loras_root.mkdir(parents=True, exist_ok=True)
    # An admin links what it publishes into the folders: links inside a root are followed.
    links = [settings.models_root / "tiny", settings.loras_root / "tiny_lora.safetensors"]
    links[0].symlink_to(tiny_qwen_dir, target_is_directory=True)
    links[1].symlink_to(tiny_lora)
    try:
        task = submit(alice, model="tiny", lora="tiny_lora")
        assert Path(task["params"]["model"]) == links[0] and Path(task["params"]["lora"]) == links[1]
        assert alice.get("/sdapi/v1/loras").json()[0]["name"] == "tiny_lora"
        outside = alice.post("/api/v1/tasks", json={**QUICK, "model": "tiny/../../.."})
        assert outside.status_code == 422
    finally:
        for link in links:
            link.unlink()


def test_an_admin_widens_the_roots(keyed: LiveServer, alice: httpx.Client, tiny_qwen_dir: Path,
                                   paused: None) -> None:
    settings = keyed.runtime.settings
    settings.extra_model_roots.append(tiny_qwen_dir.parent)
    try:
        assert submit(alice, model=str(tiny_qwen_dir))["params"]["model"] == str(tiny_qwen_dir)
    finally:
        settings.extra_model_roots.remove(tiny_qwen_dir.parent)


def test_a1111_checkpoints_are_confined_too(alice: httpx.Client, tiny_qwen_dir: Path) -> None:
    for spec in (str(tiny_qwen_dir), "/nowhere"):
        response = alice.post("/sdapi/v1/options", json={"sd_model_checkpoint": spec})
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "sd_model_checkpoint"]
    response = alice.post("/sdapi/v1/txt2img", json={**QUICK, "override_settings": {
        "sd_model_checkpoint": str(tiny_qwen_dir)}})
    assert response.status_code == 422


@pytest.mark.parametrize("chosen", ["shared.v1", "task(txt2img-aaaaaaaaaaaaaaaa)"])
def test_task_ids_are_per_identity(alice: httpx.Client, bob: httpx.Client, chosen: str) -> None:
    first = submit(alice, id=chosen, prompt="alice's")
    # Another identity reusing the id is not told it exists: it simply gets its own task.
    second = bob.post("/api/v1/tasks", json={**QUICK, "id": chosen, "prompt": "bob's"})
    assert second.status_code == 201, second.text
    assert second.json()["id"] == chosen
    assert alice.get(f"/api/v1/tasks/{chosen}").json()["params"]["prompt"] == "alice's"
    assert bob.get(f"/api/v1/tasks/{chosen}").json()["params"]["prompt"] == "bob's"
    assert wait_finished(alice, first["id"])["state"] == "completed"
    assert wait_finished(bob, chosen)["state"] == "completed"
    assert alice.get(f"/api/v1/tasks/{chosen}/images/0.png").content != bob.get(
        f"/api/v1/tasks/{chosen}/images/0.png").content
    again = alice.post("/api/v1/tasks", json={**QUICK, "id": chosen})
    assert again.status_code == 409 and again.json()["message"] == f"a task with id {chosen} already exists"


def test_a1111_forced_task_ids_are_per_identity(alice: httpx.Client, bob: httpx.Client) -> None:
    for client in (alice, bob):
        response = client.post("/sdapi/v1/txt2img", json={**QUICK, "force_task_id": "task(webui-forced)"})
        assert response.status_code == 200, response.text
        assert '"task_id": "task(webui-forced)"' in response.json()["info"]
        progress = client.post("/internal/progress", json={"id_task": "task(webui-forced)"}).json()
        assert progress["completed"] is True


def test_an_admin_reaches_a_chosen_id_through_the_id_it_is_shown(alice: httpx.Client, admin: httpx.Client) -> None:
    task = wait_finished(alice, submit(alice, id="admin-sees-me")["id"])
    shown = [t["id"] for t in admin.get("/api/v1/tasks", params={"scope": "all", "limit": 200}).json()["tasks"]
             if t["id"].startswith("admin-sees-me")]
    assert len(shown) == 1 and shown[0] != "admin-sees-me"
    assert admin.get(f"/api/v1/tasks/{shown[0]}").json()["params"] == task["params"]
    assert admin.get("/api/v1/tasks/admin-sees-me").status_code == 404


def test_another_identity_s_stored_id_is_never_looked_up() -> None:
    """The miss path and the hit path do the same work (none): response time cannot tell that it exists."""
    alices = stored_id("key:alice", "secret-plan")
    assert candidates("key:bob", alices) == []
    assert candidates("key:alice", alices) == [alices]
    assert candidates("key:root", alices, admin=True) == [alices]


def test_another_identity_s_stored_id_answers_as_an_unknown_one(alice: httpx.Client, bob: httpx.Client,
                                                                admin: httpx.Client) -> None:
    task = wait_finished(alice, submit(alice, id="stored-form")["id"])
    stored = stored_id("key:alice", "stored-form")
    unknown = stored_id("key:alice", "never-submitted")
    assert bob.get(f"/api/v1/tasks/{stored}").json()["message"] == f"unknown task id: {stored}"
    assert bob.get(f"/api/v1/tasks/{unknown}").json()["message"] == f"unknown task id: {unknown}"
    assert alice.get(f"/api/v1/tasks/{stored}").json()["params"] == task["params"]
    assert admin.get(f"/api/v1/tasks/{stored}").status_code == 200
