"""Still previews: one view of the photosphere rendered offscreen (EGL; no display, no GPU needed).

``vrdream view --screenshot`` and ``vrdream demo`` call :func:`render_preview`. A still has no
time, so the gaze weight is its steady state: the dream has fully bloomed where the gaze rests.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from vrdream.atomic import atomic_path, check_output

from .gaze import GazeSettings, Mode, mix_target, steady_dwell
from .geometry import Fov, rotation_yaw_pitch_roll, yaw_pitch_to_dir
from .panorama import Panoramas, load_panoramas
from .renderer import OffscreenTarget, SphereRenderer, headless_context


def render_offscreen(
    renderer: SphereRenderer, rotation: np.ndarray, fov: Fov, width: int, height: int, base: float, focus: float
) -> np.ndarray:
    """Draw one view into a fresh sRGB framebuffer; return it (height, width, 3) uint8, row 0 on top."""
    target = OffscreenTarget(renderer.ctx, width, height)
    try:
        target.fbo.use()
        renderer.draw(rotation, fov, (0, 0, width, height), base, focus)
        return target.read()
    finally:
        target.release()


def render_preview(
    dream: str | Path | np.ndarray | Panoramas,
    raw: str | Path | np.ndarray | None = None,
    out: str | Path | None = None,
    yaw: float = 0.0,
    pitch: float = 0.0,
    fov: float = 90.0,
    gaze: tuple[float, float] | None = None,
    size: tuple[int, int] = (1024, 768),
    *,
    mode: Mode = "dream-where-you-look",
    fade: float | None = None,
    settings: GazeSettings = GazeSettings(),
    cone_scale: float = 1.0,
    overwrite: bool = False,
) -> np.ndarray:
    """Render one view (size[1], size[0], 3) uint8 sRGB and, if ``out`` is given, write it as an image.

    dream, raw: file paths (the raw found from the dream's ``vrdream:Raw`` when None), or
        (H, W, 3) uint8 sRGB equirects (then ``raw=None`` means dream alone), or ``dream`` is
        already loaded :class:`~viewer.panorama.Panoramas` (``raw`` unused).
    yaw, pitch, fov: view direction and horizontal field of view, degrees.
    gaze: (yaw, pitch) degrees where the viewer looks; None looks at the view's centre.
    size: (width, height) pixels. mode: where the dream shows. fade: 0 (raw) … 1 (dream)
        gives a plain global crossfade instead of the gaze one.
    """
    pano = _as_panoramas(dream, raw)
    if out is not None:  # refuse before rendering, not after
        check_output(out, inputs=[p for p in (pano.dream_path, pano.raw_path) if p], overwrite=overwrite)
    width, height = size
    rotation = rotation_yaw_pitch_roll(math.radians(yaw), math.radians(pitch))
    gy, gp = gaze if gaze is not None else (yaw, pitch)
    dwell = steady_dwell(yaw_pitch_to_dir(math.radians(gy), math.radians(gp)), settings, cone_scale)
    base, focus = mix_target(mode, "gaze", pano.raw is not None, fade)
    ctx = headless_context()
    try:
        renderer = SphereRenderer(ctx, pano.dream, pano.raw, dwell.shape)
        renderer.set_dwell(dwell)
        image = render_offscreen(renderer, rotation, Fov.symmetric(fov, width, height), width, height, base, focus)
    finally:
        ctx.release()
    if out is not None:
        with atomic_path(out) as tmp:
            Image.fromarray(image).save(tmp)
    return image


def _as_panoramas(dream: str | Path | np.ndarray | Panoramas, raw: str | Path | np.ndarray | None) -> Panoramas:
    if isinstance(dream, Panoramas):
        return dream
    if isinstance(dream, np.ndarray):
        if isinstance(raw, (str, Path)):
            raise TypeError("give dream and raw both as arrays or both as paths")
        return Panoramas(dream, raw, None)
    if isinstance(raw, np.ndarray):
        raise TypeError("give dream and raw both as arrays or both as paths")
    return load_panoramas(dream, raw)
