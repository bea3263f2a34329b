"""Optical flow on the sphere, the warp it defines, and the moving/static blend mask.

Farneback flow (OpenCV) on an equirect is wrong exactly where 360° video needs
it: at the yaw ±180° border (the two sides are neighbours but the flow sees an
image edge) and near the poles (a few pixels of motion become hundreds of
pixels of equirect stretch). So the flow is computed on six *padded* cube faces
(perspective views of 90° plus a margin on each side): every point of the
sphere lies well inside some face, with real neighbours all around it, and
perspective views have no stretch. Each face's flow becomes, per pixel, the
*direction* on the sphere the content came from; the faces' interiors are put
back together as an equirect of directions (:func:`vrdream.cubemap.c2e`, which
interpolates across face edges). The result is a field of source directions,
continuous across the wrap and the poles, and warping is
:func:`vrdream.equirect.sample_equirect`, which is continuous there too.

Flow direction: the flow is computed from the *new* frame to the *previous*
one (backward flow), so warping is a plain lookup: ``warped(x) = prev(src(x))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import Tensor

from .cubemap import FACE_BASIS, c2e, crop_pad, e2c, face_dirs
from .equirect import equirect_dirs, sample_equirect
from .parallel import run_side_by_side
from .quantize import to_uint8_tensor


@dataclass(frozen=True)
class FlowSettings:
    """Farneback parameters (defaults: the Hallucination Machine's, i.e. OpenCV's sample values) and face size.

    ``face_size``: pixels across the 90° of a face; None = equirect width / 4 (the equator's density).
    ``pad``: extra pixels on each side of a face, as a fraction of ``face_size``; it must exceed the
    largest motion plus the Farneback window so that flow near a face border sees real neighbours.
    """

    pyr_scale: float = 0.5
    levels: int = 3
    winsize: int = 15
    iterations: int = 3
    poly_n: int = 5
    poly_sigma: float = 1.2
    face_size: int | None = None
    pad: float = 0.25


@dataclass(frozen=True)
class SphereFlow:
    """Backward flow of an equirect frame pair.

    ``source``: (1, H, W, 3) unit directions: where each pixel of the new frame was in the previous one,
    stored planar (a view of (3, H, W) memory, as :func:`vrdream.equirect.equirect_dirs` keeps its
    directions): read it with :func:`vrdream.equirect.planar`, never ``.view``.
    ``angle``: (1, 1, H, W) how far it moved, in radians on the sphere.
    """

    source: Tensor
    angle: Tensor


def _gray_u8(face: Tensor) -> np.ndarray:
    """(3, N, N) float [0, 1] → (N, N) uint8 luma (OpenCV's Farneback works on 8-bit single channel)."""
    rgb = to_uint8_tensor(face).permute(1, 2, 0).cpu().numpy()
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def sphere_flow(prev: Tensor, cur: Tensor, settings: FlowSettings = FlowSettings()) -> SphereFlow:
    """Backward optical flow from ``cur`` to ``prev`` (both (1, 3, H, W) equirects in [0, 1]) on padded cube faces."""
    h, w = cur.shape[-2:]
    n = settings.face_size or max(16, w // 4)
    p = max(1, round(settings.pad * n))
    faces = e2c(torch.cat([cur, prev]).float(), n, pad=p, mode="bicubic")  # (2, 6, 3, n + 2p, n + 2p)
    # Face pixels are 2/n apart on the face plane; columns run along the face's right vector, rows down its up.
    basis = torch.tensor(FACE_BASIS, dtype=torch.float64)  # (6, (right, up, forward), 3)
    step = 2.0 / n
    points = face_dirs(n, p, dtype=torch.float64)  # (6, m, m, 3) pixel centres on the cube

    sources: dict[int, Tensor] = {}

    def face_flow(k: int) -> None:
        cur_u8, prev_u8 = _gray_u8(faces[0, k]), _gray_u8(faces[1, k])
        flow_px = cv2.calcOpticalFlowFarneback(  # (m, m, 2) float32 pixel offsets (x, y)
            cur_u8,
            prev_u8,
            np.empty((*cur_u8.shape, 2), np.float32),  # written, not read (no OPTFLOW_USE_INITIAL_FLOW)
            settings.pyr_scale,
            settings.levels,
            settings.winsize,
            settings.iterations,
            settings.poly_n,
            settings.poly_sigma,
            0,
        )
        fl = torch.from_numpy(flow_px).to(torch.float64)
        sources[k] = points[k] + step * (fl[..., :1] * basis[k, 0] - fl[..., 1:] * basis[k, 1])

    # The faces side by side, as many as torch has threads: Farneback keeps about one core busy, so two
    # faces at once took 0.55x the time of one after the other on this 2-core CPU, the same result.
    run_side_by_side(face_flow, range(6), torch.get_num_threads())
    # Keep each face's interior (its flow saw real neighbours on all sides) and read it back as an
    # equirect; c2e interpolates across face edges from the neighbouring faces, so the field is seamless.
    field = crop_pad(torch.stack([sources[k] for k in range(6)]).permute(0, 3, 1, 2), p)  # (6, 3, n, n)
    # Planar (3, H, W) from here, and norms as square-sum-root: torch.linalg.vector_norm took 40-50 ms per norm of a
    # 1024x512 field in float64 (20x this), a fifth of the frame's flow.
    source = c2e(field[None].to(cur.device), h, w)[0]
    source = source / source.square().sum(0).sqrt()
    dirs = equirect_dirs(h, w, dtype=torch.float64, device=cur.device).movedim(-1, 0)
    # |source x dirs| written out on the planes: torch.linalg.cross took 4x as long (16.6 vs 4.1 ms)
    (sx, sy, sz), (dx, dy, dz) = source, dirs
    moved = ((sy * dz - sz * dy).square() + (sz * dx - sx * dz).square() + (sx * dy - sy * dx).square()).sqrt()
    angle = torch.atan2(moved, (source * dirs).sum(0))
    return SphereFlow(source.movedim(0, -1)[None].to(cur.dtype), angle[None, None].to(cur.dtype))


def warp(image: Tensor, flow: SphereFlow) -> Tensor:
    """Move ``image`` (B, C, H, W), laid out like the previous frame, onto the new frame: ``image(source)``."""
    return sample_equirect(image, flow.source.to(image.dtype), mode="bilinear")


def motion_mask(flow: SphereFlow, threshold: float = 6 / 255) -> Tensor:
    """(1, 1, H, W) 1 where the frame moves, 0 where it is static, as in the Hallucination Machine.

    The original normalised the flow magnitude of each frame to [0, 255] (min-max) and called a
    pixel moving above 6; here the magnitude is the angle moved on the sphere (so a pixel near
    a pole is not "moving" just because the equirect stretches there) and the threshold is
    on the same min-max scale, as a fraction (6/255).
    """
    a = flow.angle
    lo, hi = a.amin(), a.amax()
    norm = (a - lo) / (hi - lo).clamp_min(1e-12)
    return (norm > threshold).to(a.dtype)
