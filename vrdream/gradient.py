"""The gradient of an objective with respect to the network's input, in tiles.

Memory is bounded by evaluating big inputs tile by tile. Tiles are cut from
a grid shifted by a random offset at every call, so tile borders (where the
network sees a truncated context) never stay in one place and never show.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .backbones import Backbone
from .device import autocast
from .objective import LOGITS, Objective
from .parallel import run_side_by_side

#: The largest total stride of the bundled backbones: tiles start on multiples of it.
STRIDE = 32


def evaluate(backbone: Backbone, objective: Objective, x: Tensor) -> Tensor:
    """The objective's value on network input ``x`` (B, 3, H, W) in [0, 1]."""
    wanted = [layer for layer in objective.layers if layer != LOGITS]
    feats = dict(backbone.features(x, wanted)) if wanted else {}
    if LOGITS in objective.layers:
        feats[LOGITS] = backbone.logits(x)
    return objective(feats)


def input_gradient(
    backbone: Backbone,
    objective: Objective,
    x: Tensor,
    *,
    tile: int | None = None,
    batch: int | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    concurrent: int = 1,
) -> Tensor:
    """d objective / d x for x (B, 3, H, W), in passes of at most ``batch`` images, each cut into tiles
    of side ``tile`` when it is larger; returns fp32 (B, 3, H, W).

    Each piece's objective is weighted by its share of the whole input, so the
    pieces' gradients add up to what one pass would give (up to the context
    lost at tile borders, which the random grid offset moves around). Whole
    images are preferred to tiles: they lose no context. ``concurrent`` pieces run
    side by side (:func:`vrdream.parallel.run_side_by_side`); each writes only its own part of the result.
    """
    b, _, h, w = x.shape
    step = b if batch is None else max(1, batch)
    min_len = backbone.spec.min_size
    grad = torch.zeros_like(x, dtype=torch.float32)
    pieces = []
    for i in range(0, b, step):  # the cuts are drawn here, in order: the same tiles however the pieces run
        rows = _cuts(h, tile, min_len, generator)
        cols = _cuts(w, tile, min_len, generator)
        pieces += [
            (slice(i, i + step), slice(r0, r1), slice(c0, c1))
            for r0, r1 in zip(rows[:-1], rows[1:])
            for c0, c1 in zip(cols[:-1], cols[1:])
        ]

    def one(piece: tuple[slice, slice, slice]) -> None:
        part = x[piece[0], :, piece[1], piece[2]].detach().requires_grad_(True)
        share = part.shape[0] * part.shape[2] * part.shape[3] / (b * h * w)
        with torch.enable_grad(), autocast(x.device, dtype):
            value = evaluate(backbone, objective, part) * share
            (g,) = torch.autograd.grad(value, part)
        grad[piece[0], :, piece[1], piece[2]] = g

    run_side_by_side(one, pieces, concurrent if x.device.type == "cpu" else 1)
    return grad


def _cuts(
    length: int, tile: int | None, min_len: int, generator: torch.Generator | None, align: int = STRIDE
) -> list[int]:
    """Tile boundaries along one axis: a grid of pitch ``tile`` at a random offset.

    Boundaries sit on multiples of ``align`` (the networks' largest stride), so
    every tile's pixels fall on the same stride grid as in an untiled pass and
    strided layers see the same samples. Boundaries closer than ``min_len`` to
    another are dropped, so no tile is smaller than what the backbone can see.
    """
    if tile is None or length <= tile:
        return [0, length]
    tile = max(align, tile // align * align)
    offset = align * int(torch.randint(0, tile // align, (1,), generator=generator))
    cuts = [0]
    for c in range(offset, length - min_len + 1, tile):
        if c - cuts[-1] >= min_len:
            cuts.append(c)
    return cuts + [length]


def activation_bytes_per_pixel(
    backbone: Backbone, objective: Objective, device: torch.device, dtype: torch.dtype | None, probe: int = 128
) -> float:
    """Bytes autograd keeps for the backward pass, per input pixel, measured on a small probe.

    Counting the tensors saved for backward (rather than guessing per
    architecture) gives the real cost of any backbone, layer and precision.
    """
    size = max(probe, backbone.spec.min_size)
    x = torch.rand(1, 3, size, size, device=device, requires_grad=True)
    saved = 0

    def pack(t: Tensor) -> Tensor:
        nonlocal saved
        saved += t.numel() * t.element_size()
        return t

    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), autocast(device, dtype):
        evaluate(backbone, objective, x)
    return saved / (size * size)


def passes_for_budget(
    budget_bytes: int, bytes_per_pixel: float, shape: tuple[int, ...], min_size: int, multiple: int = STRIDE
) -> tuple[int, int | None]:
    """(images per pass, tile side or None) so that one pass's activations fit ``budget_bytes``.

    Whole images are batched as far as the budget allows; only an image that
    does not fit alone is tiled, with the largest square tile (a multiple of
    ``multiple``) that fits. Autograd's saved tensors are about half of the
    peak (the backward pass allocates gradients of similar size), hence the factor 2.
    """
    b, _, h, w = shape
    pixels = budget_bytes / (2 * bytes_per_pixel)
    if h * w <= pixels:
        return max(1, min(b, int(pixels // (h * w)))), None
    return 1, max(min_size, int(math.sqrt(pixels)) // multiple * multiple)
