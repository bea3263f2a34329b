"""``vrdream video IN.mp4 -o OUT.mp4``: dream a 360° video, stable in time, resumable, played as 360° everywhere."""

from __future__ import annotations

import argparse

from ._common import (
    add_dream_options,
    add_encode_options,
    add_output_options,
    command,
    encode_settings,
    engine_from_args,
    say_wrote,
)

ORDER = 50


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "video", __doc__, help="dream a 360° video with temporal coherence", runs_network=True)
    p.add_argument("input", metavar="IN", help="equirectangular video (any FFmpeg-readable file)")
    add_output_options(p)
    add_dream_options(p)
    v = p.add_argument_group("video")
    v.add_argument(
        "--dream-width", type=int, metavar="W", help="equirect width the dream runs at (default: the video's)"
    )
    v.add_argument(
        "--steps-next",
        type=int,
        metavar="N",
        help="dream steps on each frame after the first (default 4; 16 with --preset hallucination-machine)",
    )
    v.add_argument("--independent", action="store_true", help="dream every frame on its own (flickers; for comparison)")
    v.add_argument("--keep-checkpoints", action="store_true", help="keep the per-frame checkpoints after encoding")
    add_encode_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from ..presets import video_settings
    from ..sphere import SphereOptions
    from ..video import video_file

    engine = engine_from_args(args)
    video = video_settings(engine.preset, engine.settings)
    if args.steps_next is not None:
        video = dataclasses.replace(video, steps_next=args.steps_next)
    if args.independent:
        video = dataclasses.replace(video, coherent=False)
    out = video_file(
        args.input,
        args.output,
        engine,
        video,
        sphere=SphereOptions(dream_width=args.dream_width),
        encode=encode_settings(args),
        overwrite=args.overwrite,
        quiet=args.quiet,
        keep_checkpoints=args.keep_checkpoints,
    )
    say_wrote(args, out)
    return 0
