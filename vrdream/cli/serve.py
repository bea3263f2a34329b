"""``vrdream serve DREAM``: the gaze crossfade in a web browser, a headset's included, with nothing to install.

Serves a web page and the panoramas from this computer: open the printed address in a desktop
browser (drag to look, the mouse is the gaze) or in a headset's browser and press "Enter VR".
WebXR needs a secure context: ``localhost`` (a Quest on USB: ``adb reverse tcp:PORT tcp:PORT``)
or ``--https``. Ctrl-C stops the server (exit 130).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import add_quiet, command

ORDER = 75


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} out of range (0-65535; 0: any free port)")
    return port


def register(subparsers: argparse._SubParsersAction) -> None:
    p = command(subparsers, "serve", __doc__, help="view a dream in a (headset's) web browser")
    p.add_argument("dream", type=Path, metavar="DREAM", help="the dreamed photosphere or 360° video")
    p.add_argument(
        "--raw",
        type=Path,
        metavar="FILE",
        help="the raw photosphere or video (default: the one an image DREAM records; a video records none)",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="ADDR",
        help="address to listen on; 0.0.0.0 for the local network (default 127.0.0.1: this computer only)",
    )
    p.add_argument(
        "--port", type=_port, default=8000, metavar="N", help="port to listen on, 0: any free (default 8000)"
    )
    p.add_argument(
        "--https",
        action="store_true",
        help="serve https with a self-signed certificate made on first use (WebXR needs it beyond localhost)",
    )
    add_quiet(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..serve import serve_file

    serve_file(args.dream, args.raw, host=args.host, port=args.port, https=args.https, quiet=args.quiet)
    return 0
