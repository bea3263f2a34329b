"""Make docs/phone_pair.png: the same photosphere dreamed small and x4 larger, and full-size crops.

    python -m bench.phone --half --keep DIR      # or without --half: the 2K / 8K pair
    python docs/make_phone.py DIR

Row 1: the small copy's dream, and the large copy's dream shrunk to the small size (the pattern scale
is set in degrees, so they should be visibly the same dream). Row 2: one full-size crop of the large
copy: its raw (bicubic from the small, so no real detail of its own), the old path's dream
(``--dream-width`` of the small width: the small dream's change x4 bicubic on the raw) and the
default's (detail octaves up to the large size). The crop and the numbers are printed.
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from vrdream.sheet import contact_sheet, save_sheet

OUT = Path(__file__).parent / "phone_pair.png"
#: The crop, as a fraction of the large equirect (left, top) and its side as a fraction of its width.
CROP = (0.30, 0.55, 1 / 16)


def main(folder: Path) -> None:
    widths = sorted(int(p.stem[2:]) for p in folder.glob("in*.jpg"))
    small, large = widths[0], widths[1]  # e.g. 1024 and 4096 (--half), or 2048 and 8192
    open_ = lambda name: Image.open(folder / name).convert("RGB")  # noqa: E731
    small_dream = open_(f"out{small}.png")
    large_dream = open_(f"out{large}.png")
    shrunk = large_dream.resize(small_dream.size, Image.Resampling.LANCZOS)
    side = round(large * CROP[2])
    left, top = round(large * CROP[0]), round(large // 2 * CROP[1])
    box = (left, top, left + side, top + side)
    crops = [
        (f"{large} px raw (x4 bicubic: no real detail), {side}x{side} crop", open_(f"in{large}.jpg").crop(box)),
        (f"--dream-width {small}: the {small} dream's change x4 bicubic", open_(f"out{large}-baseline.png").crop(box)),
        ("default: detail octaves up to full size", large_dream.crop(box)),
    ]
    half = small_dream.width // 2
    tiles = [
        (f"{small} px input, default dream (left half)", small_dream.crop((0, 0, half, small_dream.height))),
        (f"{large} px input, default dream, shrunk to {small} (left half)", shrunk.crop((0, 0, half, shrunk.height))),
    ]
    top_row = contact_sheet(tiles, columns=2, width=600)
    bottom_row = contact_sheet(crops, columns=3, width=398)
    sheet = Image.new("RGB", (max(top_row.width, bottom_row.width), top_row.height + bottom_row.height + 4), "white")
    sheet.paste(top_row, (0, 0))
    sheet.paste(bottom_row, (0, top_row.height + 4))
    save_sheet(sheet, OUT)
    diff = np.abs(np.asarray(shrunk, dtype=np.float32) - np.asarray(small_dream, dtype=np.float32)).mean() / 255
    print(f"wrote {OUT}; crop box {box}; mean |large shrunk - small| = {diff:.4f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
