"""``vrdream stimuli IN.mp4 -o DIR``: a matched 360° stimulus set (control, levels × strengths), resumable."""

from __future__ import annotations

import argparse

from ..settings import LEVELS, StimulusSettings
from ._common import (
    add_dream_options,
    add_dream_width,
    add_encode_options,
    add_output_options,
    add_steps_next,
    command,
    dream_changes,
    encode_settings,
    say_wrote,
)

ORDER = 52


def _names(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def _numbers(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not numbers separated by commas, e.g. 0.5,1") from None


def register(sub: argparse._SubParsersAction) -> None:
    d = StimulusSettings()
    p = command(
        sub, "stimuli", __doc__, help="matched stimulus set for experiments (control + levels)", runs_network=True
    )
    p.add_argument("input", metavar="IN", help="equirectangular 360° video")
    add_output_options(p)  # OUT: the set's folder, made if missing
    s = p.add_argument_group("stimuli")
    s.add_argument(
        "--levels",
        type=_names,
        default=d.levels,
        metavar="L,...",
        help=f"hallucination levels, low to high: {', '.join(LEVELS)} (default {','.join(d.levels)})",
    )
    s.add_argument(
        "--strengths",
        type=_numbers,
        default=d.strengths,
        metavar="S,...",
        help="share of the dream's detail, 0 (= control) to 1 (default "
        + ",".join(f"{x:g}" for x in d.strengths)
        + ")",
    )
    s.add_argument("--fade", action="store_true", help="also write control → dream → control versions")
    s.add_argument(
        "--hold",
        type=float,
        default=d.hold,
        metavar="X",
        help=f"share of a fade held on the full dream, in [0, 1) (default {d.hold:g})",
    )
    s.add_argument("--loop", action="store_true", help="loop the hallucination: the last frame flows into the first")
    s.add_argument(
        "--loop-frames", type=int, metavar="N", help="frames of the loop's join (default: a quarter of the clip)"
    )
    s.add_argument(
        "--width", type=int, metavar="W", help="output width, a multiple of 16; height W/2 (default: the clip's)"
    )
    add_dream_width(s, "the output's")
    add_steps_next(s)
    add_dream_options(p, levels=True, scaled=False)
    add_encode_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..sphere import SphereOptions
    from ..stimuli import stimulus_set

    settings = StimulusSettings(
        levels=args.levels,
        strengths=args.strengths,
        fade=args.fade,
        hold=args.hold,
        loop=args.loop,
        loop_frames=args.loop_frames,
        width=args.width,
    )
    written = stimulus_set(
        args.input,
        args.output,
        settings,
        dream=dream_changes(args),
        steps_next=args.steps_next,
        sphere=SphereOptions(dream_width=args.dream_width),
        encode=encode_settings(args),
        overwrite=args.overwrite,
        quiet=args.quiet,
    )
    say_wrote(args, *written)
    return 0
