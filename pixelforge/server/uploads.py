"""Images sent in JSON bodies: base64 text (with or without a ``data:image/...;base64,`` prefix, as
browsers and A1111 clients send it) decoded to the bytes the task service checks."""

from __future__ import annotations

import base64
import binascii

from pixelforge.tasks.input_images import ImageUpload
from pixelforge.tasks.model import Problem
from pixelforge.tasks.service import InvalidTask


def decode_base64(value: str, field: str) -> bytes:
    """The bytes of a base64 image; InvalidTask naming ``field`` when it is not base64."""
    text = value.partition(",")[2] if value.startswith("data:") else value
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidTask([Problem(field=field, message="is not valid base64 (a data: URL or plain base64 of "
                                   "the image file)")]) from None


def base64_upload(init_image: str | None, mask: str | None, names: tuple[str, str] = ("init_image", "mask")
                  ) -> ImageUpload | None:
    """The upload a JSON body carries, None when it has no init image (a mask alone is refused)."""
    if init_image is None:
        if mask is not None:
            raise InvalidTask([Problem(field=names[1], message="a mask needs an init image")])
        return None
    return ImageUpload(init_image=decode_base64(init_image, names[0]),
                       mask=decode_base64(mask, names[1]) if mask is not None else None)
