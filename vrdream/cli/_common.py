"""Options shared by several sub-commands."""

from __future__ import annotations

import argparse
import dataclasses
from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..dream import DreamSettings
    from ..videoio import EncodeSettings


def add_output_options(p: argparse.ArgumentParser) -> None:
    """``-o OUT``, ``--overwrite`` and ``--quiet``: every command that writes files takes these."""
    p.add_argument("-o", "--output", required=True, help="output path (written atomically)")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists (never an input)")
    add_quiet(p)


def add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or chatter")


def add_dream_options(p: argparse.ArgumentParser) -> None:
    """The engine's settings as flags; each left out keeps the preset's value."""
    from ..presets import DEFAULT_PRESET, PRESETS

    g = p.add_argument_group("dream")
    g.add_argument(
        "--preset",
        default=DEFAULT_PRESET,
        choices=list(PRESETS),
        help=f"named settings (default {DEFAULT_PRESET}; see `vrdream models`)",
    )
    g.add_argument("--backbone", help="network (see `vrdream models`)")
    g.add_argument("--weights", help="state-dict file for backbones whose weights are not bundled (googlenet, vgg16)")
    g.add_argument(
        "--objective",
        "--layer",
        dest="objective",
        help="what to amplify: LAYER, LAYER[ch,...], L1*0.5+L2, class:NAME, guide:LAYER",
    )
    g.add_argument("--guide", help="guide image for a guide:LAYER objective")
    g.add_argument("--octaves", type=int, help="number of octaves")
    g.add_argument("--octave-scale", type=float, help="size ratio between octaves")
    g.add_argument("--steps", type=int, help="gradient steps per octave")
    g.add_argument("--pattern-deg", type=float, help="pattern size on the sphere in degrees (default 11.25)")
    g.add_argument("--detail-steps", type=int, help="steps of each finer octave up to full size (0: none)")
    g.add_argument("--step-size", type=float, help="change per step (intensity units, normalised gradient)")
    g.add_argument("--normalize", choices=["mean", "laplacian"], help="gradient normalisation")
    g.add_argument("--jitter", type=int, help="jitter in pixels at the finest octave")
    g.add_argument("--seed", type=int, help="random seed (same seed, same dream on the CPU)")
    g.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], help="autocast precision")
    g.add_argument("--device", help="auto, cpu, cuda, cuda:N")
    g.add_argument("--threads", type=int, help="CPU threads for torch (default: all cores)")
    g.add_argument("--tile", type=int, help="network input tile side (default: from free memory)")


def settings_from_args(args: argparse.Namespace) -> DreamSettings:
    """The preset's settings with every flag that was given applied on top."""
    import torch

    from ..dream import DreamSettings
    from ..presets import get_preset

    if args.threads:
        torch.set_num_threads(args.threads)
    names = {f.name for f in dataclasses.fields(DreamSettings)}
    given = {k: v for k, v in vars(args).items() if k in names and v is not None and k != "preset"}
    return get_preset(args.preset).settings.replace(**given)


def number_pair(text: str) -> tuple[float, float]:
    """``"A,B"`` → (a, b): YAW,PITCH and H,V options (degrees), for argparse."""
    try:
        a, b = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not two numbers in degrees separated by a comma, e.g. 30,-10"
        ) from None
    return a, b


def command(sub: argparse._SubParsersAction, name: str, doc: str, help: str, **kw: object) -> argparse.ArgumentParser:
    """A sub-command's parser, described by the first line of its module's docstring."""
    return sub.add_parser(name, help=help, description=doc.splitlines()[0].replace("``", ""), **kw)


def add_input_options(p: argparse.ArgumentParser) -> None:
    """``--fov H,V``, ``--flat`` and ``--max-pixels N``: how to read an input panorama."""
    from ..photosphere import MAX_PIXELS

    p.add_argument(
        "--fov",
        type=number_pair,
        metavar="H,V",
        help="field of view in degrees of an image without Photo Sphere metadata that is not 2:1; "
        "placed as a partial panorama centred at yaw 0, pitch 0",
    )
    p.add_argument("--flat", action="store_true", help="an ordinary picture, not a panorama")
    p.add_argument(
        "--max-pixels",
        type=int,
        default=MAX_PIXELS,
        metavar="N",
        help=f"refuse images of more than N pixels (default {MAX_PIXELS})",
    )


def read_kwargs(args: argparse.Namespace) -> dict:
    """The :func:`vrdream.photosphere.read_photosphere` keywords from :func:`add_input_options`' flags."""
    return {"fov": args.fov, "flat": args.flat, "max_pixels": args.max_pixels}


def parse_fps(text: str) -> Fraction:
    """``30``, ``29.97`` or ``30000/1001`` → an exact Fraction, for argparse."""
    try:
        fps = Fraction(text).limit_denominator(1001)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a frame rate (e.g. 30, 29.97 or 30000/1001)") from None
    if fps <= 0:
        raise argparse.ArgumentTypeError(f"frame rate must be positive, not {text}")
    return fps


def add_encode_options(p: argparse.ArgumentParser) -> None:
    """``--codec``, ``--crf``, ``--preset``: how the video track is encoded (shared by the video commands)."""
    from ..videoio import EncodeSettings  # a light import (PyAV), but keep --help fast

    d = EncodeSettings()
    p.add_argument(
        "--codec", default=d.codec, help=f"FFmpeg video encoder (default {d.codec}; e.g. libx265, libvpx-vp9, mpeg4)"
    )
    p.add_argument("--crf", type=int, default=d.crf, help=f"constant rate factor, lower is better (default {d.crf})")
    p.add_argument("--encoder-preset", default=d.preset, help=f"x264/x265 speed preset (default {d.preset})")
    p.add_argument("--pix-fmt", default=d.pix_fmt, help=f"pixel format (default {d.pix_fmt}, what players expect)")


def encode_settings(args: argparse.Namespace) -> EncodeSettings:
    """The :class:`vrdream.videoio.EncodeSettings` from :func:`add_encode_options`' flags."""
    from ..videoio import EncodeSettings

    return EncodeSettings(codec=args.codec, pix_fmt=args.pix_fmt, crf=args.crf, preset=args.encoder_preset)
