"""``vrdream video IN.mp4 -o OUT.mp4``: dream a 360° video, stable in time, resumable, played as 360° everywhere."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import (
    add_dream_options,
    add_dream_width,
    add_encode_options,
    add_output_options,
    add_temporal_options,
    add_worker_options,
    command,
    encode_settings,
    engine_from_args,
    say_wrote,
    temporal_from_args,
)

ORDER = 50


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "video", __doc__, help="dream a 360° video with temporal coherence", runs_network=True)
    p.add_argument("input", metavar="IN", help="equirectangular video (any FFmpeg-readable file)")
    add_output_options(p)
    add_dream_options(p, scaled=False)
    v = p.add_argument_group("video")
    add_dream_width(v, "the video's")
    add_temporal_options(v)
    v.add_argument("--keep-checkpoints", action="store_true", help="keep the per-frame checkpoints after encoding")
    add_encode_options(p)
    add_worker_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..segments import video_on_workers
    from ..sphere import SphereOptions
    from ..video import video_file
    from ..workers import wants_ray

    engine = engine_from_args(args)
    common: dict[str, Any] = {
        "sphere": SphereOptions(dream_width=args.dream_width),
        "encode": encode_settings(args),
        "overwrite": args.overwrite,
        "quiet": args.quiet,
        "keep_checkpoints": args.keep_checkpoints,
    }
    video = temporal_from_args(args, engine)
    if wants_ray(args.workers, args.ray):
        out = video_on_workers(
            args.input, args.output, engine, video, workers=args.workers, ray_address=args.ray, **common
        )
    else:
        out = video_file(args.input, args.output, engine, video, **common)
    say_wrote(args, out)
    return 0
