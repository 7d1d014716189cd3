"""``POST /sdapi/v1/img2img``: AUTOMATIC1111's img2img and inpainting request, run as an img2img task.

The request is txt2img's plus the init images and the img2img fields; their A1111 integers
(``resize_mode``, ``inpainting_fill``, ``inpainting_mask_invert``) become the native options, and
the rest is answered exactly as txt2img is (``sdapi.generate``)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from pixelforge.server.deps import Caller, State
from pixelforge.server.sdapi import generate, to_params
from pixelforge.server.sdapi_models import IMG2IMG_DEFAULTS, IMG2IMG_USED_FIELDS, Img2ImgRequest, Img2ImgResponse
from pixelforge.server.uploads import base64_upload
from pixelforge.tasks.model import Img2ImgOptions, InpaintingFill, ResizeMode

router = APIRouter(tags=["automatic1111"])

RESIZE_MODES = [ResizeMode.JUST_RESIZE, ResizeMode.CROP_AND_RESIZE, ResizeMode.RESIZE_AND_FILL,
                ResizeMode.JUST_RESIZE]  # 3, "latent upscale", resizes the image as 0 does here
FILLS = [InpaintingFill.FILL, InpaintingFill.ORIGINAL, InpaintingFill.LATENT_NOISE, InpaintingFill.LATENT_NOTHING]


def img2img_options(body: Img2ImgRequest) -> Img2ImgOptions:
    return Img2ImgOptions(
        denoising_strength=body.denoising_strength,
        resize_mode=RESIZE_MODES[body.resize_mode],
        mask_blur=body.mask_blur if body.mask_blur is not None else max(body.mask_blur_x, body.mask_blur_y),
        inpaint_full_res=body.inpaint_full_res,
        inpaint_full_res_padding=body.inpaint_full_res_padding,
        inpainting_mask_invert=bool(body.inpainting_mask_invert),
        inpainting_fill=FILLS[body.inpainting_fill],
    )


@router.post("/sdapi/v1/img2img", summary="img2img and inpainting (blocking), A1111 style")
async def img2img(body: Img2ImgRequest, request: Request, state: State, caller: Caller) -> Img2ImgResponse:
    # Decoding up to 24 MB of base64 off the event loop: every SSE stream of the server shares that loop.
    upload = await asyncio.to_thread(base64_upload, body.init_images[0], body.mask, names=("init_images", "mask"))
    params, notes = await asyncio.to_thread(to_params, body, state.options.get(caller.owner), state.roots)
    params = params.model_copy(update={"img2img": img2img_options(body)})
    sent = body.model_dump(exclude_unset=True)
    notes["ignored_fields"] = [
        name for name in notes["ignored_fields"]
        if name not in IMG2IMG_USED_FIELDS and sent.get(name, None) != IMG2IMG_DEFAULTS.get(name, ...)
    ]
    if len(body.init_images) > 1:
        notes["ignored_fields"].append("init_images[1:]")
    answer = await generate(request, body, params, notes, state, caller, IMG2IMG_DEFAULTS, upload)
    return Img2ImgResponse.model_validate(answer.model_dump())
