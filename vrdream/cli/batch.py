"""``vrdream batch IN... -o OUTDIR``: dream many photospheres and 360° videos, resumably, on one machine or many."""

from __future__ import annotations

import argparse

from ._common import (
    add_dream_options,
    add_encode_options,
    add_input_options,
    add_quality,
    add_quiet,
    add_temporal_options,
    add_upscale_options,
    add_worker_options,
    command,
    encode_settings,
    engine_from_args,
    read_options,
    say_wrote,
    temporal_from_args,
    upscale_from_args,
)

ORDER = 52


def register(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "batch",
        __doc__,
        help="dream many stills and videos (folders, globs), optionally on Ray workers",
        runs_network=True,
    )
    p.add_argument("inputs", nargs="+", metavar="IN", help="photospheres and 360° videos: files, folders or globs")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output folder: each result under its input's name, and the manifest vrdream-batch.json",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace outputs this batch did not make with the same settings"
    )
    add_quiet(p)
    add_worker_options(p)
    add_input_options(p)
    add_dream_options(p, scale_note="(stills; a video dreams at --dream-width) ")
    v = p.add_argument_group("sphere and video")
    v.add_argument(
        "--dream-width", type=int, metavar="W", help="equirect width the dream runs at (default: the input's)"
    )
    add_temporal_options(v)
    add_encode_options(p)
    add_upscale_options(p, default=1)
    add_quality(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..batch import BatchRequest, batch_files
    from ..pipeline import DreamRequest, Output
    from ..sphere import SphereOptions

    engine = engine_from_args(args)
    request = BatchRequest(
        DreamRequest(
            engine=engine,
            read=read_options(args),
            sphere=SphereOptions(dream_width=args.dream_width),
            output=Output(upscale_from_args(args), quality=args.quality),
        ),
        temporal_from_args(args, engine),
        encode_settings(args),
    )
    result = batch_files(
        args.inputs,
        args.output,
        request,
        workers=args.workers,
        ray_address=args.ray,
        overwrite=args.overwrite,
        quiet=args.quiet,
    )
    say_wrote(args, *result.written, result.manifest)
    return 2 if result.failed else 0
