"""Octave pyramids: dream coarse scales first, then re-inject the detail at finer ones.

Mordvintsev et al.'s octaves let a dream grow structures larger than the
network's receptive field: the image is dreamed at a small size, the change
it received (the *detail*) is upsampled onto the next larger copy of the raw
image, and dreaming continues there.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .settings import Normalize


def octave_sizes(height: int, width: int, octaves: int, scale: float, min_size: int) -> list[tuple[int, int]]:
    """Sizes from coarsest to finest; the last one is ``(height, width)``.

    Octaves whose shorter side would fall under ``min_size`` (the backbone's
    smallest useful input) are dropped rather than clamped, so that every
    octave is a true rescale of the image.
    """
    sizes = []
    for i in range(octaves):
        f = scale**-i
        h, w = round(height * f), round(width * f)
        if i > 0 and min(h, w) < min_size:
            break
        sizes.append((h, w))
    return sizes[::-1]


def resize(img: Tensor, *, height: int, width: int) -> Tensor:
    """Resize (..., C, H, W) images to ``height`` x ``width``: antialiased when shrinking, bicubic when growing.

    Sizes are keyword-only here and in :func:`vrdream.photosphere.resize`, so no call can swap them.
    """
    size = (height, width)
    if tuple(img.shape[-2:]) == size:
        return img
    lead = img.shape[:-3]
    flat = img.reshape(-1, *img.shape[-3:])
    shrink = height < img.shape[-2]
    out = F.interpolate(
        flat, size=size, mode="bilinear" if shrink else "bicubic", antialias=shrink, align_corners=False
    )
    return out.reshape(*lead, *out.shape[-3:])


def gaussian_blur(img: Tensor, sigma: float, pad: Callable[[Tensor, int], Tensor]) -> Tensor:
    """Separable Gaussian blur of (..., H, W); ``pad(img, r)`` supplies r pixels around each image
    (reflection for a flat picture, the neighbouring faces for a cube: so no border shows)."""
    r = max(1, math.ceil(3 * sigma))
    x = torch.arange(-r, r + 1, dtype=img.dtype, device=img.device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    k = k / k.sum()
    padded = pad(img, r)
    flat = padded.reshape(-1, 1, *padded.shape[-2:])
    out = F.conv2d(F.conv2d(flat, k.reshape(1, 1, 1, -1)), k.reshape(1, 1, -1, 1))
    return out.reshape(img.shape)


def reflect_pad(img: Tensor, r: int) -> Tensor:
    """Reflection padding of (..., H, W) by r (for flat pictures)."""
    flat = img.reshape(-1, *img.shape[-3:])
    r = min(r, img.shape[-1] - 1, img.shape[-2] - 1)
    out = F.pad(flat, (r, r, r, r), mode="reflect")
    return out.reshape(*img.shape[:-2], *out.shape[-2:])


def laplacian_bands(img: Tensor, levels: int, pad: Callable[[Tensor, int], Tensor]) -> list[Tensor]:
    """Band-pass layers of ``img``, finest first, from Gaussian blurs of σ = 1, 2, 4…; they sum to ``img``.

    Blurs rather than decimation keep every band on the image's own grid, so a
    cube canvas can be filtered across its face edges through ``pad``.
    """
    bands = []
    cur = img
    for k in range(levels - 1):
        low = gaussian_blur(cur, 2.0**k, pad)
        bands.append(cur - low)
        cur = low
    return bands + [cur]


def normalize_gradient(
    g: Tensor,
    mode: Normalize,
    mask: Tensor | None = None,
    *,
    pad: Callable[[Tensor, int], Tensor] = reflect_pad,
    levels: int = 4,
    eps: float = 1e-8,
) -> Tensor:
    """Scale-free gradient for a fixed step size.

    ``mean``: divide by mean |g| (the original DeepDream notebook).
    ``laplacian``: divide each band of :func:`laplacian_bands` by its own standard deviation
    (lucid's ``lap_normalize``), which evens out coarse and fine structure.
    ``mask`` (broadcastable to g) restricts the statistics to where the dream is applied;
    ``pad`` is how the canvas continues past its borders (see :func:`gaussian_blur`).
    """
    if mode == "laplacian":
        g = torch.stack([b / (b.std() + eps) for b in laplacian_bands(g, levels, pad)]).sum(0)
    if mask is None:
        return g / (g.abs().mean() + eps)
    weight = mask.expand_as(g)
    return g / ((g.abs() * weight).sum() / weight.sum().clamp_min(eps) + eps)
