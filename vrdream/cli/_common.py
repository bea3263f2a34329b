"""Options shared by several sub-commands."""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..dream import DreamSettings


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
    g.add_argument("--preset", default=DEFAULT_PRESET, choices=list(PRESETS), help=f"named settings (default {DEFAULT_PRESET}; see `vrdream models`)")
    g.add_argument("--backbone", help="network (see `vrdream models`)")
    g.add_argument("--weights", help="state-dict file for backbones whose weights are not bundled (googlenet, vgg16)")
    g.add_argument("--objective", "--layer", dest="objective", help="what to amplify: LAYER, LAYER[ch,...], L1*0.5+L2, class:NAME, guide:LAYER")
    g.add_argument("--guide", help="guide image for a guide:LAYER objective")
    g.add_argument("--octaves", type=int, help="number of octaves")
    g.add_argument("--octave-scale", type=float, help="size ratio between octaves")
    g.add_argument("--steps", type=int, help="gradient steps per octave")
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
