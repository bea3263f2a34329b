"""``vrdream info IN``: what a panorama file is, and what the pipeline would do with it."""

from __future__ import annotations

import argparse
import json

from ..photosphere import MAX_PIXELS

ORDER = 10


def parse_fov(text: str) -> tuple[float, float]:
    """``"H,V"`` → (h, v) degrees, for argparse."""
    try:
        h, v = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not H,V (two numbers in degrees, e.g. 120,90)") from None
    return h, v


def add_input_options(p: argparse.ArgumentParser) -> None:
    """``--fov H,V``, ``--flat`` and ``--max-pixels N``: how to read an input panorama."""
    p.add_argument("--fov", type=parse_fov, metavar="H,V",
                   help="field of view in degrees of an image without Photo Sphere metadata that is not 2:1; "
                        "placed as a partial panorama centred at yaw 0, pitch 0")
    p.add_argument("--flat", action="store_true", help="an ordinary picture, not a panorama")
    p.add_argument("--max-pixels", type=int, default=MAX_PIXELS, metavar="N",
                   help=f"refuse images of more than N pixels (default {MAX_PIXELS})")


def read_kwargs(args: argparse.Namespace) -> dict:
    """The :func:`vrdream.photosphere.read_photosphere` keywords from :func:`add_input_options`' flags."""
    return {"fov": args.fov, "flat": args.flat, "max_pixels": args.max_pixels}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="describe a panorama file and how it would be processed",
                       description=__doc__.splitlines()[0].replace("``", ""))
    p.add_argument("input", metavar="IN", help="JPEG, PNG, TIFF or WebP panorama")
    add_input_options(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..photosphere import describe, read_photosphere, summary

    ps = read_photosphere(args.input, **read_kwargs(args))
    print(json.dumps(summary(ps), indent=2) if args.json else describe(ps))
    return 0
