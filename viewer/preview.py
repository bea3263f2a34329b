"""Still previews: one view of the photosphere rendered offscreen, with or without a GPU stack.

``vrdream view --screenshot`` and ``vrdream demo`` call :func:`render_preview`. A still has no
time, so the gaze weight is its steady state: the dream has fully bloomed where the gaze rests.

Stills are drawn by the GL renderer on an offscreen context (EGL, else the platform's own:
:func:`.renderer.offscreen_context`) and, where there is no OpenGL at all (a slim container, a
server without Mesa), by the numpy reference renderer (:mod:`.reference`), which computes the
same image more slowly. :func:`offscreen` picks once and says in one line which it uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import moderngl
import numpy as np
from PIL import Image

from vrdream.atomic import atomic_path, check_output
from vrdream.errors import VrdreamError

from .gaze import GazeSettings, Mode, mix_target, steady_dwell
from .geometry import Fov, rotation_yaw_pitch_roll, yaw_pitch_to_dir
from .panorama import Panoramas, load_panoramas
from .reference import render_reference
from .renderer import OffscreenTarget, SphereRenderer, offscreen_context
from .srgb import srgb_mip_pyramid

#: What :class:`Offscreen` is called when it has no GL context.
REFERENCE = "the numpy reference renderer"


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


@dataclass(frozen=True)
class Offscreen:
    """Where stills are drawn: a GL context (``ctx``), or the reference renderer when ``ctx`` is None.

    name: the backend, for the user (``"EGL"``, ``"the platform's OpenGL"``, :data:`REFERENCE`).
    """

    ctx: moderngl.Context | None
    name: str

    def render(
        self,
        pano: Panoramas,
        rotation: np.ndarray,
        fov: Fov,
        size: tuple[int, int],
        dwell: np.ndarray,
        base: float,
        focus: float,
    ) -> np.ndarray:
        """One view (size[1], size[0], 3) uint8 sRGB of ``pano`` (see :func:`render_preview`)."""
        width, height = size
        if self.ctx is None:
            raw = srgb_mip_pyramid(pano.raw) if pano.raw is not None else None
            return render_reference(srgb_mip_pyramid(pano.dream), raw, dwell, rotation, fov, width, height, base, focus)
        renderer = SphereRenderer(self.ctx, pano.dream, pano.raw, dwell.shape)
        try:
            renderer.set_dwell(dwell)
            return render_offscreen(renderer, rotation, fov, width, height, base, focus)
        finally:
            renderer.release()


@contextmanager
def offscreen(*, quiet: bool = False, log: Callable[[str], None] = print) -> Iterator[Offscreen]:
    """The best :class:`Offscreen` here (GL if any context can be made, else the reference
    renderer), saying which in one line unless ``quiet``; its context is released on exit."""
    try:
        ctx, name = offscreen_context()
        why = ""
    except VrdreamError as exc:
        ctx, name, why = None, REFERENCE, f" ({exc}; slower, same image)"
    if not quiet:
        log(f"vrdream: rendering offscreen with {name}{why}")
    try:
        yield Offscreen(ctx, name)
    finally:
        if ctx is not None:
            ctx.release()


def render_preview(
    dream: str | Path | np.ndarray | Panoramas,
    raw: str | Path | np.ndarray | None = None,
    out: str | Path | None = None,
    yaw_deg: float = 0.0,
    pitch_deg: float = 0.0,
    hfov_deg: float = 90.0,
    gaze_deg: tuple[float, float] | None = None,
    size: tuple[int, int] = (1024, 768),
    *,
    mode: Mode = "dream-where-you-look",
    fade: float | None = None,
    settings: GazeSettings = GazeSettings(),
    cone_scale: float = 1.0,
    overwrite: bool = False,
    backend: Offscreen | None = None,
    quiet: bool = False,
    log: Callable[[str], None] = print,
) -> np.ndarray:
    """Render one view (size[1], size[0], 3) uint8 sRGB and, if ``out`` is given, write it as an image.

    dream, raw: file paths (the raw found from what the dream records when None), or
        (H, W, 3) uint8 sRGB equirects (then ``raw=None`` means dream alone), or ``dream`` is
        already loaded :class:`~vrdream.viewer.panorama.Panoramas` (``raw`` unused).
    yaw_deg, pitch_deg, hfov_deg: view direction and horizontal field of view, degrees.
    gaze_deg: (yaw, pitch) degrees where the viewer looks; None looks at the view's centre.
    size: (width, height) pixels. mode: where the dream shows. fade: 0 (raw) … 1 (dream)
        gives a plain global crossfade instead of the gaze one.
    backend: an open :func:`offscreen` to draw with (several stills, one context and one
        line); None opens one for this still, saying which unless ``quiet``.
    """
    pano = _as_panoramas(dream, raw)
    if out is not None:  # refuse before rendering, not after
        check_output(out, inputs=[p for p in (pano.dream_path, pano.raw_path) if p], overwrite=overwrite)
    width, height = size
    rotation = rotation_yaw_pitch_roll(math.radians(yaw_deg), math.radians(pitch_deg))
    gy, gp = gaze_deg if gaze_deg is not None else (yaw_deg, pitch_deg)
    dwell = steady_dwell(yaw_pitch_to_dir(math.radians(gy), math.radians(gp)), settings, cone_scale)
    base, focus = mix_target(mode, "gaze", pano.raw is not None, fade)
    fov = Fov.symmetric(hfov_deg, width, height)
    if backend is None:
        with offscreen(quiet=quiet, log=log) as own:
            image = own.render(pano, rotation, fov, size, dwell, base, focus)
    else:
        image = backend.render(pano, rotation, fov, size, dwell, base, focus)
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
