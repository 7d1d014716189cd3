"""Request and response bodies of the OpenAI Images API (``/v1``), as OpenAI's clients send and read them.

OpenAI's own fields are all accepted; those that mean nothing here (``quality``, ``style``, ``user``,
``background``, ...) are ignored. pixelforge's own parameters (``steps``, ``seed``, ``negative_prompt``,
``cfg_scale``, ``pixel``, and ``strength`` for edits) ride along as extras (the openai SDK's
``extra_body``). Anything else is refused, so that a misspelt extra is an error, not silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pixelforge.pixelart.options import PixelOptions

SIZE_PATTERN = re.compile(r"^(\d{1,5})x(\d{1,5})$")
# OpenAI's model names: a client that names one (LibreChat sends gpt-image-1) gets the server's default model.
OPENAI_MODEL_PREFIXES = ("gpt-image", "dall-e", "chatgpt-image")
# Most images OpenAI's API returns per request.
MAX_N = 10


class ImagesRequest(BaseModel):
    """What both image routes take."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, description="What to draw.")
    model: str | None = Field(default=None, description="A model `GET /v1/models` lists; OpenAI's names (gpt-image-1, "
                              "dall-e-3, ...) and null mean the server's default model.")
    n: int = Field(default=1, ge=1, le=MAX_N, description="How many images (denoised together, as one batch).")
    size: str | None = Field(default="auto", description="WIDTHxHEIGHT (multiples of 16), or 'auto': the model's "
                             "own size. A model that draws at one native size (the sprite model's 32x32) returns its "
                             "image nearest-upscaled to the size asked for.")
    response_format: Literal["b64_json", "url"] | None = Field(
        default=None, description="b64_json (the default) or url: an image URL of this server, served to the same "
        "API key (or, without keys, to the same client).")
    # OpenAI's fields that change nothing here.
    quality: str | None = None
    style: str | None = None
    user: str | None = None
    background: str | None = None
    moderation: str | None = None
    output_format: str | None = Field(default=None, description="Ignored: images are PNG.")
    output_compression: int | None = None
    partial_images: int | None = None
    stream: bool | None = Field(default=None, description="Streaming is not supported; false or absent.")
    # pixelforge's own parameters.
    negative_prompt: str = Field(default="", description="pixelforge: what to avoid.")
    steps: int | None = Field(default=None, description="pixelforge: denoising steps (the model's default if unset).")
    seed: int = Field(default=-1, description="pixelforge: -1 picks a random seed.")
    cfg_scale: float | None = Field(default=None, description="pixelforge: classifier-free guidance scale.")
    pixel: PixelOptions | None = Field(default=None, description="pixelforge: the pixel-art stage's options.")


class EditRequest(ImagesRequest):
    """The form fields of an edit (the image and the mask are file parts)."""

    input_fidelity: str | None = None
    strength: float | None = Field(
        default=None, description="pixelforge: how much of the image is redrawn, 0..1 (1 with a mask: the transparent "
        "area is painted anew; 0.75 without one).")


class ImageData(BaseModel):
    b64_json: str | None = Field(default=None, description="The PNG, base64.")
    url: str | None = Field(default=None, description="Where to GET the PNG (same identity).")
    revised_prompt: str | None = Field(default=None, description="Always null: the prompt is used as given.")


class ImagesResponse(BaseModel):
    created: int = Field(description="Unix time the task was submitted.")
    data: list[ImageData]
    output_format: Literal["png"] = "png"
    size: str | None = Field(default=None, description="WIDTHxHEIGHT of the images returned.")


class ModelCard(BaseModel):
    id: str = Field(description="The name to send as `model` (what `pixelforge models` prints).")
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "pixelforge"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(BaseModel):
    """OpenAI's error shape, which its SDKs turn into typed exceptions (BadRequestError, AuthenticationError...)."""

    error: ErrorDetail


class OpenAIError(Exception):
    """An error to answer in OpenAI's shape."""

    def __init__(self, status_code: int, message: str, *, type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = ErrorDetail(message=message, type=type, param=param, code=code)
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return ErrorBody(error=self.detail).model_dump()
