"""Rebuild the sample, ``vrdream/samples/mars.jpg``, from the full-size Stellarium panorama (see README.md).

Usage: ``python samples/make_mars.py [SOURCE.jpg]`` (default ``../shared/data/mars.jpg``).
Downsizes to 1536×768 with antialiased Lanczos and writes it with full-sphere
GPano XMP through vrdream's own writer, JPEG quality 90.
"""

from __future__ import annotations

import sys
from pathlib import Path

from vrdream.photosphere import read_photosphere, resize, write_photosphere

HERE = Path(__file__).resolve().parent
SIZE = (1536, 768)  # (width, height)


def main(argv: list[str]) -> None:
    src = Path(argv[0]) if argv else HERE.parent.parent / "shared" / "data" / "mars.jpg"
    ps = read_photosphere(src)
    small = resize(ps.pixels, height=SIZE[1], width=SIZE[0])
    out = write_photosphere(
        HERE.parent / "vrdream" / "samples" / "mars.jpg", small, ps, quality=90, overwrite=True, inputs=[src]
    )
    print(f"{out}: {out.stat().st_size} bytes")


if __name__ == "__main__":
    main(sys.argv[1:])
