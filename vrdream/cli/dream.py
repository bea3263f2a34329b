"""``vrdream dream IN -o OUT``: dream a photosphere seamlessly (or an ordinary picture with --flat)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import (
    add_dream_options,
    add_dream_width,
    add_input_options,
    add_output_options,
    add_quality,
    add_upscale_options,
    command,
    engine_from_args,
    number_pair,
    read_options,
    say_wrote,
    upscale_from_args,
)

ORDER = 30


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "dream", __doc__, help="dream a photosphere (or --flat picture)", runs_network=True)
    p.add_argument("input", metavar="IN", help="photosphere (JPEG, PNG, TIFF, WebP)")
    add_output_options(p)
    add_input_options(p)
    add_dream_options(p)
    s = p.add_argument_group("sphere")
    add_dream_width(s)
    s.add_argument(
        "--face-size", type=int, metavar="N", help="cube face side at the finest octave (default: dream width / 4)"
    )
    s.add_argument(
        "--keep-faces", metavar="DIR", help="also write the dreamed cube faces into DIR (default: not written)"
    )
    w = p.add_argument_group("where to dream")
    w.add_argument(
        "--mask", type=Path, metavar="FILE", help="grey equirect mask image, white = dream (default: everywhere)"
    )
    w.add_argument(
        "--select",
        type=number_pair,
        metavar="YAW,PITCH",
        help="magic wand: dream the region of similar colour around this direction, degrees (default: none)",
    )
    w.add_argument(
        "--tolerance", type=float, default=0.12, metavar="X", help="magic wand colour tolerance (default 0.12)"
    )
    w.add_argument(
        "--region",
        choices=["sky", "ground"],
        metavar="WHERE",
        help="dream only above (sky) or below (ground) the horizon (default: both)",
    )
    add_upscale_options(p, default=1)
    u = p.add_argument_group("output")
    u.add_argument("--full-sphere", action="store_true", help="write a partial photosphere as the full sphere")
    add_quality(u)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..pipeline import DreamRequest, Output, Selection, dream_file
    from ..sphere import SphereOptions

    request = DreamRequest(
        engine=engine_from_args(args),
        read=read_options(args),
        sphere=SphereOptions(dream_width=args.dream_width, face_size=args.face_size),
        selection=Selection(args.mask, args.select, args.tolerance, args.region),
        output=Output(upscale_from_args(args), args.full_sphere, args.quality),
        keep_faces=args.keep_faces,
    )
    out = dream_file(args.input, args.output, request, overwrite=args.overwrite, quiet=args.quiet)
    say_wrote(args, out)
    return 0
