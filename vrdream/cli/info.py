"""``vrdream info IN``: what a panorama file is, and what the pipeline would do with it."""

from __future__ import annotations

import argparse
import json

from ._common import add_input_options, add_quiet, command, read_options

ORDER = 10


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "info", __doc__, help="describe a panorama file and how it would be processed")
    p.add_argument("input", metavar="IN", help="JPEG, PNG, TIFF or WebP panorama")
    add_input_options(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_quiet(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    info = read_options(args).probe(args.input)  # the header and metadata: no float canvas, no numpy
    print(json.dumps(info.summary(), indent=2) if args.json else info.describe())
    return 0
