"""``vrdream zoom IN -o OUT.mp4``: dream, zoom a little toward a direction, dream again: a seamless 360° zoom video."""

from __future__ import annotations

import argparse
from fractions import Fraction

from ..settings import ZoomSettings
from ._common import (
    add_dream_options,
    add_dream_width,
    add_encode_options,
    add_fov,
    add_output_options,
    command,
    encode_settings,
    engine_from_args,
    number_pair,
    parse_fps,
    say_wrote,
)

ORDER = 55


def register(sub: argparse._SubParsersAction) -> None:
    d = ZoomSettings()
    p = command(sub, "zoom", __doc__, help="endless-zoom dream video (Möbius zoom on the sphere)", runs_network=True)
    p.add_argument("input", metavar="IN", help="photosphere (or a picture with --flat)")
    add_output_options(p)
    add_dream_options(p, scaled=False)
    z = p.add_argument_group("zoom")
    z.add_argument("--frames", type=int, default=d.frames, metavar="N", help=f"frames (default {d.frames})")
    z.add_argument("--zoom", type=float, default=d.zoom, metavar="X", help=f"zoom per frame (default {d.zoom})")
    z.add_argument(
        "--steps-per-frame", type=int, default=d.steps, metavar="N", help=f"dream steps per frame (default {d.steps})"
    )
    z.add_argument(
        "--toward",
        type=number_pair,
        default=d.toward_deg,
        metavar="YAW,PITCH",
        help=f"direction to zoom toward, degrees (default {d.toward_deg[0]:g},{d.toward_deg[1]:g})",
    )
    z.add_argument(
        "--spin",
        type=float,
        default=d.spin_deg,
        metavar="DEG",
        help=f"degrees turned about the zoom axis per frame (default {d.spin_deg:g})",
    )
    z.add_argument(
        "--fps",
        type=parse_fps,
        default=Fraction(d.fps),
        metavar="FPS",
        help=f"frames per second, e.g. 30 or 30000/1001 (default {d.fps})",
    )
    add_fov(p)
    z.add_argument(
        "--flat", action="store_true", help="an ordinary picture: planar zoom into its centre, no 360° metadata"
    )
    add_dream_width(z)
    add_encode_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..sphere import SphereOptions
    from ..zoom import zoom_video

    zoom = ZoomSettings(args.frames, args.zoom, args.steps_per_frame, args.toward, args.spin, args.fps)
    out = zoom_video(
        args.input,
        args.output,
        engine_from_args(args),
        zoom,
        sphere=SphereOptions(dream_width=args.dream_width),
        flat=args.flat,
        fov_deg=args.fov,
        encode=encode_settings(args),
        overwrite=args.overwrite,
        quiet=args.quiet,
    )
    say_wrote(args, out)
    return 0
