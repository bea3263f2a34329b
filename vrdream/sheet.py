"""Contact sheets: labelled images on a grid, for docs/ and for ``vrdream demo``'s output."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .quantize import to_uint8

LABEL_HEIGHT = 18


def to_image(pixels: np.ndarray) -> Image.Image:
    """(H, W, 3) float in [0, 1] (or uint8) -> a Pillow RGB image."""
    return Image.fromarray(to_uint8(pixels)).convert("RGB")


def contact_sheet(
    tiles: Sequence[tuple[str, np.ndarray | Image.Image]], columns: int, width: int, title: str = ""
) -> Image.Image:
    """Tiles (label, image) laid out ``columns`` wide, each scaled to ``width`` px, a label under each."""
    images = [t if isinstance(t, Image.Image) else to_image(t) for _, t in tiles]
    scaled = [
        im.resize((width, max(1, round(im.height * width / im.width))), Image.Resampling.LANCZOS) for im in images
    ]
    rows = [scaled[i : i + columns] for i in range(0, len(scaled), columns)]
    heights = [max(im.height for im in row) + LABEL_HEIGHT for row in rows]
    top = LABEL_HEIGHT + 4 if title else 0
    sheet = Image.new("RGB", (columns * width + (columns - 1) * 4, top + sum(heights) + 4 * (len(rows) - 1)), "white")
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((4, 3), title, fill="black")
    y = top
    for r, row in enumerate(rows):
        for c, im in enumerate(row):
            x = c * (width + 4)
            sheet.paste(im, (x, y))
            draw.text((x + 3, y + im.height + 3), tiles[r * columns + c][0], fill="black")
        y += heights[r] + 4
    return sheet


def save_sheet(sheet: Image.Image, path: str | Path) -> None:
    """Save a contact sheet as a 256-colour PNG (dithered): a third of the size, and docs stay light."""
    from .atomic import atomic_path

    with atomic_path(path) as tmp:
        sheet.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(
            tmp, format="PNG", optimize=True
        )
