"""``vrdream demo``: dream the bundled sample and show the results (the first thing to run)."""

from __future__ import annotations

import argparse

from ._common import add_quiet, command, say_wrote

ORDER = 0


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "demo", __doc__, help="dream the bundled sample panorama and write previews", runs_network=True)
    p.add_argument("sample", nargs="?", help="panorama to use instead of the bundled one (samples/README.md)")
    p.add_argument(
        "-o", "--output", default="vrdream-demo", metavar="OUT", help="folder for the results (default ./vrdream-demo)"
    )
    p.add_argument("--preset", default=None, metavar="NAME", help="dream preset (default: the default preset)")
    p.add_argument(
        "--steps", type=int, metavar="N", help="gradient steps per octave (default: the preset's; 2 for a quick look)"
    )
    p.add_argument(
        "--octaves", type=int, metavar="N", help="number of octaves (default: the preset's; 1 for a quick look)"
    )
    add_quiet(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo
    from ..presets import DEFAULT_PRESET, get_preset

    preset = args.preset or DEFAULT_PRESET
    quick = {k: v for k in ("steps", "octaves") if (v := getattr(args, k)) is not None}
    settings = get_preset(preset).settings.replace(**quick)
    files = run_demo(args.output, args.sample, preset=preset, settings=settings, quiet=args.quiet)
    if not args.quiet:
        print(
            f"look around in it:\n  vrdream view {files['dream']}            (headset, OpenXR)\n"
            f"  vrdream view {files['dream']} --desktop  (window; drag to look, the mouse is your gaze)"
        )
    say_wrote(args, *(f"{path}  ({name.replace('_', ' ')})" for name, path in files.items()))
    return 0
