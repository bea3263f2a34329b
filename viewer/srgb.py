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


#: float64 values one strip of :func:`srgb_mip_level` decodes at a time (8 MiB): a 16384×8192 level
#: would be 3 GiB decoded whole.
_STRIP_VALUES = 1 << 20


def _halve(prev: np.ndarray) -> np.ndarray:
    """The next mip level of the uint8 sRGB level ``prev`` (h, w, C), decoded strip by strip."""
    w, h = mip_chain_sizes(prev.shape[1], prev.shape[0])[1]
    fy, fx = (2 if prev.shape[0] > 1 else 1), (2 if prev.shape[1] > 1 else 1)
    out = np.empty((h, w, prev.shape[2]), np.uint8)
    rows = max(1, _STRIP_VALUES // (fy * w * fx * prev.shape[2]))
    for y0 in range(0, h, rows):
        y1 = min(y0 + rows, h)
        block = prev[y0 * fy : y1 * fy, : w * fx]
        # The fy·fx texels of each output texel, decoded and summed (contiguous gathers: several
        # times faster than a mean over a reshaped float array).
        texels = [block[i::fy, j::fx] for i in range(fy) for j in range(fx)]
        total = srgb8_to_linear(texels[0])
        for t in texels[1:]:
            total += srgb8_to_linear(t)
        out[y0:y1] = encode_srgb8(total / len(texels))
    return out


def _encode_thresholds() -> np.ndarray:
    """For k = 1..255, the least float64 linear value that ``to_uint8(linear_to_srgb(.))`` maps to k or more.

    Found by bisection on the bit patterns of non-negative floats (ordered as their integers), so
    the table reproduces the rule exactly.
    """
    k = np.arange(1, 256)
    lo = np.zeros(255, np.int64)  # the bits of 0.0: maps below every k
    hi = np.full(255, np.float64(1.0).view(np.int64))  # 1.0 maps to 255
    while np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        reaches = to_uint8(linear_to_srgb(mid.view(np.float64))[None, :])[0] >= k
        hi, lo = np.where(reaches, mid, hi), np.where(reaches, lo, mid)
    return hi.view(np.float64)


_ENCODE_THRESHOLDS = _encode_thresholds()
#: Buckets of [0, 1) for :func:`encode_srgb8`: fine enough that no bucket holds two thresholds.
_BUCKETS = 1 << 16
_BUCKET_BELOW = np.searchsorted(_ENCODE_THRESHOLDS, np.arange(_BUCKETS) / _BUCKETS, side="right")
_BUCKET_NEXT = np.append(_ENCODE_THRESHOLDS, np.inf)[_BUCKET_BELOW]
assert np.all(np.searchsorted(_ENCODE_THRESHOLDS, (np.arange(_BUCKETS) + 1) / _BUCKETS) - _BUCKET_BELOW <= 1)


def encode_srgb8(linear: np.ndarray) -> np.ndarray:
    """``to_uint8(linear_to_srgb(linear))`` (any shape), bit for bit, through tables: the thresholds
    below each bucket of [0, 1) and the one threshold inside it. A mip level of a 16384×8192
    panorama encodes 100 M values, and the power function took most of the time."""
    linear = np.asarray(linear, dtype=np.float64)
    bucket = np.clip(linear * _BUCKETS, 0, _BUCKETS - 1).astype(np.intp)
    return (_BUCKET_BELOW[bucket] + (linear >= _BUCKET_NEXT[bucket])).astype(np.uint8)


def srgb_mip_level(image: np.ndarray, k: int) -> np.ndarray:
    """Mip level ``k`` (h_k, w_k, C) uint8 of the sRGB8 image (H, W, C), as :func:`srgb_mip_pyramid` has it.

    Only one level and one strip of floats are alive at a time, so a 16384×8192 panorama needs its
    own bytes and a quarter more, not gigabytes of float64. ``srgb_mip_level(level_j, 1)`` is
    level j + 1: callers that keep levels step from the last one.
    """
    image = np.asarray(image, dtype=np.uint8)
    if not 0 <= k < len(mip_chain_sizes(image.shape[1], image.shape[0])):
        raise ValueError(f"mip level {k} of a {image.shape[1]}x{image.shape[0]} image does not exist")
    for _ in range(k):
        image = _halve(image)
    return image


def srgb_mip_pyramid(level0: np.ndarray) -> list[np.ndarray]:
    """All mip levels (h_i, w_i, C) uint8 of an sRGB8 image (H, W, C), averaged in linear light.

    Each level is the 2×2 box average of the previous 8-bit level, re-encoded to 8 bits, which
    is what ``glGenerateMipmap`` does on an SRGB8 texture in Mesa. An odd dimension drops its
    last row/column (exact only for power-of-two sizes, which is what the tests use).
    """
    levels = [np.asarray(level0, dtype=np.uint8)]
    while levels[-1].shape[:2] != (1, 1):
        levels.append(srgb_mip_level(levels[-1], 1))
    return levels
