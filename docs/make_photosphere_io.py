"""Draw ``docs/photosphere_io.png``: what reading and writing photospheres does, to look at.

Rows: the sample full sphere; a partial photosphere (yaw -90°..120°, pitch
-40°..50°) written in its crop and read back onto the full canvas (unknown area
checkered); the same written ×2 and read back (same place on the sphere); a
non-2:1 photo placed with ``fov=(90, 60)``; and, when ``../shared`` is present,
Stellarium's RGBA panorama with its alpha as the mask.
Usage: ``python docs/make_photosphere_io.py``.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from vrdream.photosphere import Photosphere, read_photosphere, resize, write_photosphere
from vrdream.quantize import to_uint8

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WIDTH = 1024  # every row is shown on a 1024×512 canvas


def _shown(ps: Photosphere) -> np.ndarray:
    """(512, 1024, 3) uint8: pixels where real, a grey checkerboard where unknown."""
    px, m = ps.pixels, ps.mask
    if ps.width != WIDTH:
        px, m = resize(px, height=WIDTH // 2, width=WIDTH), resize(m, height=WIDTH // 2, width=WIDTH)
    y, x = np.mgrid[0 : WIDTH // 2, 0:WIDTH]
    checker = np.where((x // 16 + y // 16) % 2, 0.35, 0.25)[..., None].repeat(3, -1)
    out = px * m[..., None] + checker * (1 - m[..., None])
    return to_uint8(out)


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    full = read_photosphere(ROOT / "vrdream" / "samples" / "mars.jpg")
    crop = (256, 114, 597, 256)
    part_like = replace(
        full,
        crop=crop,
        gpano=replace(
            full.gpano, cropped_left=crop[0], cropped_top=crop[1], cropped_width=crop[2], cropped_height=crop[3]
        ),
    )
    part_file = write_photosphere(tmp / "partial.jpg", full.pixels, part_like)
    part = read_photosphere(part_file)
    x2 = read_photosphere(write_photosphere(tmp / "x2.png", resize(part.pixels, height=1024, width=2048), part))
    Image.fromarray(to_uint8(full.pixels[150:350, 400:700])).save(tmp / "photo.png")
    fov = read_photosphere(tmp / "photo.png", fov=(90, 60))
    rows = [
        (full, "samples/mars.jpg: full sphere, 1024x512, GPano"),
        (part, f"partial JPEG {Image.open(part_file).size}: placed by GPano Cropped* at {part.crop}"),
        (x2, f"same written x2 (PNG {x2.crop[2]}x{x2.crop[3]}), read back: crop {x2.crop}"),
        (fov, f"300x200 photo, no GPano, fov=(90, 60): crop {fov.crop} on {fov.width}x{fov.height}"),
    ]
    rgba = ROOT.parent / "shared" / "data" / "mars_rgba.png"
    if rgba.is_file():
        ps = read_photosphere(rgba)
        rows.append((ps, f"mars_rgba.png: alpha is the mask ({ps.mask.mean():.0%} real)"))
    sheet = Image.new("RGB", (WIDTH, len(rows) * (WIDTH // 2 + 24)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (ps, label) in enumerate(rows):
        top = i * (WIDTH // 2 + 24)
        draw.text((6, top + 6), label, fill="black")
        sheet.paste(Image.fromarray(_shown(ps)), (0, top + 24))
    out = ROOT / "docs" / "photosphere_io.png"
    sheet.save(out)
    print(out)


if __name__ == "__main__":
    main()
