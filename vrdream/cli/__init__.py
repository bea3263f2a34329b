"""The ``vrdream`` command: a thin argparse layer over the Python API.

Each sub-command lives in its own module in this package and exposes
``register(subparsers)`` (which adds its parser and sets ``run``) and an
``ORDER`` number for the help listing. Command modules import heavy
libraries (torch, GL) inside ``run`` so that ``vrdream --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import VrdreamError


def _command_modules() -> list:
    mods = [importlib.import_module(f"{__name__}.{m.name}") for m in pkgutil.iter_modules(__path__)
            if not m.name.startswith("_")]
    return sorted((m for m in mods if hasattr(m, "register")), key=lambda m: (m.ORDER, m.__name__))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vrdream", description=__doc__.splitlines()[0].replace("``", ""))
    parser.add_argument("--version", action="version", version=f"vrdream {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for mod in _command_modules():
        mod.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except VrdreamError as exc:
        print(f"vrdream: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("vrdream: interrupted", file=sys.stderr)
        return 130
