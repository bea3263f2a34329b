"""CPU reference renderer (numpy): what the GL shader in ``renderer.py`` computes, per pixel.

Per output pixel: the view ray → equirect uv (:mod:`.geometry`); the mip level from the
analytic uv derivatives (``equirect_uv_gradients``); trilinear sampling of the sRGB8 mip pyramid
in linear light with the u axis wrapping and v clamped; the dwell map sampled bilinearly the
same way; raw and dream mixed in linear light by the dream amount; sRGB-encoded to uint8.
Slow (float64, whole-image arrays): meant for small test images.
"""

from __future__ import annotations

import numpy as np

from vrdream.quantize import to_uint8

from .gaze import dream_amount
from .geometry import (
    Fov,
    dir_to_equirect_uv,
    equirect_uv_gradients,
    pixel_ray_gradients,
)
from .srgb import linear_to_srgb, srgb8_to_linear


def bilinear_wrap_u(image: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear samples (..., C) of ``image`` (h, w, C) at ``uv`` (..., 2), GL texel centres.

    u wraps (GL_REPEAT, the 0°/360° seam), v clamps to the edge rows (GL_CLAMP_TO_EDGE, the poles).
    """
    h, w = image.shape[:2]
    x = uv[..., 0] * w - 0.5
    y = uv[..., 1] * h - 0.5
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    x0 = x0.astype(np.int64)
    y0 = y0.astype(np.int64)
    c0, c1 = x0 % w, (x0 + 1) % w
    r0, r1 = np.clip(y0, 0, h - 1), np.clip(y0 + 1, 0, h - 1)
    top = image[r0, c0] * (1 - fx) + image[r0, c1] * fx
    bottom = image[r1, c0] * (1 - fx) + image[r1, c1] * fx
    return top * (1 - fy) + bottom * fy


def sample_trilinear(
    pyramid_linear: list[np.ndarray], uv: np.ndarray, duv_dx: np.ndarray, duv_dy: np.ndarray
) -> np.ndarray:
    """Trilinear (GL_LINEAR_MIPMAP_LINEAR) samples (..., C) of a pyramid of linear images.

    The level of detail is ``log2`` of the longer uv derivative in level-0 texels, as
    ``textureGrad`` computes it without anisotropy; below 0 it is magnification (level 0).
    """
    h, w = pyramid_linear[0].shape[:2]
    scale = np.array([w, h], dtype=np.float64)
    rho = np.maximum(np.linalg.norm(duv_dx * scale, axis=-1), np.linalg.norm(duv_dy * scale, axis=-1))
    lod = np.clip(np.log2(np.maximum(rho, 1e-30)), 0.0, len(pyramid_linear) - 1)
    lo = np.floor(lod).astype(np.int64)
    frac = (lod - lo)[..., None]
    out = np.zeros(uv.shape[:-1] + (pyramid_linear[0].shape[2],))
    for level in np.unique(lo):
        sel = lo == level
        a = bilinear_wrap_u(pyramid_linear[level], uv[sel])
        if level + 1 < len(pyramid_linear):
            b = bilinear_wrap_u(pyramid_linear[level + 1], uv[sel])
            a = a * (1 - frac[sel]) + b * frac[sel]
        out[sel] = a
    return out


def render_reference(
    dream: list[np.ndarray],
    raw: list[np.ndarray] | None,
    dwell: np.ndarray,
    rotation: np.ndarray,
    fov: Fov,
    width: int,
    height: int,
    base: float,
    focus: float,
) -> np.ndarray:
    """The view (height, width, 3) uint8 sRGB, row 0 at the top.

    dream, raw: sRGB8 mip pyramids (``srgb.srgb_mip_pyramid``) of (H, W, 3) equirects, raw
        optional (then the dream alone is drawn).
    dwell: the gaze weight map (h, w) float, an equirect (``gaze.dwell_step``).
    rotation: world-from-view (3, 3), already including any recentering.
    base, focus: dream amount away from / at the gaze (``gaze.mix_target``).
    """
    ray, ddx, ddy = pixel_ray_gradients(rotation, fov, width, height)
    uv = dir_to_equirect_uv(ray)
    duv_dx = equirect_uv_gradients(ray, np.broadcast_to(ddx, ray.shape))
    duv_dy = equirect_uv_gradients(ray, np.broadcast_to(ddy, ray.shape))
    dream_lin = sample_trilinear([srgb8_to_linear(level) for level in dream], uv, duv_dx, duv_dy)
    if raw is None:
        return to_uint8(linear_to_srgb(dream_lin))
    raw_lin = sample_trilinear([srgb8_to_linear(level) for level in raw], uv, duv_dx, duv_dy)
    m = dream_amount(bilinear_wrap_u(np.asarray(dwell, dtype=np.float64)[..., None], uv), base, focus)
    return to_uint8(linear_to_srgb(raw_lin + (dream_lin - raw_lin) * m))
