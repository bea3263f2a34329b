"""``vrdream upscale IN -o OUT``: super-resolve a panorama (or a --flat picture) without seams."""

from __future__ import annotations

import argparse

from ..settings import PRECISIONS
from ._common import (
    add_fov,
    add_output_options,
    add_quality,
    add_upscale_options,
    command,
    say_wrote,
    upscale_from_args,
)

ORDER = 40


def register(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "upscale",
        __doc__,
        runs_network=True,
        help="super-resolve a panorama (or --flat picture) x2..x4",
        epilog="Panoramas are tiled with their context taken through the sphere, so neither the "
        "0/360 degree wrap nor the poles show a seam; GPano is rescaled to the new size.",
    )
    p.add_argument("input", metavar="IN", help="panorama or picture (JPEG, PNG, TIFF, WebP)")
    add_output_options(p)
    g = add_upscale_options(p, default=4)
    g.add_argument("--flat", action="store_true", help="an ordinary picture, not a panorama (reflected borders)")
    add_fov(p)
    g.add_argument(
        "--device",
        default="auto",
        metavar="DEV",
        help="auto (a GPU if there is one), cpu, cuda, cuda:1 ... (default auto)",
    )
    g.add_argument(
        "--precision",
        dest="sr_precision",
        metavar="P",
        default="auto",
        choices=PRECISIONS,
        help="auto: bf16 where it is fast (a GPU, a CPU with native bf16), else fp32 (default auto)",
    )
    g.add_argument(
        "--tile",
        dest="sr_tile",
        type=int,
        metavar="PX",
        help="tile side in input pixels (default: from the memory budget)",
    )
    g.add_argument(
        "--memory-budget",
        type=float,
        metavar="GB",
        help="memory the tiles may use (default: a quarter of what is free, at most 2)",
    )
    add_quality(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..superres import upscale_file

    out = upscale_file(
        args.input,
        args.output,
        upscale_from_args(args),
        flat=args.flat,
        fov_deg=args.fov,
        device=args.device,
        quality=args.quality,
        overwrite=args.overwrite,
        quiet=args.quiet,
    )
    say_wrote(args, out)
    return 0
