"""``vrdream verify PATH...``: check outputs (or folders of them) against their provenance records."""

from __future__ import annotations

import argparse

from ._common import add_quiet, command

ORDER = 90


def register(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "verify",
        __doc__,
        help="check outputs against their records; --rerun re-makes frames",
        runs_network=True,  # --rerun dreams again
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="outputs, their .vrdream.json records, or folders")
    p.add_argument(
        "--rerun",
        type=int,
        default=0,
        metavar="N",
        help="also make N frames of each output again, picked at random, and compare (default 0)",
    )
    p.add_argument(
        "--rerun-seed", type=int, default=0, metavar="N", help="seed of the random pick of --rerun (default 0)"
    )
    p.add_argument(
        "--device", metavar="DEV", help="where --rerun dreams: auto, cpu, cuda, cuda:N (default: the recorded one)"
    )
    add_quiet(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import VrdreamError
    from ..verify import verify_files

    verdicts = verify_files(args.paths, rerun=args.rerun, seed=args.rerun_seed, device=args.device)
    failed = [v for v in verdicts if v.problem is not None]
    if not args.quiet:
        for v in verdicts:
            rerun = f"; re-made frames {', '.join(map(str, v.rerun))} (seed {args.rerun_seed})" if v.rerun else ""
            note = f": {v.problem or v.note}" if v.problem or v.note else ""
            print(f"{'FAILED' if v.problem else 'ok'} {v.output}{rerun}{note}")
    if failed:
        raise VrdreamError("; ".join(f"{v.output}: {v.problem}" for v in failed))
    return 0
