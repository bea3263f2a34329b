"""The DeepDream optimiser loop: gradient ascent on the image over an octave pyramid.

A dream is four separate pieces (as in lucid):

- an **objective** (:mod:`vrdream.objective`): what to amplify;
- a **parameterisation** (:class:`Param`): where the image lives (a flat
  image, or the six faces of a cube canvas for a sphere) and how it is shown
  to the network, jitter included;
- the **backbone** (:mod:`vrdream.backbones`): the network that sees;
- this loop: octaves, steps, gradient normalisation, clamping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import torch
from torch import Tensor

from .backbones import Backbone, create_backbone
from .device import autocast, autocast_dtype, memory_budget, resolve_device
from .errors import VrdreamError
from .gradient import activation_bytes_per_pixel, input_gradient, passes_for_budget
from .objective import LayerActivation, Objective, WeightedSum, parse_objective
from .octave import normalize_gradient, octave_sizes, reflect_pad, resize
from .settings import DreamSettings

Shape = tuple[int, ...]


def _hw(shape: Shape) -> dict[str, int]:
    """``height=``, ``width=``: the last two sides of a canvas shape, for :func:`vrdream.octave.resize`."""
    return {"height": shape[-2], "width": shape[-1]}


class OctaveStore(Protocol):
    """Where a long dream keeps each finished octave's canvas (see :class:`Dreamer`)."""

    def load(self, octave: int) -> Tensor | None:
        """The stored canvas of ``octave``, or None if it is not done."""

    def save(self, octave: int, canvas: Tensor) -> Tensor:
        """Store ``canvas``; return it as stored (the dream continues from exactly that)."""


class Views(NamedTuple):
    """What the network sees of a canvas in one step."""

    #: Network inputs (B, 3, h, w) in [0, 1].
    images: Tensor
    #: Maps a gradient on ``images`` to a gradient on the canvas (overlaps averaged, not summed).
    to_canvas: Callable[[Tensor], Tensor]


class Param(Protocol):
    """Where the dreamed image lives and how the network sees it.

    The *canvas* is the tensor the optimiser changes (an image, or cube faces);
    its shape at each octave comes from :meth:`shapes`.
    """

    def shapes(self, octaves: int, scale: float, min_size: int) -> list[Shape]:
        """Canvas shapes from coarsest to finest."""

    def base(self, shape: Shape) -> Tensor:
        """The raw image as a canvas of ``shape``."""

    def resize(self, canvas: Tensor, shape: Shape) -> Tensor:
        """A canvas-shaped tensor (e.g. the dream's detail) resampled to ``shape``."""

    def mask(self, shape: Shape) -> Tensor | None:
        """Where to dream (1) and where not (0), broadcastable to the canvas; None for everywhere."""

    def views(self, canvas: Tensor, generator: torch.Generator, jitter: float) -> Views:
        """Jittered network inputs made from ``canvas``, and the map of their gradient back onto it."""

    def extend(self, canvas: Tensor, r: int) -> Tensor:
        """``canvas`` with r more pixels around each image, continued as the surface continues."""


@dataclass(frozen=True)
class FlatParam:
    """An ordinary image (1, 3, H, W); jitter is a random roll (the original notebook's)."""

    raw: Tensor
    where: Tensor | None = None  # (1, 1, H, W) in [0, 1]

    def shapes(self, octaves: int, scale: float, min_size: int) -> list[Shape]:
        h, w = self.raw.shape[-2:]
        return [(1, 3, sh, sw) for sh, sw in octave_sizes(h, w, octaves, scale, min_size)]

    def base(self, shape: Shape) -> Tensor:
        return resize(self.raw, **_hw(shape))

    def resize(self, canvas: Tensor, shape: Shape) -> Tensor:
        return resize(canvas, **_hw(shape))

    def mask(self, shape: Shape) -> Tensor | None:
        return None if self.where is None else resize(self.where, **_hw(shape)).clamp(0, 1)

    def extend(self, canvas: Tensor, r: int) -> Tensor:
        return reflect_pad(canvas, r)

    def views(self, canvas: Tensor, generator: torch.Generator, jitter: float) -> Views:
        j = max(int(round(jitter)), 0)
        dy, dx = torch.randint(-j, j + 1, (2,), generator=generator).tolist() if j else (0, 0)
        return Views(
            torch.roll(canvas, shifts=(dy, dx), dims=(-2, -1)),
            lambda g: torch.roll(g, shifts=(-dy, -dx), dims=(-2, -1)),
        )


class Dreamer:
    """A backbone, an objective and settings, ready to dream any :class:`Param`.

    Build once and reuse (video frames, zoom steps): loading the backbone and
    measuring its memory use happen here, not per dream.
    """

    def __init__(
        self,
        settings: DreamSettings = DreamSettings(),
        *,
        backbone: Backbone | None = None,
        guide: Tensor | None = None,
    ) -> None:
        self.settings = settings
        self.device = resolve_device(settings.device)
        self.dtype = autocast_dtype(self.device, settings.precision)
        self.backbone = (
            backbone
            if backbone is not None
            else create_backbone(settings.backbone, device=self.device, channels_last=settings.channels_last)
        )
        self.objective = build_objective(self.backbone, settings.objective, guide, self.dtype)
        self._bytes_per_pixel = activation_bytes_per_pixel(self.backbone, self.objective, self.device, self.dtype)

    @property
    def concurrent(self) -> int:
        """Network passes run side by side: the ``concurrent_passes`` setting on the CPU, one on a GPU."""
        return self.settings.concurrent_passes if self.device.type == "cpu" else 1

    def passes(self, shape: tuple[int, ...]) -> tuple[int, int | None]:
        """(images per pass, tile side or None) for network inputs of ``shape``: the ``tile`` setting,
        or what fits each concurrent pass's share of the memory budget (whole images first), in at least
        as many passes as run side by side where there are images enough."""
        if self.settings.tile is not None:
            return 1, self.settings.tile
        budget = min(memory_budget(self.device, self.settings.memory_fraction), self.settings.memory_limit_mb << 20)
        batch, tile = passes_for_budget(
            budget // self.concurrent, self._bytes_per_pixel, tuple(shape), self.backbone.spec.min_size
        )
        return (batch if tile is not None else min(batch, -(-shape[0] // self.concurrent))), tile

    def total_steps(self, param: Param, init: Tensor | None = None, steps: int | None = None) -> int:
        s = self.settings
        per_octave = s.steps if steps is None else steps
        if init is not None:
            return per_octave
        return per_octave * len(param.shapes(s.octaves, s.octave_scale, self.backbone.spec.min_size))

    def __call__(
        self,
        param: Param,
        *,
        init: Tensor | None = None,
        steps: int | None = None,
        on_step: Callable[[], None] | None = None,
        store: OctaveStore | None = None,
    ) -> Tensor:
        """Dream ``param``; returns the finest canvas.

        ``steps`` overrides the settings' steps per octave. With ``init`` (a
        finest-size canvas, e.g. the previous video frame's dream moved onto
        this one) the octaves are skipped and only the finest is dreamed, from ``init``.
        ``store`` checkpoints each finished octave, so an interrupted dream resumes
        after the last one (each octave draws its random numbers from its own seed,
        so a resumed dream is the dream an uninterrupted run makes).
        """
        s = self.settings
        steps = s.steps if steps is None else steps
        shapes = param.shapes(s.octaves, s.octave_scale, self.backbone.spec.min_size)
        if init is not None:
            return self._ascend(param, init.to(self.device), shapes[-1], steps, self._generator(0), on_step)
        detail: Tensor | None = None
        for i, shape in enumerate(shapes):
            base = param.base(shape)
            done = store.load(i) if store is not None else None
            if done is not None:
                canvas = done.to(base)
                if on_step is not None:
                    for _ in range(steps):
                        on_step()
            else:
                canvas = base if detail is None else (base + param.resize(detail, shape)).clamp(0, 1)
                canvas = self._ascend(param, canvas, shape, steps, self._generator(i), on_step)
                if store is not None:
                    canvas = store.save(i, canvas).to(base)
            detail = canvas - base
        return canvas

    def _generator(self, octave: int) -> torch.Generator:
        return torch.Generator().manual_seed(self.settings.seed * 1000 + octave)

    def _ascend(
        self,
        param: Param,
        canvas: Tensor,
        shape: Shape,
        steps: int,
        generator: torch.Generator,
        on_step: Callable[[], None] | None,
    ) -> Tensor:
        s = self.settings
        where = param.mask(shape)
        # jitter is given at the finest octave; coarser octaves jitter proportionally less
        finest = param.shapes(1, s.octave_scale, self.backbone.spec.min_size)[-1]
        jitter = s.jitter * shape[-1] / finest[-1]
        for _ in range(steps):
            g = self.canvas_gradient(param, canvas, generator, jitter)
            if where is not None:
                g = g * where
            canvas = (canvas + s.step_size * normalize_gradient(g, s.normalize, where, pad=param.extend)).clamp(0, 1)
            if on_step is not None:
                on_step()
        return canvas

    def canvas_gradient(self, param: Param, canvas: Tensor, generator: torch.Generator, jitter: float) -> Tensor:
        """The objective's gradient on the canvas, seen through ``param``'s jittered views.

        The network runs on the views (tiled to the memory budget); the views'
        gradient is then carried back onto the canvas by the parameterisation.
        """
        views = param.views(canvas, generator, jitter)
        batch, tile = self.passes(views.images.shape)
        g = input_gradient(
            self.backbone,
            self.objective,
            views.images,
            tile=tile,
            batch=batch,
            generator=generator,
            dtype=self.dtype,
            concurrent=self.concurrent,
        )
        return views.to_canvas(g)


def build_objective(backbone: Backbone, text: str, guide: Tensor | None, dtype: torch.dtype | None) -> Objective:
    """Parse ``text`` for ``backbone``; a guide image (1, 3, H, W) becomes its activations at the guide layer."""
    text = text or backbone.spec.default_layer
    guide_feats = None
    if "guide:" in text:
        if guide is None:
            raise VrdreamError(f"objective {text!r}: a guide term needs a guide image (--guide FILE)")
        layer = text.split("guide:", 1)[1].split("*")[0].split("+")[0]
        probe = parse_objective(layer, layers=list(backbone.spec.layers))
        with torch.no_grad(), autocast(guide.device, dtype):
            act = backbone.features(guide.to(next(backbone.parameters()).device), probe.layers)[probe.layers[0]]
        guide_feats = act[0].float().flatten(1)  # (C, M)
    objective = parse_objective(
        text, layers=list(backbone.spec.layers), class_names=backbone.class_names, guide=guide_feats
    )
    _check_channels(backbone, objective, text)
    return objective


def _check_channels(backbone: Backbone, objective: Objective, text: str) -> None:
    """Refuse channel indices past a layer's channels now, in one line, not as an IndexError mid-dream.
    The counts come from one forward pass of a blank image at the backbone's smallest size."""
    terms = objective.terms if isinstance(objective, WeightedSum) else ((1.0, objective),)
    top = {o.layer: max(o.channels) for _, o in terms if isinstance(o, LayerActivation) and o.channels}
    if not top:
        return
    n = backbone.spec.min_size
    with torch.no_grad():
        blank = torch.zeros(1, 3, n, n, device=next(backbone.parameters()).device)
        counts = {k: v.shape[1] for k, v in backbone.features(blank, list(top)).items()}
    for layer, index in top.items():
        if index >= counts[layer]:
            raise VrdreamError(f"objective {text!r}: {layer} has channels 0 to {counts[layer] - 1}, not {index}")
