"""The gaze crossfade in pure numpy: a soft cone around the gaze ray and its dwell dynamics.

Where the gaze rests, a *dwell map* (a small equirect, ``map_width`` × ``map_width / 2``, one
float per direction) rises towards the cone weight with time constant ``bloom_s``; where the
gaze has left it falls back with ``fade_s``. The renderer samples the map bilinearly per view
ray, so a pixel's weight follows the angle between its ray and the gaze ray.

The displayed dream amount of a pixel is ``base + (focus - base) * dwell``: ``(base, focus)``
is ``(0, 1)`` for ``dream-where-you-look``, ``(1, 0)`` for ``raw-where-you-look``, and equal for a
plain global crossfade (see :func:`mix_target`). Both are eased with ``mode_s`` so switching
mode or toggling raw/dream is itself a crossfade.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .geometry import equirect_directions

Mode = Literal["dream-where-you-look", "raw-where-you-look"]
MODES: tuple[Mode, ...] = ("dream-where-you-look", "raw-where-you-look")
#: What the whole sphere shows: the gaze crossfade, or all raw / all dream.
Show = Literal["gaze", "dream", "raw"]


@dataclass(frozen=True)
class GazeSettings:
    """How the gaze crossfade looks and moves.

    inner_deg: within this angle of the gaze ray the weight is 1.
    outer_deg: beyond this angle it is 0 (smoothstep in between).
    bloom_s: time constant (s) of the dream blooming where the gaze rests.
    fade_s: time constant (s) of it fading back where the gaze has left (longer: a trail).
    mode_s: time constant (s) of mode switches, raw/dream toggles and global fades.
    map_width: dwell map width in pixels (height is half); 256 gives 1.4° per pixel, well
        under the cone's soft edge, and costs about a millisecond of numpy per frame.
    """

    inner_deg: float = 8.0
    outer_deg: float = 24.0
    bloom_s: float = 0.6
    fade_s: float = 2.0
    mode_s: float = 0.4
    map_width: int = 256


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    """GLSL's smoothstep: 0 below ``edge0``, 1 above ``edge1``, cubic Hermite in between."""
    t = np.clip((np.asarray(x, dtype=np.float64) - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def cone_weight(dirs: np.ndarray, gaze: np.ndarray | None, inner_deg: float, outer_deg: float) -> np.ndarray:
    """Soft-cone weight (...) in [0, 1] of unit directions (..., 3) around the unit gaze ray (3,).

    1 within ``inner_deg`` of the gaze, 0 beyond ``outer_deg``; ``gaze=None`` (no gaze) is 0
    everywhere.
    """
    if gaze is None:
        return np.zeros(np.shape(dirs)[:-1])
    cos = np.clip(np.asarray(dirs, dtype=np.float64) @ np.asarray(gaze, dtype=np.float64), -1.0, 1.0)
    return 1.0 - smoothstep(math.radians(inner_deg), math.radians(outer_deg), np.arccos(cos))


def dwell_directions(settings: GazeSettings) -> np.ndarray:
    """Directions (map_width / 2, map_width, 3) of the dwell map's pixel centres."""
    return equirect_directions(settings.map_width, settings.map_width // 2)


def approach(current: np.ndarray, target: np.ndarray, dt: float, rise_s: float, fall_s: float) -> np.ndarray:
    """One step of first-order dynamics: ``current`` moves towards ``target``.

    Exact for a target held constant over ``dt`` (``1 - exp(-dt / tau)`` of the gap is closed),
    so the result does not depend on the frame rate. ``rise_s`` applies where the target is
    above the current value, ``fall_s`` where it is below.
    """
    current = np.asarray(current, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    rate = np.where(target > current, -math.expm1(-dt / rise_s), -math.expm1(-dt / fall_s))
    return current + (target - current) * rate


def dwell_step(
    dwell: np.ndarray,
    dirs: np.ndarray,
    gaze: np.ndarray | None,
    dt: float,
    settings: GazeSettings,
    cone_scale: float = 1.0,
) -> np.ndarray:
    """Advance the dwell map (h, w) by ``dt`` seconds with the gaze held at ``gaze`` (3,) or None.

    ``dirs`` (h, w, 3) are the map's directions (:func:`dwell_directions`); ``cone_scale``
    widens (> 1) or narrows (< 1) the cone.
    """
    target = cone_weight(dirs, gaze, settings.inner_deg * cone_scale, settings.outer_deg * cone_scale)
    return approach(dwell, target, dt, settings.bloom_s, settings.fade_s).astype(np.float32)


def steady_dwell(gaze: np.ndarray | None, settings: GazeSettings, cone_scale: float = 1.0) -> np.ndarray:
    """The dwell map (h, w) float32 after the gaze has rested at ``gaze`` for ever (for stills)."""
    dirs = dwell_directions(settings)
    return cone_weight(dirs, gaze, settings.inner_deg * cone_scale, settings.outer_deg * cone_scale).astype(np.float32)


def mix_target(mode: Mode, show: Show, has_raw: bool = True, fade: float | None = None) -> tuple[float, float]:
    """``(base, focus)``: dream amount away from and at the gaze.

    ``fade`` (0 = raw, 1 = dream) overrides mode and show with a plain global crossfade; with
    no raw panorama there is only the dream to show.
    """
    if not has_raw:
        return (1.0, 1.0)
    if fade is not None:
        f = float(np.clip(fade, 0.0, 1.0))
        return (f, f)
    if show == "dream":
        return (1.0, 1.0)
    if show == "raw":
        return (0.0, 0.0)
    return (0.0, 1.0) if mode == "dream-where-you-look" else (1.0, 0.0)


def dream_amount(dwell: np.ndarray, base: float, focus: float) -> np.ndarray:
    """Per-pixel dream amount (...) in [0, 1] from the sampled dwell weight (...)."""
    return base + (focus - base) * np.asarray(dwell)
