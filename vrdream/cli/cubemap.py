"""``vrdream cubemap IN -o OUT``: cut a panorama into cube faces (six files, a dice cross or a strip)."""

from __future__ import annotations

import argparse

from ..photosphere import MAX_PIXELS
from ._common import add_output_options, command, number_pair

ORDER = 20


def register(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "cubemap",
        __doc__,
        help="equirect panorama -> cube faces F R B L U D (py360convert's orientation)",
        epilog="--layout faces writes six files beside OUT: -o out/cube.png gives out/cube_F.png, cube_R, "
        "cube_B, cube_L, cube_U, cube_D. dice is the 4:3 cross (U above F; L F R B; D below F) that "
        "Unity and Unreal import; horizon is the 6:1 strip F R B L U D. A partial panorama's unknown "
        "area becomes transparent in PNG/WebP/TIFF faces.",
    )
    p.add_argument("input", metavar="IN", help="equirectangular panorama (JPEG, PNG, TIFF or WebP)")
    p.add_argument(
        "--layout",
        choices=("faces", "dice", "horizon"),
        default="faces",
        help="six face files (default), one dice cross or one horizontal strip",
    )
    p.add_argument("--face-size", type=int, metavar="N", help="face width in pixels (default: panorama width / 4)")
    p.add_argument(
        "--interpolation",
        choices=("bilinear", "bicubic"),
        default="bicubic",
        help="resampling (default bicubic: sharper, and e2c -> c2e loses less)",
    )
    p.add_argument(
        "--fov",
        type=number_pair,
        metavar="H,V",
        help="field of view in degrees of an image without Photo Sphere metadata that is not 2:1",
    )
    p.add_argument(
        "--max-pixels",
        type=int,
        default=MAX_PIXELS,
        metavar="N",
        help=f"refuse images of more than N pixels (default {MAX_PIXELS})",
    )
    add_output_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from ..cubemap import e2c
    from ..errors import VrdreamError
    from ..layout import write_cubemap
    from ..photosphere import read_photosphere

    ps = read_photosphere(args.input, fov=args.fov, max_pixels=args.max_pixels)
    n = args.face_size or ps.width // 4
    if n < 1:
        raise VrdreamError(f"--face-size {n}: must be at least 1")
    # Sample the mask with the colours, so a partial panorama's faces know where they are real.
    channels = np.concatenate([ps.pixels, ps.mask[..., None]], axis=-1) if ps.is_partial else ps.pixels
    equi = torch.from_numpy(channels).permute(2, 0, 1)[None]
    with torch.inference_mode():
        faces = e2c(equi, n, mode=args.interpolation)[0].clamp(0, 1).permute(0, 2, 3, 1).numpy()
    paths = write_cubemap(args.output, faces, args.layout, overwrite=args.overwrite, inputs=[args.input], icc=ps.icc)
    if not args.quiet:
        print("\n".join(str(p) for p in paths))
    return 0
