"""sRGB transfer functions and the sRGB-correct mip pyramid, in numpy.

The GL renderer stores panoramas as SRGB8 textures: the GPU decodes texels to linear light
before filtering, and mipmaps of sRGB textures are averaged in linear light. The CPU reference
(``reference.py``) uses these functions to do the same maths.
"""

from __future__ import annotations

import numpy as np

from vrdream.quantize import to_uint8


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 decode of values in [0, 1] (any shape), float64."""
    c = np.asarray(c, dtype=np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 encode of linear values, clipped to [0, 1] (any shape), float64."""
    c = np.clip(np.asarray(c, dtype=np.float64), 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055)


def srgb8_to_linear(u8: np.ndarray) -> np.ndarray:
    """Decode uint8 sRGB (any shape) to linear float64 through a 256-entry table (as GPUs do)."""
    return _DECODE_LUT[np.asarray(u8)]


_DECODE_LUT = srgb_to_linear(np.arange(256) / 255.0)


def mip_chain_sizes(width: int, height: int) -> list[tuple[int, int]]:
    """``(width, height)`` of every mip level, GL style: halve and floor, down to 1×1."""
    sizes = [(width, height)]
    while sizes[-1] != (1, 1):
        w, h = sizes[-1]
        sizes.append((max(w // 2, 1), max(h // 2, 1)))
    return sizes


def srgb_mip_pyramid(level0: np.ndarray) -> list[np.ndarray]:
    """All mip levels (h_i, w_i, C) uint8 of an sRGB8 image (H, W, C), averaged in linear light.

    Each level is the 2×2 box average of the previous 8-bit level, re-encoded to 8 bits, which
    is what ``glGenerateMipmap`` does on an SRGB8 texture in Mesa. An odd dimension drops its
    last row/column (exact only for power-of-two sizes, which is what the tests use).
    """
    levels = [np.asarray(level0, dtype=np.uint8)]
    for w, h in mip_chain_sizes(level0.shape[1], level0.shape[0])[1:]:
        prev = srgb8_to_linear(levels[-1])
        fy, fx = (2 if prev.shape[0] > 1 else 1), (2 if prev.shape[1] > 1 else 1)
        crop = prev[: h * fy, : w * fx]
        mean = crop.reshape(h, fy, w, fx, -1).mean(axis=(1, 3))
        levels.append(to_uint8(linear_to_srgb(mean)))
    return levels
