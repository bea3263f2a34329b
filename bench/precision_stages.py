"""bf16 as the dream applies it (issue 15): per bundled backbone and dream layer, how far the input gradient
moves when the backbone's later stages run in bf16 and its first ones in fp32.

Under reduced-precision autocast a backbone runs its stages before
:attr:`vrdream.backbone_registry.Recipe.reduced_precision_from` in fp32 (:meth:`vrdream.backbones.Backbone._run`).
For every bundled backbone (the others' weights need a download) and each of its dream layers, on the sphere's
six padded views of ../shared/data/mars.jpg at a 256 px face (:func:`bench.precision.sphere_views`): the
gradient's correlation with the all-fp32 one with the whole network in bf16, with the recipe's first bf16 stage,
and the earliest stage from which bf16 keeps >= 0.95 for that layer. A recipe's value, where one is set, is
the latest of those over the layers, so every layer keeps the target. No timing: correlation is a property of
the arithmetic, the same on any CPU or GPU that rounds to bf16.
"""

from __future__ import annotations

import torch

from bench.common import MARS, write_results
from bench.precision import TARGET, correlation, gradient, sphere_views
from vrdream.backbone_registry import get_recipe, list_backbones
from vrdream.backbones import create_backbone
from vrdream.dream import build_objective


def stage_rows(views: torch.Tensor) -> list[dict]:
    """Per bundled backbone and dream layer: the input gradient's correlation with fp32 under bf16 autocast
    with the whole network in bf16, with the recipe's stages before its first bf16 one in fp32, and the
    earliest first bf16 stage that keeps :data:`TARGET` for this layer."""
    rows: list[dict] = []
    for spec in list_backbones():
        recipe = get_recipe(spec.name)
        if not recipe.bundled:
            continue
        backbone = create_backbone(spec.name, channels_last=True)
        stages = list(recipe.stages)
        for layer in spec.layers:
            objective = build_objective(backbone, layer, None, None)
            reference = gradient(backbone, objective, views)

            def bf16_correlation(start: str | None) -> float:
                backbone.reduced_precision_from = start
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    low = gradient(backbone, objective, views)
                return correlation(reference, low)  # in fp32, outside the autocast

            last = stages.index(recipe.layer_paths[layer])
            earliest = next((stages[k] for k in range(last + 1) if bf16_correlation(stages[k]) >= TARGET), "none")
            rows.append(
                {
                    "backbone": spec.name,
                    "layer": layer,
                    "whole_network_bf16": bf16_correlation(None),
                    "recipe_first_bf16": recipe.reduced_precision_from,
                    "at_recipe": bf16_correlation(recipe.reduced_precision_from),
                    "earliest_keeping_target": earliest,
                }
            )
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    views = sphere_views()
    write_results(
        "precision_stages",
        stage_rows(views),
        f"bf16 autocast as the dream applies it, on six {views.shape[-1]} px sphere views of {MARS.name}, each "
        "bundled backbone at each dream layer: correlation of the input gradient with the all-fp32 one "
        f"(Pearson). earliest_keeping_target: the earliest stage from which bf16 keeps >= {TARGET} (the stages "
        "before it in fp32; none: only all-fp32 does, for this layer); at_recipe: with the recipe's "
        "reduced_precision_from where one is set, the latest of those over the layers (a layer before it runs "
        "all in fp32: 1; None: bf16 throughout).",
    )


if __name__ == "__main__":
    main()
