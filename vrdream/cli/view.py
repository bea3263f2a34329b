"""``vrdream view``: stand inside the photosphere; where you look, the raw dissolves into the dream.

In the headset (OpenXR) by default, in a window with ``--desktop``, or as a still image with
``--screenshot`` (offscreen: EGL, else the platform's OpenGL, else a numpy renderer; no display
or GPU needed). Ctrl-C ends the headset session or the window cleanly (exit 130). Without
``--raw`` the raw panorama is the one the dream records (its path, else its name and SHA-256
beside the dream).
"""

from __future__ import annotations

import argparse
import gc
import math
from dataclasses import replace
from pathlib import Path

from ..errors import InputError, VrdreamError
from ._common import add_quiet, command, number_pair, say_wrote

ORDER = 70


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    if not (0 < w <= 16384 and 0 < h <= 16384):
        raise argparse.ArgumentTypeError(f"size {text!r} out of range (1..16384 a side)")
    return w, h


def _view_fov(text: str) -> float:
    try:
        deg = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of degrees") from None
    if not 10 <= deg <= 170:  # wider than 180 turns the view inside out
        raise argparse.ArgumentTypeError(f"{text} degrees: the view's field of view must be 10-170")
    return deg


def register(subparsers: argparse._SubParsersAction) -> None:
    p = command(subparsers, "view", __doc__, help="view a dream in VR (or a window, or as a screenshot)")
    p.add_argument("dream", type=Path, metavar="DREAM", help="the dreamed photosphere")
    p.add_argument("--raw", type=Path, metavar="FILE", help="the raw photosphere (default: the one DREAM records)")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--desktop", action="store_true", help="view in a window: drag to look, scroll to zoom, the mouse is the gaze"
    )
    where.add_argument(
        "--screenshot", type=Path, metavar="OUT", help="render one view to a PNG/JPEG and exit (default: a live view)"
    )
    p.add_argument(
        "--yaw",
        type=float,
        default=None,
        metavar="DEG",
        help="start view yaw, degrees (default: the photosphere's GPano initial view, else 0 = its centre)",
    )
    p.add_argument(
        "--pitch",
        type=float,
        default=None,
        metavar="DEG",
        help="start view pitch, degrees, up positive (default: the GPano initial view, else 0)",
    )
    p.add_argument(
        "--view-fov",
        type=_view_fov,
        default=90.0,
        metavar="DEG",
        help="horizontal field of view of the screenshot or window, 10-170 degrees (default 90)",
    )
    # Its old name; --fov H,V means a partial panorama's placement in every other command.
    p.add_argument("--fov", dest="view_fov", type=_view_fov, help=argparse.SUPPRESS)
    p.add_argument(
        "--gaze",
        type=number_pair,
        default=None,
        metavar="Y,P",
        help="screenshot: where the viewer looks, yaw,pitch degrees (default: the view centre)",
    )
    p.add_argument("--size", type=_size, default=(1024, 768), metavar="WxH", help="screenshot size (default 1024x768)")
    p.add_argument(
        "--mode",
        choices=("dream-where-you-look", "raw-where-you-look"),
        default="dream-where-you-look",
        metavar="MODE",
        help="where the dream shows: dream-where-you-look or raw-where-you-look (default dream-where-you-look)",
    )
    p.add_argument(
        "--fade",
        type=float,
        default=None,
        metavar="F",
        help="screenshot: a plain global crossfade instead, 0 = raw … 1 = dream (default: the gaze crossfade)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace the screenshot if it exists")
    add_quiet(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..viewer.panorama import load_panoramas

    for path in (args.dream, args.raw):
        if path is not None and not path.is_file():
            raise InputError(path, "no such file")
    if args.fade is not None and not 0.0 <= args.fade <= 1.0:
        raise VrdreamError(f"--fade {args.fade}: must be between 0 (raw) and 1 (dream)")
    if not args.desktop and args.screenshot is None:
        # Probe before loading: a missing runtime should say so at once, not after reading 16k pixels.
        from ..viewer.xr import probe_runtime

        probe_runtime()
    pano = load_panoramas(args.dream, args.raw)
    if pano.note and not args.quiet:
        print(f"vrdream: {pano.note}")
    if args.yaw is not None:
        pano = replace(pano, start_yaw_rad=math.radians(args.yaw))
    if args.pitch is not None:
        pano = replace(pano, start_pitch_rad=math.radians(args.pitch))
    if args.screenshot is not None:
        from ..viewer.preview import render_preview

        render_preview(
            pano,
            out=args.screenshot,
            yaw_deg=math.degrees(pano.start_yaw_rad),
            pitch_deg=math.degrees(pano.start_pitch_rad),
            hfov_deg=args.view_fov,
            gaze_deg=args.gaze,
            size=args.size,
            mode=args.mode,
            fade=args.fade,
            overwrite=args.overwrite,
            quiet=args.quiet,
        )
        say_wrote(args, args.screenshot)
        return 0
    # The live viewers run until Ctrl-C, which must end the process within a second. What is
    # loaded by now (torch among it, through the shared dream options) lives until exit anyway:
    # frozen, the collector never walks it again, and interpreter exit takes a fraction of a
    # second instead of seconds.
    gc.freeze()
    if args.desktop:
        from ..viewer.desktop import run_desktop

        run_desktop(pano, mode=args.mode, hfov_deg=args.view_fov, quiet=args.quiet)
        return 0
    from ..viewer.xr import run_xr

    run_xr(pano, quiet=args.quiet, mode=args.mode)
    return 0
