"""AUTOMATIC1111 wire format (stable-diffusion-webui v1.10.1): request and response bodies.

Fields that mean something here are typed, so a wrong value is a 422 that names the field; every
other field an A1111 client may send is accepted as an extra and reported in ``info`` as ignored.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# A1111's own defaults for a txt2img request, echoed in ``parameters`` for fields not sent.
TXT2IMG_DEFAULTS: dict[str, Any] = {
    "prompt": "",
    "negative_prompt": "",
    "styles": [],
    "seed": -1,
    "subseed": -1,
    "subseed_strength": 0.0,
    "seed_resize_from_h": -1,
    "seed_resize_from_w": -1,
    "sampler_name": None,
    "sampler_index": "Euler",
    "scheduler": None,
    "batch_size": 1,
    "n_iter": 1,
    "steps": 50,
    "cfg_scale": 7.0,
    "width": 512,
    "height": 512,
    "restore_faces": None,
    "tiling": None,
    "do_not_save_samples": False,
    "do_not_save_grid": False,
    "eta": None,
    "denoising_strength": None,
    "s_min_uncond": None,
    "s_churn": None,
    "s_tmax": None,
    "s_tmin": None,
    "s_noise": None,
    "override_settings": None,
    "override_settings_restore_afterwards": True,
    "refiner_checkpoint": None,
    "refiner_switch_at": None,
    "disable_extra_networks": False,
    "firstpass_image": None,
    "comments": None,
    "enable_hr": False,
    "firstphase_width": 0,
    "firstphase_height": 0,
    "hr_scale": 2.0,
    "hr_upscaler": None,
    "hr_second_pass_steps": 0,
    "hr_resize_x": 0,
    "hr_resize_y": 0,
    "hr_checkpoint_name": None,
    "hr_sampler_name": None,
    "hr_scheduler": None,
    "hr_prompt": "",
    "hr_negative_prompt": "",
    "force_task_id": None,
    "script_name": None,
    "script_args": [],
    "send_images": True,
    "save_images": False,
    "alwayson_scripts": {},
    "infotext": None,
}

# Fields that drive generation here; everything else is accepted and ignored.
USED_FIELDS = frozenset(
    {"prompt", "negative_prompt", "seed", "steps", "cfg_scale", "width", "height", "n_iter", "batch_size",
     "override_settings", "force_task_id", "send_images", "save_images", "sampler_name", "sampler_index"}
)
# Values of ignored fields that change nothing, so reporting them would only be noise.
HARMLESS = {**TXT2IMG_DEFAULTS, "sampler_name": "Euler", "scheduler": "automatic", "restore_faces": False,
            "tiling": False, "override_settings": {}}
SAMPLER = "Euler"


class Txt2ImgRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    prompt: str = Field(default="", description="What to draw.")
    negative_prompt: str = Field(default="", description="What to avoid.")
    seed: int = Field(default=-1, ge=-1, lt=2**32, description="-1 picks a random seed.")
    steps: int | None = Field(default=None, ge=1, description="Denoising steps; the model's default if not sent.")
    cfg_scale: float | None = Field(default=None, ge=0.0, le=50.0, description="CFG scale; model default if unset.")
    width: int | None = Field(default=None, ge=16, description="Width; rounded to a multiple of 16.")
    height: int | None = Field(default=None, ge=16, description="Height; rounded to a multiple of 16.")
    n_iter: int = Field(default=1, ge=1, description="Batch count: jobs run one after another.")
    batch_size: int = Field(default=1, ge=1, description="Images per job.")
    sampler_name: str | None = Field(default=None, description="Only 'Euler' (the model's flow-matching sampler).")
    sampler_index: str | None = Field(default=None, description="Older name of sampler_name.")
    override_settings: dict[str, Any] | None = Field(
        default=None, description="Only sd_model_checkpoint has an effect: the model for this request."
    )
    force_task_id: str | None = Field(default=None, description="Task id to use, so /internal/progress can follow it.")
    send_images: bool = Field(default=True, description="false returns no images (they are still saved).")
    save_images: bool = Field(default=False, description="Accepted; images are always saved in the data dir.")

    def echo(self) -> dict[str, Any]:
        """The request as the response's ``parameters`` repeats it."""
        return self.model_dump(exclude_unset=True)


class Txt2ImgResponse(BaseModel):
    images: list[str] = Field(description="Base64 PNGs without a data: prefix.")
    parameters: dict[str, Any] = Field(description="The request, with defaults and resolved values filled in.")
    info: str = Field(description="JSON string: prompt, all_prompts, seed, all_seeds, infotexts, ...")


class ProgressState(BaseModel):
    skipped: bool
    interrupted: bool
    stopping_generation: bool
    job: str
    job_count: int
    job_timestamp: str
    job_no: int
    sampling_step: int
    sampling_steps: int


class ProgressResponse(BaseModel):
    progress: float
    eta_relative: float
    state: ProgressState
    current_image: str | None
    textinfo: str | None


class InternalProgressRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    id_task: str | None = Field(default=None, description="The task to follow (its force_task_id).")
    id_live_preview: int = Field(default=-1, description="Id of the preview the client already shows.")
    live_preview: bool = Field(default=True, description="Whether to send a new preview when there is one.")


class InternalProgressResponse(BaseModel):
    active: bool
    queued: bool
    completed: bool
    progress: float | None = None
    eta: float | None = None
    live_preview: str | None = None
    id_live_preview: int | None = None
    textinfo: str | None = None


class StopAnswer(BaseModel):
    """A1111 answers an interrupt with {} (a skip with null); pixelforge adds why nothing happened when nothing
    did."""

    detail: str | None = Field(default=None, description="Set only when none of your tasks was running.")


class ScriptsList(BaseModel):
    txt2img: list[str] = Field(default_factory=list, description="Always-on and selectable scripts: none here.")
    img2img: list[str] = Field(default_factory=list, description="Always-on and selectable scripts: none here.")


class PendingTasks(BaseModel):
    size: int = Field(description="Queued tasks of all identities.")
    tasks: list[str] = Field(description="Your queued task ids, in queue order.")


class SdModel(BaseModel):
    title: str
    model_name: str
    hash: str | None = None
    sha256: str | None = None
    filename: str
    config: str | None = None


class Sampler(BaseModel):
    name: str
    aliases: list[str]
    options: dict[str, str]


class Scheduler(BaseModel):
    name: str
    label: str
    aliases: list[str] | None = None
    default_rho: float = -1.0
    need_inner_model: bool = False


class Lora(BaseModel):
    name: str
    alias: str
    path: str
    metadata: dict[str, Any] = Field(default_factory=dict)


# A1111's own defaults for an img2img request (its txt2img fields without the hires-fix ones, and the
# img2img fields), echoed in ``parameters`` for fields not sent.
IMG2IMG_DEFAULTS: dict[str, Any] = {
    **{k: v for k, v in TXT2IMG_DEFAULTS.items()
       if not k.startswith(("hr_", "firstphase_")) and k not in {"enable_hr", "firstpass_image"}},
    "init_images": None,
    "resize_mode": 0,
    "image_cfg_scale": None,
    "mask": None,
    "mask_blur_x": 4,
    "mask_blur_y": 4,
    "mask_blur": None,
    "mask_round": True,
    "inpainting_fill": 0,
    "inpaint_full_res": True,
    "inpaint_full_res_padding": 0,
    "inpainting_mask_invert": 0,
    "initial_noise_multiplier": None,
    "latent_mask": None,
    "denoising_strength": 0.75,
    "include_init_images": False,
}
# The img2img fields that drive generation here (besides USED_FIELDS).
IMG2IMG_USED_FIELDS = frozenset(
    {"init_images", "mask", "denoising_strength", "resize_mode", "mask_blur", "mask_blur_x", "mask_blur_y",
     "inpainting_fill", "inpaint_full_res", "inpaint_full_res_padding", "inpainting_mask_invert"}
)


class Img2ImgRequest(Txt2ImgRequest):
    init_images: list[str] = Field(min_length=1, description="Base64 images (plain or data: URLs); the first is "
                                   "used, as the init image of every image of the request.")
    mask: str | None = Field(default=None, description="Base64 mask of the init image's size; white = repaint.")
    denoising_strength: float = Field(default=0.75, ge=0.0, le=1.0, description="0 returns the input, 1 ignores it.")
    resize_mode: int = Field(default=0, ge=0, le=3, description="0 just resize, 1 crop and resize, 2 resize and fill, "
                             "3 (latent upscale) as 0.")
    mask_blur: int | None = Field(default=None, ge=0, le=64, description="Mask blur radius (sets both x and y).")
    mask_blur_x: int = Field(default=4, ge=0, le=64, description="Mask blur; the larger of x and y is used.")
    mask_blur_y: int = Field(default=4, ge=0, le=64, description="Mask blur; the larger of x and y is used.")
    inpainting_fill: int = Field(default=0, ge=0, le=3, description="0 fill, 1 original, 2 latent noise, "
                                 "3 latent nothing.")
    inpaint_full_res: bool = Field(default=True, description="Inpaint only the masked area, at full size.")
    inpaint_full_res_padding: int = Field(default=0, ge=0, le=1024, description="Padding of 'only masked'.")
    inpainting_mask_invert: int = Field(default=0, ge=0, le=1, description="1 repaints the black part instead.")

    def echo(self) -> dict[str, Any]:
        """As A1111 does, the images are not repeated back."""
        return {**super().echo(), "init_images": None, "mask": None}


class Img2ImgResponse(Txt2ImgResponse):
    """A1111's img2img answer: the same shape as txt2img's."""
