"""Make docs/upscale.png: bicubic against every super-resolution model, x4, on a real photo and a dream.

    python docs/make_upscale.py ../shared/data/mars.jpg DREAM.jpg

Row 1: a 256x256 crop of a real photo (mars.jpg, NASA/JPL-Caltech/Cornell) shrunk to 64x64 and brought
back x4 by each method, with its PSNR against the real crop (last panel). Row 2: a 64x64 crop of a
dream (any ``vrdream dream`` output) upscaled x4 by each method.

PSNR as super-resolution papers measure it: the photo shrunk with antialiased bicubic (what the
waifu2x and Real-ESRGAN models were trained against; Lanczos costs waifu2x 0.1-0.2 dB, plain
aliased bicubic 1-2 dB), on luma (BT.601), an 8 px border left out. Each label gives the shown
crop's PSNR and, after the slash, the mean over all of ``CROPS`` (ground, rocks, the rover).
GAN-trained Real-ESRGAN models aim at sharp-looking detail rather than PSNR and score below bicubic.
"""

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from vrdream.photosphere import resize
from vrdream.quantize import to_uint8
from vrdream.srmodels import SR_MODELS
from vrdream.upscale import upscale

OUT = Path(__file__).parent / "upscale.png"
TILE = 256
#: 256x256 boxes of mars.jpg (2048x1024) with texture at full resolution; the first is shown.
CROPS = (
    (860, 520, 1116, 776),
    (200, 540, 456, 796),
    (1150, 520, 1406, 776),
    (1560, 540, 1816, 796),
    (560, 740, 816, 996),
)
BORDER = 8


def load(path: str, box: tuple[int, int, int, int]) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB").crop(box), np.float32) / 255


def shrink(img: np.ndarray, factor: int = 4) -> np.ndarray:
    """(h, w, 3) -> (h/factor, w/factor, 3): antialiased bicubic, rounded to 8 bits like a saved file."""
    x = torch.from_numpy(img).permute(2, 0, 1)[None]
    small = F.interpolate(x, scale_factor=1 / factor, mode="bicubic", align_corners=False, antialias=True)
    return (small.clamp(0, 1) * 255).round()[0].permute(1, 2, 0).numpy() / 255


def methods(small: np.ndarray) -> dict[str, np.ndarray]:
    """Each method's x4 of ``small`` (h, w, 3)."""
    x = torch.from_numpy(small).permute(2, 0, 1)[None]
    out = {"bicubic": F.interpolate(x, scale_factor=4, mode="bicubic", align_corners=False).clamp(0, 1)}
    for name in SR_MODELS:
        out[name] = upscale(x, 4, name, sphere=False, precision="fp32")
    return {k: v[0].permute(1, 2, 0).numpy() for k, v in out.items()}


def panel(img: np.ndarray, label: str) -> Image.Image:
    im = Image.fromarray(to_uint8(img)).resize((TILE, TILE), Image.NEAREST)
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, 0, TILE, 14), fill=(0, 0, 0))
    draw.text((3, 2), label, fill=(255, 255, 255))
    return im


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Luma PSNR (dB) of ``a`` against ``b`` (h, w, 3) in [0, 1], ``BORDER`` px left out."""
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    ya, yb = (np.clip(x, 0, 1)[BORDER:-BORDER, BORDER:-BORDER] @ luma for x in (a, b))
    return float(-10 * np.log10(np.mean((ya - yb) ** 2)))


def main(photo: str, dream: str) -> None:
    scores: dict[str, list[float]] = {}
    for box in CROPS:
        truth = load(photo, box)
        for k, v in methods(shrink(truth)).items():
            scores.setdefault(k, []).append(psnr(v, truth))
    truth = load(photo, CROPS[0])  # rocks, sand and a rover part at full resolution
    row1 = [panel(v, f"{k} {scores[k][0]:.2f}/{np.mean(scores[k]):.2f} dB") for k, v in methods(shrink(truth)).items()]
    row1.append(panel(truth, "real photo (truth)"))
    for k, v in scores.items():
        print(f"{k:24s} " + " ".join(f"{x:6.2f}" for x in v) + f"   mean {np.mean(v):.2f} dB")
    crop = load(dream, (600, 250, 664, 314))
    row2 = [panel(v, k) for k, v in methods(crop).items()]
    row2.append(panel(resize(crop, height=TILE, width=TILE), "dream input (Lanczos)"))
    sheet = Image.new("RGB", (TILE * len(row1), TILE * 2))
    for i, im in enumerate(row1 + row2):
        sheet.paste(im, ((i % len(row1)) * TILE, (i // len(row1)) * TILE))
    sheet.save(OUT)
    print(OUT)


if __name__ == "__main__":
    main(*sys.argv[1:3])
