"""``vrdream cubemap IN -o OUT``: cut a panorama into cube faces (six files, a dice cross or a strip)."""

from __future__ import annotations

import argparse

from ..settings import INTERPOLATIONS, LAYOUTS
from ._common import add_fov, add_max_pixels, add_output_options, add_quality, command, say_wrote

ORDER = 20


def register(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "cubemap",
        __doc__,
        help="equirect panorama -> cube faces F R B L U D (py360convert's orientation)",
        epilog="--layout faces writes six files beside OUT: -o out/cube.png gives out/cube_F.png, cube_R, "
        "cube_B, cube_L, cube_U, cube_D, looking along +z +x -z -x +y -y (x right, y up, z forward: "
        "F is yaw 0, R yaw +90, U straight up); `vrdream equirect --help` lists the other face names "
        "it reads. "
        "dice is the 4:3 cross (U above F; L F R B; D below F) that Unity and Unreal import; horizon is the "
        "6:1 strip F R B L U D. A panorama with areas of no photo (partial, or transparent) gives faces "
        "whose alpha is where the photo is, so they must be PNG, WebP or TIFF; `vrdream equirect` joins "
        "them back into a partial photosphere.",
    )
    p.add_argument("input", metavar="IN", help="equirectangular panorama (JPEG, PNG, TIFF or WebP)")
    p.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="faces",
        help="six face files (default), one dice cross or one horizontal strip",
    )
    p.add_argument("--face-size", type=int, metavar="N", help="face width in pixels (default: panorama width / 4)")
    p.add_argument(
        "--interpolation",
        choices=INTERPOLATIONS,
        default="bicubic",
        help="resampling (default bicubic: sharper, and e2c -> c2e loses less)",
    )
    add_fov(p)
    add_max_pixels(p, "images (the panorama, or the six faces together)")
    add_quality(p)
    add_output_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..layout import cubemap_file

    paths = cubemap_file(
        args.input,
        args.output,
        layout=args.layout,
        face_size=args.face_size,
        interpolation=args.interpolation,
        fov_deg=args.fov,
        max_pixels=args.max_pixels,
        overwrite=args.overwrite,
        quality=args.quality,
    )
    say_wrote(args, *paths)
    return 0
