"""Loading what the viewer shows: the dream, its raw panorama, and the start direction.

The raw is ``--raw`` when given; otherwise the one the dream records (written by vrdream,
docs/conventions.md) in its XMP: ``vrdream:Raw``, a path relative to the dream file's folder
(or absolute), and, from newer dreams, ``vrdream:RawName`` (its file name) and
``vrdream:RawSHA256`` (the hash of its bytes), which find it again after the folder moved
(:func:`find_raw`). A raw that is recorded but not found is an error (the user expects the
crossfade); a dream with no record shows alone, and :attr:`Panoramas.note` says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vrdream.errors import InputError
from vrdream.provenance import file_sha256, read_raw
from vrdream.quantize import to_uint8


@dataclass(frozen=True)
class Panoramas:
    """dream, raw: (H, W, 3) uint8 sRGB equirects (raw None when there is none); dream_path,
    raw_path: the files they came from (None for arrays); start_yaw_rad, start_pitch_rad: the
    initial view from the dream's GPano (0, 0 without); note: a line for the user, or None."""

    dream: np.ndarray
    raw: np.ndarray | None
    dream_path: Path | None = None
    raw_path: Path | None = None
    start_yaw_rad: float = 0.0
    start_pitch_rad: float = 0.0
    note: str | None = None


def find_raw(dream_path: Path, fields: Mapping[str, str]) -> Path | None:
    """The raw panorama a dream records in its vrdream XMP ``fields``; None when it records none.

    Looks, in order, at the recorded path ``Raw`` (relative to the dream's folder, or absolute),
    taken when it exists and, if ``RawSHA256`` is recorded, its bytes match; then at a file
    named ``RawName`` beside the dream, taken only when its SHA-256 matches (a same-named file
    with other bytes is another picture). Old dreams record ``Raw`` alone: the path decides.
    :class:`InputError` (one line: pass ``--raw``) when a raw is recorded but none is found.
    """
    rec, name, sha = fields.get("Raw"), fields.get("RawName"), fields.get("RawSHA256")
    if not rec and not name:
        return None
    sha = sha.lower() if sha else None
    recorded = dream_path.parent / rec if rec else None  # an absolute rec replaces the folder
    beside = dream_path.parent / Path(name).name if name and sha else None
    tried: set[Path] = set()
    for candidate in (recorded, beside):
        # The name alone proves nothing: a file found by it must also match the hash.
        if candidate is None or not candidate.is_file() or candidate.resolve() in tried:
            continue
        tried.add(candidate.resolve())
        if not sha or file_sha256(candidate) == sha:
            return candidate
    places = " or ".join(dict.fromkeys(str(p) for p in (recorded, beside) if p is not None))
    what = f"{rec or name!r}" + (f" (SHA-256 {sha[:12]}…)" if sha else "")
    raise InputError(dream_path, f"records its raw panorama as {what}, but no such file is at {places}; pass --raw")


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
        raw = find_raw(dream, ps.vrdream)
        if raw is None:
            note = f"{dream}: no raw panorama recorded (vrdream:Raw) and no --raw given: showing the dream alone"
    raw_pixels = to_uint8(read_raw(raw, ps.vrdream).pixels) if raw is not None else None
    return Panoramas(to_uint8(ps.pixels), raw_pixels, dream, Path(raw) if raw else None, yaw, pitch, note)
