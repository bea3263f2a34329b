"""``vrdream demo``: dream the bundled sample and show the results (the first thing to run)."""

from __future__ import annotations

import argparse

from ._common import add_quiet, command

ORDER = 0


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "demo", __doc__, help="dream the bundled sample panorama and write previews")
    p.add_argument("sample", nargs="?", help="panorama to use instead of samples/mars.jpg")
    p.add_argument("-o", "--output", default="vrdream-demo", help="folder for the results (default ./vrdream-demo)")
    p.add_argument("--preset", default=None, help="dream preset (default: the default preset)")
    add_quiet(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo
    from ..presets import DEFAULT_PRESET

    files = run_demo(args.output, args.sample, preset=args.preset or DEFAULT_PRESET, quiet=args.quiet)
    print("vrdream demo: wrote")
    for name, path in files.items():
        print(f"  {name:13s} {path}")
    print(
        f"look around in it:\n  vrdream view {files['dream']}            (headset, OpenXR)\n"
        f"  vrdream view {files['dream']} --desktop  (window; drag to look, the mouse is your gaze)"
    )
    return 0
