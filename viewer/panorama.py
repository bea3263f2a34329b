"""Loading what the viewer shows: the dream, its raw panorama, and the start direction.

The raw is ``--raw`` when given; otherwise the dream's XMP field ``vrdream:Raw`` (written by
vrdream, docs/conventions.md): a path relative to the dream file's folder, or absolute. A raw
that is recorded but missing is an error (the user expects the crossfade); a dream with no
record shows alone, and :attr:`Panoramas.note` says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vrdream.errors import InputError

#: Rows converted at a time from float to uint8, so a 16384-wide panorama needs no full-size float temporary.
_ROWS_PER_BLOCK = 256


@dataclass(frozen=True)
class Panoramas:
    """dream, raw: (H, W, 3) uint8 sRGB equirects (raw None when there is none); dream_path,
    raw_path: the files they came from (None for arrays); start_yaw, start_pitch: radians, the
    initial view from the dream's GPano (0, 0 without); note: a line for the user, or None."""

    dream: np.ndarray
    raw: np.ndarray | None
    dream_path: Path | None = None
    raw_path: Path | None = None
    start_yaw: float = 0.0
    start_pitch: float = 0.0
    note: str | None = None


def float_to_srgb8(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 3) float [0, 1] sRGB values → uint8, rounded, converted in row blocks."""
    out = np.empty(pixels.shape, np.uint8)
    for r0 in range(0, pixels.shape[0], _ROWS_PER_BLOCK):
        block = np.clip(pixels[r0 : r0 + _ROWS_PER_BLOCK], 0.0, 1.0) * np.float32(255)
        out[r0 : r0 + _ROWS_PER_BLOCK] = block + np.float32(0.5)
    return out


def recorded_raw(dream_path: Path, fields: dict[str, str]) -> Path | None:
    """The raw panorama that ``vrdream:Raw`` in the dream's XMP names, resolved against its folder."""
    rec = fields.get("Raw")
    if not rec:
        return None
    p = Path(rec)
    return p if p.is_absolute() else dream_path.parent / p


def start_direction(gpano: object) -> tuple[float, float]:
    """(yaw, pitch) radians of GPano's initial view (``InitialView*``) relative to the image centre.

    GPano headings are compass degrees; the image centre looks along ``PoseHeadingDegrees``
    (taken as 0 when absent), which is our yaw 0.
    """
    heading = getattr(gpano, "initial_heading", None)
    pitch = getattr(gpano, "initial_pitch", None) or 0.0
    if heading is None:
        return 0.0, math.radians(pitch)
    pose = getattr(gpano, "pose_heading", None) or 0.0
    return math.remainder(math.radians(heading - pose), 2 * math.pi), math.radians(pitch)


def load_panoramas(dream: str | Path, raw: str | Path | None = None) -> Panoramas:
    """Read the dream (and the raw given, or recorded in the dream) for viewing."""
    from vrdream.photosphere import read_photosphere

    dream = Path(dream)
    ps = read_photosphere(dream)
    yaw, pitch = start_direction(ps.gpano)
    note = None
    if raw is None:
        raw = recorded_raw(dream, ps.vrdream)
        if raw is None:
            note = f"{dream}: no raw panorama recorded (vrdream:Raw) and no --raw given: showing the dream alone"
        elif not raw.exists():
            raise InputError(
                dream, f"records its raw panorama as {ps.vrdream['Raw']!r} but {raw} does not exist; pass --raw"
            )
    raw_pixels = float_to_srgb8(read_photosphere(raw).pixels) if raw is not None else None
    return Panoramas(float_to_srgb8(ps.pixels), raw_pixels, dream, Path(raw) if raw else None, yaw, pitch, note)
