"""The ``vrdream`` command: a thin argparse layer over the Python API.

Each sub-command lives in its own module in this package and exposes
``register(subparsers)`` (which adds its parser and sets ``run``) and an
``ORDER`` number for the help listing. Command modules import heavy
libraries (torch, numpy, PyAV, GL, and vrdream's modules that use them) inside
``run``, and take their flags' choices and defaults from light modules
(:mod:`vrdream.settings`, :mod:`vrdream.presets`, :mod:`vrdream.faces`), so that
``vrdream --help``, ``info`` and ``models`` start at once (tests/test_cli_startup.py).
"""

from __future__ import annotations

import argparse
import glob
import importlib
import os
import pkgutil
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

from .. import __version__
from ..errors import VrdreamError


def _command_modules() -> list:
    mods = [
        importlib.import_module(f"{__name__}.{m.name}")
        for m in pkgutil.iter_modules(__path__)
        if not m.name.startswith("_")
    ]
    return sorted((m for m in mods if hasattr(m, "register")), key=lambda m: (m.ORDER, m.__name__))


class _Parser(argparse.ArgumentParser):
    """argparse with its errors as one line (its default prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vrdream", description=__doc__.splitlines()[0].replace("``", ""))
    parser.add_argument("--version", action="version", version=f"vrdream {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)
    for mod in _command_modules():
        mod.register(sub)
    return parser


#: A negative number or comma-separated list of numbers: ``-90,-10``, ``-0.5``.
_NEGATIVE_VALUE = re.compile(r"^-(\d+\.?\d*|\.\d+)(,-?(\d+\.?\d*|\.\d+))*$")


def _value_options(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string, in any sub-command, that takes a value."""
    found: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _value_options(sub)
        elif action.option_strings and action.nargs != 0:
            found.update(action.option_strings)
    return found


def join_negative_values(argv: Sequence[str], value_options: set[str]) -> list[str]:
    """``--select -90,-10`` → ``--select=-90,-10``: argparse takes a value starting with ``-`` for an option
    unless it is a plain negative number, so angles like ``-90,-10`` would need the ``=`` form."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] in value_options and _NEGATIVE_VALUE.match(arg):
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line ``argv`` (default: this process's) parsed; ``--help`` and bad flags exit here."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    return parser.parse_args(join_negative_values(argv, _value_options(parser)))


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse(argv))


def run(args: argparse.Namespace) -> int:
    """Run a parsed command: a :class:`VrdreamError` becomes one line on stderr and its exit code."""
    try:
        return int(args.run(args) or 0)
    except VrdreamError as exc:
        print(f"vrdream: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("vrdream: interrupted", file=sys.stderr)
        return 130


#: jemalloc settings that keep freed pages mapped: torch's CPU time otherwise goes to page faults.
JEMALLOC_CONF = "retain:true,dirty_decay_ms:-1,muzzy_decay_ms:-1"


def fast_allocator_env(environ: dict[str, str]) -> dict[str, str] | None:
    """The environment to re-run under with a faster allocator, or None when it is already set up.

    Measured here: torch on the CPU spends most of its time in page faults under
    glibc's malloc; jemalloc (Debian's libjemalloc2) made a 2048x1024 dream 2.8x
    faster end to end, glibc's own huge pages 1.5-2x with nothing installed.
    An allocator can only be chosen before the process starts, hence a re-exec.
    ``VRDREAM_ALLOCATOR=system`` turns this off.
    """
    if (
        sys.platform != "linux"
        or environ.get("VRDREAM_ALLOCATOR") == "system"
        or "jemalloc" in environ.get("LD_PRELOAD", "")
        or "hugetlb" in environ.get("GLIBC_TUNABLES", "")
    ):
        return None
    env = dict(environ, VRDREAM_ALLOCATOR="system")  # the re-run process must not re-run again
    patterns = ("/usr/lib/*/libjemalloc.so.2", "/usr/lib/libjemalloc.so.2", "/usr/lib64/libjemalloc.so.2")
    found = [lib for pattern in patterns for lib in sorted(glob.glob(pattern))]  # Debian multiarch, Arch, Fedora
    if found:
        env["LD_PRELOAD"] = " ".join(filter(None, [environ.get("LD_PRELOAD", ""), found[0]]))
        env.setdefault("MALLOC_CONF", JEMALLOC_CONF)
    else:
        env["GLIBC_TUNABLES"] = ":".join(filter(None, [environ.get("GLIBC_TUNABLES", ""), "glibc.malloc.hugetlb=1"]))
    return env


def entry() -> None:
    """The ``vrdream`` console script: a command that runs a network re-runs once under a fast allocator
    (a second start, worth it only there); ``--help``, bad flags and the other commands run at once."""
    args = parse()
    env = fast_allocator_env(dict(os.environ)) if args.runs_network else None
    if env is not None:
        os.execve(sys.executable, [sys.executable, "-m", "vrdream", *sys.argv[1:]], env)
    sys.exit(run(args))
