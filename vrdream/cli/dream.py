"""``vrdream dream IN -o OUT``: dream a photosphere seamlessly (or an ordinary picture with --flat)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import (
    add_dream_options,
    add_input_options,
    add_output_options,
    command,
    number_pair,
    settings_from_args,
)

ORDER = 30


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "dream", __doc__, help="dream a photosphere (or --flat picture)")
    p.add_argument("input", metavar="IN", help="photosphere (JPEG, PNG, TIFF, WebP)")
    add_output_options(p)
    add_input_options(p)
    add_dream_options(p)
    s = p.add_argument_group("sphere")
    s.add_argument("--dream-width", type=int, help="equirect width the dream runs at (default: the input's)")
    s.add_argument("--face-size", type=int, help="cube face side at the finest octave (default: dream width / 4)")
    s.add_argument("--keep-faces", metavar="DIR", help="also write the dreamed cube faces into DIR")
    w = p.add_argument_group("where to dream")
    w.add_argument("--mask", type=Path, help="grey equirect mask image (white = dream)")
    w.add_argument(
        "--select",
        type=number_pair,
        metavar="YAW,PITCH",
        help="magic wand: dream the region of similar colour around this direction",
    )
    w.add_argument("--tolerance", type=float, default=0.12, help="magic wand colour tolerance (default 0.12)")
    w.add_argument("--region", choices=["sky", "ground"], help="dream only above or below the horizon")
    u = p.add_argument_group("output")
    u.add_argument("--upscale", type=int, choices=[1, 2, 4], default=1, help="super-resolve the dream ×2 or ×4")
    u.add_argument("--sr", default="auto", help="super-resolution model (auto, or see `vrdream models`)")
    u.add_argument("--sr-weights", help="weights file for the SR model")
    u.add_argument("--full-sphere", action="store_true", help="write a partial photosphere as the full sphere")
    u.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality (default 95)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..pipeline import Output, Selection, dream_file
    from ..sphere import SphereOptions

    out = dream_file(
        args.input,
        args.output,
        settings_from_args(args),
        preset=args.preset,
        sphere=SphereOptions(dream_width=args.dream_width, face_size=args.face_size),
        selection=Selection(args.mask, args.select, args.tolerance, args.region),
        output=Output(args.upscale, args.sr, args.sr_weights, args.full_sphere, args.quality),
        flat=args.flat,
        fov=args.fov,
        max_pixels=args.max_pixels,
        weights=args.weights,
        guide=args.guide,
        keep_faces=args.keep_faces,
        overwrite=args.overwrite,
        quiet=args.quiet,
    )
    if not args.quiet:
        print(f"wrote {out}")
    return 0
