"""One settings object for every entry point (server, worker, CLI, Python API).

Values come from keyword arguments, then ``PIXELFORGE_*`` environment variables, then defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pixelforge.tasks.model import TaskLimits
from pixelforge.tasks.queue_order import QueuePolicy

OffloadMode = Literal["none", "model", "sequential"]

# Submission limits are settings too; TaskLimits declares their defaults, bounds and descriptions once.
LIMITS = TaskLimits.model_fields


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIXELFORGE_", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Task database, images and previews live here.")
    host: str = Field(default="127.0.0.1", description="Address the server binds to.")
    port: int = Field(default=7860, ge=1, le=65535, description="Port the server listens on.")
    model: str = Field(default="sprite", description="Default model: a preset name, a local pipeline "
                       "directory or a Hugging Face repo id already in the local cache.")
    device: str = Field(default="auto", description="'auto', 'cpu', 'cuda', 'cuda:1', 'mps'.")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        default="auto", description="Weights dtype; 'auto' uses the preset's dtype on GPU, float32 on CPU.")
    offload: OffloadMode = Field(default="none", description="diffusers CPU offload: none, model, sequential.")
    history_limit: int = Field(
        default=200, ge=1, description="Finished tasks kept per identity; its older ones are pruned (with their "
        "files), never another identity's.")
    history_limit_total: int = Field(
        default=5000, ge=1, description="Finished tasks kept in all: past it, the identity that keeps the most loses "
        "its oldest first.")
    preview_every: int = Field(default=2, ge=0, description="Publish a live preview every N steps (0 = off).")
    preview_format: Literal["png", "jpeg", "webp"] = Field(default="png", description="Live preview encoding.")
    runahead_blocks: int = Field(
        default=1, ge=0, description="CUDA only: how many blocks the CPU may launch ahead of the GPU, so a stop "
        "lands within about that many blocks (1 measured at 0.3 % throughput cost on an H100; 0 = unbounded).")
    max_steps: Annotated[int, LIMITS["max_steps"]]
    max_side: Annotated[int, LIMITS["max_side"]]
    max_batch_count: Annotated[int, LIMITS["max_batch_count"]]
    max_batch_size: Annotated[int, LIMITS["max_batch_size"]]
    max_images_per_task: Annotated[int, LIMITS["max_images_per_task"]]
    max_prompt_chars: Annotated[int, LIMITS["max_prompt_chars"]]
    worker_stuck_s: float = Field(
        default=900.0, gt=0, description="A worker that runs a task without any sign of progress (a step, an "
        "image, a preview) for this long is reported stuck by the health route; loading a big model counts.")
    debug_steps: bool = Field(default=False, description="Log every step's callback data (DebugCallback).")
    api_keys: dict[str, str] = Field(default_factory=dict, description="name -> key; empty = client-id mode.")
    admin_keys: dict[str, str] = Field(default_factory=dict, description="name -> key with admin rights.")
    max_active_per_identity: Annotated[int, LIMITS["max_active_per_identity"]]
    max_queued_total: Annotated[int, LIMITS["max_queued_total"]]
    max_input_pixels: Annotated[int, LIMITS["max_input_pixels"]]
    max_input_bytes_per_identity: Annotated[int, LIMITS["max_input_bytes_per_identity"]]
    queue_policy: QueuePolicy = Field(
        default="fair", description="'fair': identities with queued tasks take turns (round-robin, the least recently "
        "served first), each identity's own tasks in their order; 'fifo': first in, first out for everyone. Read by "
        "whatever claims tasks (the server, or in distributed mode every API server and worker: set it alike).")
    max_body_bytes: int = Field(default=1_000_000, ge=1024, description="Largest HTTP request body accepted.")
    max_image_body_bytes: int = Field(
        default=24_000_000, ge=1024,
        description="Largest body on the routes that take images (task submissions, /sdapi/v1/img2img): a photo.")
    body_timeout_s: float = Field(
        default=30.0, gt=0, description="Seconds a request body may take to arrive; slower ones get HTTP 408.")
    header_timeout_s: float = Field(
        default=10.0, gt=0, description="Seconds a request's headers may take to arrive; then HTTP 408 and the "
        "connection is closed.")
    max_image_scale: int = Field(default=16, ge=1, description="Largest ?scale= for nearest-upscaled images.")
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS; empty (the default) turns CORS off. '*' "
        "allows every origin, without credentials (cookies, HTTP auth).")
    allowed_hosts: list[str] | None = Field(
        default=None, description="Host header values the server answers: names, '*.example.com' or '*'. Unset: "
        "localhost names when bound to a loopback address (against DNS rebinding), any host otherwise.")
    models_dir: Path | None = Field(
        default=None, description="Pipeline folders HTTP clients may name as a model (default: <data dir>/models).")
    loras_dir: Path | None = Field(
        default=None, description="LoRA files HTTP clients may name (default: <data dir>/loras).")
    extra_model_roots: list[Path] = Field(
        default_factory=list, description="Further folders whose models and LoRAs HTTP clients may name by path, "
        "beyond the models and LoRA folders and the Hugging Face cache (an operator's choice).")

    redis_url: str | None = Field(
        default=None, description="Distributed mode: the Redis server (redis://host:port/db) that API servers and "
        "workers share; unset, one process keeps its tasks in SQLite under the data dir.")
    redis_namespace: str = Field(
        default="pixelforge", min_length=1, description="Prefix of every Redis key: one deployment per namespace.")
    worker_lease_s: float = Field(
        default=6.0, gt=0, description="Distributed mode: a worker beats (renews the lease on its task) every third "
        "of this; one silent for this long is lost: health answers 503 naming it, and another worker takes its task "
        "over.")
    worker_max_attempts: int = Field(
        default=2, ge=1, description="Distributed mode: how often a task may be started in all when its workers "
        "die under it; then it fails with the reason (1: fail at the first death, never run twice).")
    split_batches: bool = Field(
        default=False, description="Distributed mode: the jobs of a batch (batch_count > 1) run on several workers "
        "at once, one job per free worker; images keep their order. Read by the API servers, which queue the jobs.")
    callback_hosts: list[str] = Field(
        default_factory=list, description="Hosts (names or addresses, exactly) a task's callback_url may name; "
        "empty (the default): every callback_url is refused. The server sends to no other address, ever.")
    callback_secret: str = Field(
        default="", description="Key of the HMAC-SHA256 signature of every end notice (X-Pixelforge-Signature: "
        "sha256=<hex>); callback URLs are refused while it is empty.")
    callback_attempts: int = Field(default=5, ge=1, le=20, description="Tries of one end notice in all.")
    callback_retry_s: float = Field(
        default=1.0, gt=0, le=3600, description="Seconds before the first retry of a failed end notice; each "
        "further retry waits twice as long.")

    @property
    def db_path(self) -> Path:
        return self.data_dir / "tasks.sqlite3"

    @property
    def images_dir(self) -> Path:
        return self.data_dir / "images"

    @property
    def models_root(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    @property
    def loras_root(self) -> Path:
        return self.loras_dir or self.data_dir / "loras"
