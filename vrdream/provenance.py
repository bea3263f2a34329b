"""What an output records about how it was made: the one writer of vrdream's XMP fields.

Every file vrdream writes from a panorama carries, in its ``vrdream:`` XMP namespace:

- ``Kind``: ``dream`` or ``upscale`` (an undreamed panorama made larger);
- ``Raw``: the undreamed panorama, as a path relative to the output's folder (absolute
  when it is on another drive), ``RawName`` its file name and ``RawSHA256`` the SHA-256 of
  its bytes, so a viewer finds it again after the folder moved; ``RawFOV`` (``H,V`` degrees)
  when the raw is a picture placed on the sphere with ``--fov``, so it can be placed the same
  way again (:func:`read_raw`);
- for dreams, ``Preset``, ``Backbone``, ``Layer`` (the objective) and ``Seed``;
- ``Upscale``: ``MODEL xN`` when super-resolution made it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported for annotations only: the viewer reads records without loading torch
    from .engine import EngineOptions
    from .photosphere import Photosphere

#: Bytes read at a time while hashing: panoramas can be hundreds of MB.
_CHUNK = 1 << 20


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def relative_to_folder(target: Path, dst: Path) -> str:
    """``target`` as a path relative to ``dst``'s folder (absolute where no relative path exists)."""
    try:
        return os.path.relpath(target.resolve(), dst.resolve().parent)
    except ValueError:  # another drive on Windows
        return str(target.resolve())


def raw_fields(raw: Path, dst: Path) -> dict[str, str]:
    """``Raw``, ``RawName`` and ``RawSHA256`` of the undreamed panorama ``raw``, seen from the output ``dst``."""
    return {"Raw": relative_to_folder(raw, dst), "RawName": raw.name, "RawSHA256": file_sha256(raw)}


def dream_fields(
    src: Path, dst: Path, engine: EngineOptions, fov_deg: tuple[float, float] | None = None
) -> dict[str, str]:
    """The record of a dream of ``src`` (placed by ``fov_deg`` when given) written to ``dst`` by ``engine``
    (its objective resolved)."""
    s = engine.settings
    fields = {
        "Kind": "dream",
        **raw_fields(src, dst),
        "Backbone": s.backbone,
        "Layer": s.objective,
        "Seed": str(s.seed),
    }
    if fov_deg is not None:
        fields["RawFOV"] = f"{fov_deg[0]:g},{fov_deg[1]:g}"
    if engine.preset:
        fields["Preset"] = engine.preset
    return fields


def same_dream(recorded: Mapping[str, str], src: Path, dst: Path, engine: EngineOptions) -> bool:
    """Whether ``recorded`` (a file's vrdream fields) says it is the dream of ``src`` that ``engine`` makes."""
    return all(recorded.get(k) == v for k, v in dream_fields(src, dst, engine).items())


def upscale_step(model: str, scale: int) -> dict[str, str]:
    """The record of a super-resolution step: ``Upscale`` = ``MODEL xN``."""
    return {"Upscale": f"{model} x{scale}"}


def upscale_fields(recorded: Mapping[str, str], src: Path, dst: Path, model: str, scale: int) -> dict[str, str]:
    """The record of ``src`` super-resolved into ``dst``: its own record carried over, ``Raw`` re-pointed
    from ``dst``'s folder (an undreamed ``src`` is itself the raw), and the SR step."""
    out = upscale_step(model, scale)
    if "Raw" in recorded:
        raw = Path(recorded["Raw"])
        out["Raw"] = relative_to_folder(raw if raw.is_absolute() else src.resolve().parent / raw, dst)
    else:
        out.update(Kind="upscale", **raw_fields(src, dst))
    return out


def read_raw(path: str | Path, recorded: Mapping[str, str]) -> Photosphere:
    """Read the raw panorama of a dream whose record is ``recorded``: placed as the dream says (``RawFOV``)
    when it is a picture without Photo Sphere metadata, so a ``--fov`` dream's raw needs no flag again."""
    from .photosphere import read_photosphere

    fov = recorded.get("RawFOV")
    if fov and Path(path).name == recorded.get("RawName") and file_sha256(path) == recorded.get("RawSHA256"):
        h_deg, v_deg = (float(x) for x in fov.split(","))
        return read_photosphere(path, fov=(h_deg, v_deg))
    return read_photosphere(path)
