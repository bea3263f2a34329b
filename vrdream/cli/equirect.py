"""``vrdream equirect FACES... -o OUT``: join cube faces back into an equirect panorama (with GPano)."""

from __future__ import annotations

import argparse

from ..faces import face_naming
from ..settings import INTERPOLATIONS
from ._common import add_max_pixels, add_output_options, add_quality, command, say_wrote

ORDER = 21


def register(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "equirect",
        __doc__,
        help="cube faces -> equirect panorama with Photo Sphere metadata",
        epilog="FACES: six face images, or one image holding all six, told apart by its shape: a 4:3 dice "
        "cross (U above F; L F R B; D below F) or a 6:1 strip F R B L U D (py360convert's layouts, as "
        "written by `vrdream cubemap`). Six files are ordered by the face their names carry, whatever "
        "the order they are given in, so `vrdream equirect out/cube_*.png -o back.jpg` works: the last "
        "word of the name (split at anything not a letter or digit, ignoring case) that is one of "
        f"{face_naming()}, in vrdream's frame: x right, y up, z forward (F is yaw 0, R yaw +90, U straight "
        "up). px nx py ny pz nz (posx ... negz) are OpenGL's and Unity's cube-map faces +X -X +Y -Y +Z -Z, "
        "each stored upright as they read it (first row on top): the same pictures as vrdream's R L U D F B. "
        "Names that carry no face are taken in the order given as F R B L U D. A face missing or given "
        "twice is an error. Faces with alpha (from a partial panorama) give a partial photosphere: the "
        "covered area, placed by GPano.",
    )
    p.add_argument(
        "faces",
        nargs="+",
        metavar="FACES",
        help="six face files (named by face, or F R B L U D in order) or one dice/horizon image",
    )
    p.add_argument(
        "--width",
        type=int,
        metavar="W",
        help="panorama width, even (default: 4 x face size); height W/2",
    )
    p.add_argument("--interpolation", choices=INTERPOLATIONS, default="bicubic", help="resampling (default bicubic)")
    add_quality(p)
    add_max_pixels(p, "images (each face, or the panorama)")
    add_output_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..layout import equirect_file

    path = equirect_file(
        args.faces,
        args.output,
        width=args.width,
        interpolation=args.interpolation,
        quality=args.quality,
        overwrite=args.overwrite,
        max_pixels=args.max_pixels,
    )
    say_wrote(args, path)
    return 0
