"""Octave pyramids: dream coarse scales first, then re-inject the detail at finer ones.

Mordvintsev et al.'s octaves let a dream grow structures larger than the
network's receptive field: the image is dreamed at a small size, the change
it received (the *detail*) is upsampled onto the next larger copy of the raw
image, and dreaming continues there.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def octave_sizes(height: int, width: int, octaves: int, scale: float, min_size: int) -> list[tuple[int, int]]:
    """Sizes from coarsest to finest; the last one is ``(height, width)``.

    Octaves whose shorter side would fall under ``min_size`` (the backbone's
    smallest useful input) are dropped rather than clamped, so that every
    octave is a true rescale of the image.
    """
    sizes = []
    for i in range(octaves):
        f = scale ** -i
        h, w = round(height * f), round(width * f)
        if i > 0 and min(h, w) < min_size:
            break
        sizes.append((h, w))
    return sizes[::-1]


def resize(img: Tensor, size: tuple[int, int]) -> Tensor:
    """Resize (..., C, H, W) images: antialiased when shrinking, bicubic when growing."""
    if tuple(img.shape[-2:]) == tuple(size):
        return img
    lead = img.shape[:-3]
    flat = img.reshape(-1, *img.shape[-3:])
    shrink = size[0] < img.shape[-2]
    out = F.interpolate(flat, size=size, mode="bilinear" if shrink else "bicubic", antialias=shrink, align_corners=False)
    return out.reshape(*lead, *out.shape[-3:])


def laplacian_split(img: Tensor, levels: int) -> list[Tensor]:
    """Laplacian pyramid bands of (B, C, H, W), finest first; they sum back to ``img``."""
    bands = []
    cur = img
    for _ in range(levels - 1):
        if min(cur.shape[-2:]) < 4:
            break
        low = F.avg_pool2d(cur, 2, ceil_mode=True)
        up = F.interpolate(low, size=cur.shape[-2:], mode="bilinear", align_corners=False)
        bands.append(cur - up)
        cur = low
    bands.append(cur)
    return bands


def laplacian_merge(bands: list[Tensor]) -> Tensor:
    """Inverse of :func:`laplacian_split`."""
    cur = bands[-1]
    for band in reversed(bands[:-1]):
        cur = band + F.interpolate(cur, size=band.shape[-2:], mode="bilinear", align_corners=False)
    return cur


def normalize_gradient(g: Tensor, mode: str, mask: Tensor | None = None, levels: int = 4, eps: float = 1e-8) -> Tensor:
    """Scale-free gradient for a fixed step size.

    ``mean``: divide by mean |g| (the original DeepDream notebook).
    ``laplacian``: divide each Laplacian band by its own standard deviation
    (lucid's ``lap_normalize``), which evens out coarse and fine structure.
    ``mask`` (broadcastable to g) restricts the statistics to where the dream is applied.
    """
    if mode == "laplacian":
        flat = g.reshape(-1, *g.shape[-3:])
        bands = [b / (b.std() + eps) for b in laplacian_split(flat, levels)]
        g = laplacian_merge(bands).reshape(g.shape)
    if mask is None:
        return g / (g.abs().mean() + eps)
    weight = mask.expand_as(g)
    return g / ((g.abs() * weight).sum() / weight.sum().clamp_min(eps) + eps)
