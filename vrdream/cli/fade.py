"""``vrdream fade RAW DREAM -o OUT.mp4``: a raw → dream → raw crossfade video with 360° metadata."""

from __future__ import annotations

import argparse
from fractions import Fraction

from ._common import add_output_options

ORDER = 60


def parse_fps(text: str) -> Fraction:
    """``30``, ``29.97`` or ``30000/1001`` → an exact Fraction, for argparse."""
    try:
        fps = Fraction(text).limit_denominator(1001)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a frame rate (e.g. 30, 29.97 or 30000/1001)") from None
    if fps <= 0:
        raise argparse.ArgumentTypeError(f"frame rate must be positive, not {text}")
    return fps


def add_encode_options(p: argparse.ArgumentParser) -> None:
    """``--codec``, ``--crf``, ``--preset``: how the video track is encoded (shared by the video commands)."""
    from ..videoio import EncodeSettings  # a light import (PyAV), but keep --help fast

    d = EncodeSettings()
    p.add_argument("--codec", default=d.codec,
                   help=f"FFmpeg video encoder (default {d.codec}; e.g. libx265, libvpx-vp9, mpeg4)")
    p.add_argument("--crf", type=int, default=d.crf, help=f"constant rate factor, lower is better (default {d.crf})")
    p.add_argument("--preset", default=d.preset, help=f"x264/x265 speed preset (default {d.preset})")
    p.add_argument("--pix-fmt", default=d.pix_fmt, help=f"pixel format (default {d.pix_fmt}, what players expect)")


def encode_settings(args: argparse.Namespace):  # -> EncodeSettings (lazy import)
    """The :class:`vrdream.videoio.EncodeSettings` from :func:`add_encode_options`' flags."""
    from ..videoio import EncodeSettings

    return EncodeSettings(codec=args.codec, pix_fmt=args.pix_fmt, crf=args.crf, preset=args.preset)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fade", help="raw → dream → raw crossfade video (360°)",
                       description=__doc__.splitlines()[0].replace("``", ""))
    p.add_argument("raw", metavar="RAW", help="the raw panorama")
    p.add_argument("dream", metavar="DREAM", help="its dream (same 2:1 canvas; the raw is resized to it)")
    p.add_argument("--seconds", type=float, default=10.0, help="length of the whole cycle (default 10)")
    p.add_argument("--fps", type=parse_fps, default=Fraction(30), help="frame rate (default 30)")
    p.add_argument("--hold", type=float, default=0.0,
                   help="share of the cycle held on the full dream, in [0, 1) (default 0: a pure raised cosine)")
    add_encode_options(p)
    add_output_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..fade import FadeSettings, fade_video

    out = fade_video(args.raw, args.dream, args.output,
                     FadeSettings(seconds=args.seconds, fps=args.fps, hold=args.hold),
                     encode=encode_settings(args), overwrite=args.overwrite, quiet=args.quiet)
    if not args.quiet:
        print(out)
    return 0
