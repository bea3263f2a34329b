"""Objectives: what a dream amplifies, as a function of a backbone's activations.

Lucid-style: an objective names the layers it needs and turns their
activations into a scalar to *maximise*. Objectives compose by weighted sum.
They are written as text so that presets, the CLI and file metadata share one
form::

    blocks.4                 mean of squares of a layer (the classic DeepDream)
    blocks.3*0.5+blocks.4    weighted sum of several layers
    blocks.4[12,40,41]       only these channels of a layer
    class:banana             an ImageNet class logit (backbones with a head)
    guide:blocks.4           match a guide image's features (needs ``guide=``)

Every objective is a per-pixel *mean*, so a tile of an image contributes in
proportion to its area and tiled gradients add up to the untiled one.
"""

from __future__ import annotations

import difflib
import functools
import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .errors import VrdreamError

#: Pseudo-layer name under which the engine passes the classifier's logits.
LOGITS = "logits"

Features = Mapping[str, Tensor]


@dataclass(frozen=True)
class LayerActivation:
    """Mean of squared activations of ``layer`` (optionally only ``channels``): Mordvintsev et al.'s L2 objective."""

    layer: str
    channels: tuple[int, ...] | None = None

    @property
    def layers(self) -> tuple[str, ...]:
        return (self.layer,)

    def __call__(self, feats: Features) -> Tensor:
        act = feats[self.layer]  # (B, C, h, w)
        if self.channels is not None:
            act = act[:, list(self.channels)]
        return act.float().pow(2).mean()


@dataclass(frozen=True)
class ClassLogit:
    """The logit of one ImageNet class: dreams that class into the image."""

    index: int
    name: str = ""

    @property
    def layers(self) -> tuple[str, ...]:
        return (LOGITS,)

    def __call__(self, feats: Features) -> Tensor:
        return feats[LOGITS][:, self.index].float().mean()


@dataclass(frozen=True, eq=False)
class GuideFeatures:
    """Feature matching to a guide image, as in the original Caffe notebook's ``objective_guide``.

    Each position of the dreamed layer is pulled towards the guide's feature
    vector it is most similar to (largest dot product); the choice is not
    differentiated, so the gradient at a position is that guide vector.
    ``guide`` holds the guide's activations at ``layer``, shape (C, M).
    """

    layer: str
    guide: Tensor

    @property
    def layers(self) -> tuple[str, ...]:
        return (self.layer,)

    def __call__(self, feats: Features) -> Tensor:
        act = feats[self.layer].float()
        b, c, h, w = act.shape
        x = act.reshape(b, c, h * w)  # (B, C, N)
        g = self.guide.to(x)  # (C, M)
        best = torch.einsum("bcn,cm->bnm", x.detach(), g).argmax(dim=2)  # (B, N)
        target = g.t()[best].transpose(1, 2)  # (B, C, N)
        return (x * target).sum(dim=1).mean()


@dataclass(frozen=True)
class WeightedSum:
    """``sum(w * objective)``: several layers (or kinds of objective) at once."""

    terms: tuple[tuple[float, Objective], ...]

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(layer for _, o in self.terms for layer in o.layers))

    def __call__(self, feats: Features) -> Tensor:
        return functools.reduce(operator.add, (w * o(feats) for w, o in self.terms))


Objective = LayerActivation | ClassLogit | GuideFeatures | WeightedSum

_TERM = re.compile(r"^(?P<body>[^*\[]+)(?:\[(?P<ch>[\d,\s]+)\])?(?:\*(?P<w>[-+]?[\d.]+(?:e[-+]?\d+)?))?$")


def parse_objective(
    text: str, *, layers: Sequence[str], class_names: Sequence[str] = (), guide: Tensor | None = None
) -> Objective:
    """Parse the objective language above against a backbone's ``layers`` and ``class_names``.

    ``guide`` is the guide image's activation tensor (C, M) for ``guide:LAYER``
    terms; the engine computes it (it needs the backbone) before calling this.
    """
    terms: list[tuple[float, Objective]] = []
    for raw in (_strip_term(t) for t in text.split("+")):
        m = _TERM.match(raw)
        if not raw or m is None:
            raise VrdreamError(
                f"objective {text!r}: cannot read term {raw!r} (e.g. 'blocks.4', 'blocks.4[3,7]*0.5', 'class:banana')"
            )
        body, weight = m["body"], float(m["w"] or 1.0)
        if body.startswith("class:"):
            terms.append((weight, _class_logit(body[6:], class_names)))
        elif body.startswith("guide:"):
            if guide is None:
                raise VrdreamError(f"objective {text!r}: a guide term needs a guide image (--guide FILE)")
            terms.append((weight, GuideFeatures(_layer(body[6:], layers), guide)))
        else:
            channels = tuple(int(c) for c in m["ch"].split(",") if c) if m["ch"] else None
            terms.append((weight, LayerActivation(_layer(body, layers), channels)))
    if len(terms) == 1 and terms[0][0] == 1.0:
        return terms[0][1]
    return WeightedSum(tuple(terms))


def _strip_term(term: str) -> str:
    """A term without spaces, except inside a class name (``class:golden retriever``)."""
    term = term.strip()
    if term.startswith("class:"):
        head, _, weight = term.partition("*")
        return head.strip() + (f"*{weight.strip()}" if weight else "")
    return term.replace(" ", "")


def _layer(name: str, layers: Sequence[str]) -> str:
    if name not in layers:
        raise VrdreamError(f"unknown layer {name!r}; this backbone has: {', '.join(layers)}")
    return name


def _plain(name: str) -> str:
    """A class name as people type it: case, spaces, underscores and hyphens do not matter."""
    return "".join(c for c in name.lower() if c.isalnum())


def _class_logit(name: str, class_names: Sequence[str]) -> ClassLogit:
    if not class_names:
        raise VrdreamError("class objectives need a backbone with a classifier head (e.g. efficientnet_lite0)")
    if name.isdigit():
        if int(name) >= len(class_names):
            raise VrdreamError(f"class:{name}: ImageNet classes are numbered 0 to {len(class_names) - 1}")
        return ClassLogit(int(name), class_names[int(name)])
    wanted = _plain(name)
    synonyms = [[_plain(s) for s in n.split(",")] for n in class_names]
    exact = [i for i, names in enumerate(synonyms) if wanted in names]
    partial = [i for i, names in enumerate(synonyms) if any(wanted in s for s in names)]
    hits = exact or partial
    if not hits:
        every = {s.strip().lower(): s.strip() for n in class_names for s in n.split(",")}
        close = difflib.get_close_matches(name.strip().lower().replace("_", " "), list(every), n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(repr(every[c]) for c in close)}?" if close else "e.g. banana, jellyfish"
        raise VrdreamError(f"unknown ImageNet class {name!r}; {hint}")
    return ClassLogit(hits[0], class_names[hits[0]])
