"""``vrdream equirect FACES... -o OUT``: join cube faces back into an equirect panorama (with GPano)."""

from __future__ import annotations

import argparse

from ._common import add_output_options, command

ORDER = 21


def register(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "equirect",
        __doc__,
        help="cube faces -> equirect panorama with Photo Sphere metadata",
        epilog="FACES: six face images in the order F R B L U D, or one image holding all six, told apart by "
        "its shape: a 4:3 dice cross (U above F; L F R B; D below F) or a 6:1 strip F R B L U D "
        "(py360convert's layouts, as written by `vrdream cubemap`).",
    )
    p.add_argument("faces", nargs="+", metavar="FACES", help="six face files (F R B L U D) or one dice/horizon image")
    p.add_argument("--width", type=int, metavar="W", help="panorama width (default: 4 x face size); height W/2")
    p.add_argument(
        "--interpolation", choices=("bilinear", "bicubic"), default="bicubic", help="resampling (default bicubic)"
    )
    p.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality (default 95)")
    add_output_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from ..cubemap import c2e
    from ..errors import VrdreamError
    from ..gpano import GPano
    from ..layout import read_cubemap
    from ..photosphere import Photosphere, write_photosphere

    faces = read_cubemap(args.faces)
    width = args.width or 4 * faces.shape[1]
    if width < 2 or width % 2:
        raise VrdreamError(f"--width {width}: must be an even number of pixels (the panorama is W x W/2)")
    with torch.inference_mode():
        equi = c2e(torch.from_numpy(faces).permute(0, 3, 1, 2)[None], width // 2, width, mode=args.interpolation)
    pixels = np.ascontiguousarray(equi[0].clamp(0, 1).permute(1, 2, 0).numpy())
    # A full sphere made here: no source file, so GPano says just that (the writer fills in the sizes).
    like = Photosphere(
        pixels=pixels, mask=np.ones(pixels.shape[:2], np.float32), gpano=GPano(), crop=None, exif=None, icc=None
    )
    path = write_photosphere(
        args.output, pixels, like, quality=args.quality, overwrite=args.overwrite, inputs=args.faces
    )
    if not args.quiet:
        print(path)
    return 0
