"""Options shared by several sub-commands."""

from __future__ import annotations

import argparse


def add_output_options(p: argparse.ArgumentParser) -> None:
    """``-o OUT``, ``--overwrite`` and ``--quiet``: every command that writes files takes these."""
    p.add_argument("-o", "--output", required=True, help="output path (written atomically)")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists (never an input)")
    add_quiet(p)


def add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or chatter")
