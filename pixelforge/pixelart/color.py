"""sRGB <-> CIELAB (D65) and ΔE76: the perceptual space every colour decision is made in."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

# sRGB primaries -> XYZ (D65), and the D65 white point used to normalise XYZ.
_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
_WHITE = _RGB_TO_XYZ.sum(axis=1)
_EPS = 216 / 24389
_KAPPA = 24389 / 27


def srgb_to_lab(rgb: NDArray[np.generic]) -> FloatArray:
    """Colours in 0..255 sRGB (any leading shape, last axis 3) to CIELAB."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _RGB_TO_XYZ.T / _WHITE
    f = np.where(xyz > _EPS, np.cbrt(xyz), (_KAPPA * xyz + 16) / 116)
    lab = np.empty_like(f)
    lab[..., 0] = 116 * f[..., 1] - 16
    lab[..., 1] = 500 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200 * (f[..., 1] - f[..., 2])
    return lab


def lab_to_srgb(lab: NDArray[np.generic]) -> NDArray[np.uint8]:
    """CIELAB to 0..255 sRGB, rounded and clipped to the gamut."""
    values = np.asarray(lab, dtype=np.float64)
    fy = (values[..., 0] + 16) / 116
    fx = fy + values[..., 1] / 500
    fz = fy - values[..., 2] / 200
    f = np.stack([fx, fy, fz], axis=-1)
    xyz = np.where(f**3 > _EPS, f**3, (116 * f - 16) / _KAPPA) * _WHITE
    linear = np.clip(xyz @ _XYZ_TO_RGB.T, 0.0, 1.0)
    c = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.clip(np.rint(c * 255), 0, 255).astype(np.uint8)


def delta_e(a: NDArray[np.generic], b: NDArray[np.generic]) -> FloatArray:
    """ΔE76 between broadcastable arrays of Lab colours."""
    return np.sqrt(((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2).sum(axis=-1))


def pairwise_delta_e(a: NDArray[np.generic], b: NDArray[np.generic]) -> FloatArray:
    """ΔE76 matrix between Lab colours ``a`` (n, 3) and ``b`` (m, 3), without an (n, m, 3) temporary."""
    fa = np.asarray(a, dtype=np.float64)
    fb = np.asarray(b, dtype=np.float64)
    d2 = (fa * fa).sum(1)[:, None] + (fb * fb).sum(1)[None, :] - 2.0 * fa @ fb.T
    return np.sqrt(np.maximum(d2, 0.0))


def hex_to_rgb(text: str) -> tuple[int, int, int]:
    """``#RRGGBB`` / ``RRGGBB`` to an RGB tuple; raises ``ValueError`` on anything else."""
    s = text.strip().removeprefix("#")
    if len(s) != 6 or any(ch not in "0123456789abcdefABCDEF" for ch in s):
        raise ValueError(f"not a hex colour: {text!r}")
    return int(s[0:2], 16), int(s[2:4], 16), int(s[4:6], 16)


def rgb_to_hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02X}{:02X}{:02X}".format(*rgb)


# JPEG's (BT.601 full-range) YCbCr: luma and chroma are degraded differently by JPEG (4:2:0 subsampling blurs
# chroma twice as much), so blur is estimated and undone per group in this space.
_RGB_TO_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_YCC_TO_RGB = np.linalg.inv(_RGB_TO_YCC)


def rgb_to_ycc(rgb: NDArray[np.generic]) -> NDArray[np.float32]:
    """0..255 RGB to YCbCr with Cb/Cr centred on 0 (float32)."""
    return np.asarray(rgb, dtype=np.float32) @ _RGB_TO_YCC.T.astype(np.float32)


def ycc_to_rgb(ycc: NDArray[np.generic]) -> NDArray[np.float32]:
    return np.asarray(ycc, dtype=np.float32) @ _YCC_TO_RGB.T.astype(np.float32)
