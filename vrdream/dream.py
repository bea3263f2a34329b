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

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import torch
from torch import Tensor

from .backbones import Backbone, create_backbone
from .device import Precision, autocast, autocast_dtype, memory_budget, resolve_device
from .errors import VrdreamError, check_choice
from .gradient import activation_bytes_per_pixel, input_gradient, passes_for_budget
from .objective import LayerActivation, Objective, WeightedSum, parse_objective
from .octave import Normalize, normalize_gradient, octave_sizes, reflect_pad, resize

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


@dataclass(frozen=True)
class DreamSettings:
    """How to dream. Every field has a CLI flag of the same name (``--octave-scale`` …)."""

    backbone: str = "efficientnet_lite0"
    #: What to amplify, in :mod:`vrdream.objective`'s language; empty means the backbone's default layer.
    objective: str = ""
    #: Number of octaves (scales), coarsest first; octaves under the backbone's minimum size are dropped.
    octaves: int = 4
    #: Size ratio between consecutive octaves.
    octave_scale: float = 1.4
    #: Gradient steps per octave.
    steps: int = 10
    #: Angular size of a photosphere's dream patterns in degrees: the angle that 64 network input pixels
    #: (:data:`vrdream.sphere.PATTERN_PX`) span at the finest octave of the pyramid, whatever the input's
    #: pixel count, so a 2K and an 8K copy of a photosphere dream alike. 11.25 puts a 2048 px equirect
    #: under the network, the size the presets were tuned at. Inputs coarser than that dream at their own width.
    pattern_deg: float = 11.25
    #: Steps of each finer *detail* octave that carries the dream from the pattern scale up to the input's
    #: own density (sharp at full size); 0: none, the change is upsampled onto the raw.
    detail_steps: int = 2
    #: The detail octaves' network work (pixels x steps) as a multiple of the pyramid's at the pattern
    #: scale: the finest detail octaves past it are left out (their change upsampled from the last one run).
    #: 1.0 runs faces 717 and 1004 after the default 512 pyramid; 2.0 added 1406, which took an 8K dream's
    #: peak memory from 3.35 to 4.84 GB (docs/phone_scale.md; the target is 4 GB).
    detail_work: float = 1.0
    #: Step size of the detail octaves as a fraction of ``step_size``: they sharpen the dream's structures
    #: rather than add more of them (at full strength the added fine power moves an 8K dream's pattern
    #: scale 14-25 % off its 2K copy's, measured in tests/test_scale.py's setting and at 2048 px).
    detail_strength: float = 0.5
    #: Change per step in [0, 1] intensity units, applied to the normalised gradient (mean |g| = 1).
    step_size: float = 0.008
    #: Gradient normalisation: ``mean`` (mean |g|, the original) or ``laplacian`` (per pyramid band).
    normalize: Normalize = "mean"
    #: Jitter in pixels of the finest octave (a random roll for flat images;
    #: for spheres, the tilt of the random rotation).
    jitter: int = 32
    #: Seed of every random choice (jitter, tile offsets): the same seed gives the same dream on the CPU.
    seed: int = 0
    #: ``auto`` (bf16 where the hardware has it), ``fp32``, ``bf16`` or ``fp16``.
    precision: Precision = "auto"
    #: ``auto``, ``cpu``, ``cuda``, ``cuda:1`` …
    device: str = "auto"
    #: Run the network in NHWC layout (measured 1.2-1.8x faster on this CPU for EfficientNet-Lite; see bench/dream.py).
    channels_last: bool = True
    #: Tile side for the network's input; None: whole views, batched as far as
    #: ``memory_fraction`` of free memory allows.
    tile: int | None = None
    #: Share of free RAM/VRAM the network's activations may take when ``tile`` is None ...
    memory_fraction: float = 0.4
    #: ... and at most this many MiB: batching more views buys no speed on a CPU, and an 8K
    #: panorama's dream then peaks under 4 GB (bench/sphere.py).
    memory_limit_mb: int = 1536

    def __post_init__(self) -> None:
        # Settings arrive from flags and presets alike: refuse nonsense here, in one line, not deep in the loop.
        checks = (
            ("octaves", self.octaves >= 1, "at least 1"),
            ("steps", self.steps >= 0, "0 or more"),
            ("pattern_deg", 0 < self.pattern_deg <= 360, "in (0, 360]"),
            ("detail_steps", self.detail_steps >= 0, "0 or more"),
            ("detail_work", self.detail_work >= 0, "0 or more"),
            ("detail_strength", self.detail_strength > 0, "positive"),
            ("octave_scale", self.octave_scale > 1, "more than 1"),
            ("step_size", self.step_size > 0, "positive"),
            ("jitter", self.jitter >= 0, "0 or more"),
            ("tile", self.tile is None or self.tile >= 32, "at least 32"),
            ("memory_fraction", 0 < self.memory_fraction <= 1, "in (0, 1]"),
            ("memory_limit_mb", self.memory_limit_mb > 0, "positive"),
        )
        for name, ok, want in checks:
            if not ok:
                raise VrdreamError(f"{name.replace('_', '-')} = {getattr(self, name)!r}: must be {want}")
        check_choice("normalize", self.normalize, Normalize)
        check_choice("precision", self.precision, Precision)

    def replace(self, **changes: Any) -> DreamSettings:
        return dataclasses.replace(self, **changes)


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

    def passes(self, shape: tuple[int, ...]) -> tuple[int, int | None]:
        """(images per pass, tile side or None) for network inputs of ``shape``: the ``tile`` setting,
        or what fits the memory budget (whole images first)."""
        if self.settings.tile is not None:
            return 1, self.settings.tile
        budget = min(memory_budget(self.device, self.settings.memory_fraction), self.settings.memory_limit_mb << 20)
        return passes_for_budget(budget, self._bytes_per_pixel, tuple(shape), self.backbone.spec.min_size)

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
            self.backbone, self.objective, views.images, tile=tile, batch=batch, generator=generator, dtype=self.dtype
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
