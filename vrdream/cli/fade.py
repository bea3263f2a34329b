"""``vrdream fade RAW DREAM -o OUT.mp4``: a raw → dream → raw crossfade video with 360° metadata."""

from __future__ import annotations

import argparse
from fractions import Fraction

from ._common import (
    add_encode_options,
    add_output_options,
    command,
    encode_settings,
    parse_fps,
    say_wrote,
)

ORDER = 60


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "fade", __doc__, help="raw → dream → raw crossfade video (360°)")
    p.add_argument("raw", metavar="RAW", help="the raw panorama")
    p.add_argument("dream", metavar="DREAM", help="its dream (same 2:1 canvas; the raw is resized to it)")
    p.add_argument("--seconds", type=float, default=10.0, metavar="S", help="length of the whole cycle (default 10)")
    p.add_argument("--fps", type=parse_fps, default=Fraction(30), metavar="FPS", help="frame rate (default 30)")
    p.add_argument(
        "--hold",
        type=float,
        metavar="X",
        default=0.0,
        help="share of the cycle held on the full dream, in [0, 1) (default 0: a pure raised cosine)",
    )
    add_encode_options(p)
    add_output_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..fade import FadeSettings, fade_video

    out = fade_video(
        args.raw,
        args.dream,
        args.output,
        FadeSettings(seconds=args.seconds, fps=args.fps, hold=args.hold),
        encode=encode_settings(args),
        overwrite=args.overwrite,
        quiet=args.quiet,
    )
    say_wrote(args, out)
    return 0
