"""Encoded test images for img2img: sprites, masks and the broken files a server must refuse."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def sprite(size: int = 32, seed: int = 0) -> Image.Image:
    """An RGBA sprite with many colours and a transparent border."""
    rng = np.random.default_rng(seed)
    rgba = np.zeros((size, size, 4), np.uint8)
    inner = slice(size // 8, size - size // 8)
    side = size - 2 * (size // 8)
    rgba[inner, inner, :3] = rng.integers(0, 256, (side, side, 3))
    rgba[inner, inner, 3] = 255
    return Image.fromarray(rgba, "RGBA")


def left_half_mask(width: int = 32, height: int = 32) -> Image.Image:
    """White (repaint) on the left half, black (keep) on the right half."""
    mask = np.zeros((height, width), np.uint8)
    mask[:, : width // 2] = 255
    return Image.fromarray(mask, "L")


def truncated_png(size: int = 32) -> bytes:
    """A real PNG cut off in the middle of its pixel data."""
    data = png_bytes(sprite(size))
    return data[: len(data) // 2]


def huge_header_png(width: int = 20000, height: int = 20000) -> bytes:
    """A tiny file whose header claims ``width × height`` pixels (a decompression bomb's signature)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(
        b"IEND", b"")
