"""Zoom videos: the seeds' "dream, zoom a little, dream again" loop, on the sphere.

On the sphere a zoom toward a direction is a Möbius transformation: turn the
sphere so that direction is the north pole, project stereographically from the
south pole onto the plane, scale the plane by the zoom factor (and turn it by
``spin`` for a loxodromic spiral), and project back. Content flows out of the
chosen direction and into its antipode, every frame is a whole sphere, and the
video is itself a seamless 360° video.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from .atomic import check_output
from .checkpoint import open_job
from .dream import Dreamer, FlatParam
from .engine import EngineOptions, build_dreamer
from .equirect import equirect_dirs, rotate, rotation_matrix, sample_equirect
from .photosphere import read_photosphere
from .progress import progress
from .record import dream_recipe, write_recorded_video
from .settings import ZoomSettings
from .sphere import SphereOptions, dream_sphere
from .tensors import to_numpy, to_tensor
from .videoio import EncodeSettings, check_encoding


def mobius_zoom(equi: Tensor, factor: float, toward_deg: tuple[float, float], spin_deg: float = 0.0) -> Tensor:
    """The equirect (B, C, H, W) zoomed by ``factor`` toward (yaw, pitch) degrees, on the sphere.

    Each output direction reads the input at the direction the Möbius map
    ``w -> w / (factor e^{i spin})`` sends it to, in stereographic coordinates
    centred on ``toward_deg``.
    """
    h, w = equi.shape[-2:]
    turn = rotation_matrix(math.radians(toward_deg[0]), math.radians(toward_deg[1]), dtype=torch.float64)
    local = rotate(equirect_dirs(h, w, dtype=torch.float64)[None], turn.T)[0]  # ``toward_deg`` is +z
    x, y, z = local.unbind(-1)
    scale = 1.0 / ((1.0 + z).clamp_min(1e-9) * factor)
    c, s = math.cos(math.radians(spin_deg)), math.sin(math.radians(spin_deg))
    u, v = (c * x + s * y) * scale, (-s * x + c * y) * scale
    r2 = u * u + v * v
    src = torch.stack([2 * u, 2 * v, 1 - r2], dim=-1) / (1 + r2)[..., None]
    world = rotate(src[None], turn)
    return sample_equirect(equi, world.to(torch.float32).to(equi.device), mode="bicubic").clamp(0, 1)


def planar_zoom(img: Tensor, factor: float) -> Tensor:
    """An ordinary picture (B, C, H, W) zoomed by ``factor`` into its centre."""
    theta = torch.tensor([[1 / factor, 0.0, 0.0], [0.0, 1 / factor, 0.0]], dtype=img.dtype, device=img.device)
    grid = F.affine_grid(theta.expand(img.shape[0], 2, 3), list(img.shape), align_corners=False)
    return F.grid_sample(img, grid, mode="bicubic", padding_mode="border", align_corners=False).clamp(0, 1)


def zoom_video(
    src: str | Path,
    output: str | Path,
    engine: EngineOptions = EngineOptions(),
    settings: ZoomSettings = ZoomSettings(),
    *,
    sphere: SphereOptions = SphereOptions(),
    flat: bool = False,
    fov_deg: tuple[float, float] | None = None,
    encode: EncodeSettings = EncodeSettings(),
    overwrite: bool = False,
    quiet: bool = False,
) -> Path:
    """``vrdream zoom``: dream ``src``, then zoom and dream again ``frames - 1`` times; resumable.

    >>> zoom_video("pano.jpg", "zoom.mp4", EngineOptions(), ZoomSettings(frames=60))  # doctest: +SKIP
    """
    out = check_output(output, inputs=[src], overwrite=overwrite)
    check_encoding(out, encode)
    raw = to_tensor(read_photosphere(src, flat=flat, fov=fov_deg).pixels)
    dreamer = build_dreamer(engine)
    job = open_job(src, out, (settings, sphere, flat, engine), settings.frames)
    start = job.first_missing()
    prev = to_tensor(job.load(start - 1)) if start else None
    with job.resumable(), progress(settings.frames, "zoom frames", quiet, unit="frame", initial=start) as bar:
        for i in range(start, settings.frames):
            if prev is None:
                frame = _dream(dreamer, raw, None, None, sphere, flat)
            else:
                moved = (
                    planar_zoom(prev, settings.zoom)
                    if flat
                    else mobius_zoom(prev, settings.zoom, settings.toward_deg, settings.spin_deg)
                )
                frame = _dream(dreamer, moved, moved, settings.steps, sphere, flat)
            prev = to_tensor(job.save(i, to_numpy(frame)))
            bar.update(1)
    recorded = {"engine": engine.resolved(dreamer), "zoom": settings, "sphere": sphere, "flat": flat, "encode": encode}
    path = write_recorded_video(
        out,
        job.iter_frames(),
        Fraction(settings.fps),
        dream_recipe("zoom", {**recorded, "fov_deg": fov_deg}, [src], engine, dreamer),
        settings=encode,
        spherical=not flat,
        overwrite=overwrite,
        inputs=[src],
    )
    job.remove()
    return path


def _dream(
    dreamer: Dreamer, raw: Tensor, init: Tensor | None, steps: int | None, sphere: SphereOptions, flat: bool
) -> Tensor:
    if flat:
        return dreamer(
            FlatParam(raw.to(dreamer.device)), init=None if init is None else init.to(dreamer.device), steps=steps
        ).cpu()
    return dream_sphere(raw, dreamer, sphere, init=init, steps=steps).cpu()
