"""Rebuild ``docs/viewer.png``: a contact sheet of ``vrdream view --screenshot`` stills.

Usage: ``python -m vrdream.viewer.make_docs [RAW.jpg] [OUT.png]`` (defaults: samples/mars.jpg,
docs/viewer.png). Until real dreams exist the "dream" is the raw's colour negative (its
orange sky turns blue), made here in memory: visibly different everywhere, which is what
shows a crossfade.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from vrdream.atomic import atomic_path
from vrdream.quantize import to_uint8

from .preview import offscreen, render_preview

REPO = Path(__file__).resolve().parents[1]
TILE = (320, 240)
# (caption, keyword arguments of render_preview)
SHOTS: list[tuple[str, dict[str, Any]]] = [
    ("raw (fade 0)", dict(fade=0.0)),
    ("global crossfade 0.5", dict(fade=0.5)),
    ("dream (fade 1)", dict(fade=1.0)),
    ("dream where you look: sky", dict(gaze_deg=(-20, 15))),
    ("dream where you look: ground", dict(gaze_deg=(25, -25))),
    ("raw where you look", dict(gaze_deg=(-20, 15), mode="raw-where-you-look")),
    ("across the 0/360 wrap, gaze on it", dict(yaw_deg=180, pitch_deg=-10, hfov_deg=110, gaze_deg=(180, 0))),
    ("straight down (south pole), gaze off-centre", dict(yaw_deg=30, pitch_deg=-85, hfov_deg=110, gaze_deg=(150, -60))),
    (
        "wider cone x2, 120 deg view",
        dict(yaw_deg=-90, pitch_deg=-15, hfov_deg=120, gaze_deg=(-90, -10), cone_scale=2.0),
    ),
]


def contact_sheet(raw: np.ndarray, dream: np.ndarray) -> np.ndarray:
    """The sheet (3·(h + 18), 3·w, 3) uint8 of :data:`SHOTS`, captions under each tile."""
    tiles = []
    with offscreen() as backend:
        shots = [(caption, render_preview(dream, raw, size=TILE, backend=backend, **kw)) for caption, kw in SHOTS]
    for caption, shot in shots:
        tile = Image.new("RGB", (TILE[0], TILE[1] + 18), "white")
        tile.paste(Image.fromarray(shot), (0, 0))
        ImageDraw.Draw(tile).text((4, TILE[1] + 3), caption, fill="black")
        tiles.append(np.asarray(tile))
    rows = [np.concatenate(tiles[i : i + 3], axis=1) for i in range(0, len(tiles), 3)]
    return np.concatenate(rows, axis=0)


def main(argv: list[str]) -> None:
    from vrdream.photosphere import read_photosphere

    src = Path(argv[0]) if argv else REPO / "vrdream" / "samples" / "mars.jpg"
    out = Path(argv[1]) if len(argv) > 1 else REPO / "docs" / "viewer.png"
    raw = to_uint8(read_photosphere(src).pixels)
    with atomic_path(out) as tmp:
        Image.fromarray(contact_sheet(raw, 255 - raw)).save(tmp)
    print(out)


if __name__ == "__main__":
    main(sys.argv[1:])
