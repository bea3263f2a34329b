"""The settings a user writes, as data: frozen dataclasses and the modes and limits they choose from.

Nothing here imports torch, numpy, PyAV or Pillow, so the command line builds every flag, choice and
default from these without loading what runs them (``vrdream --help`` answers at once). The modules
that act on the settings (:mod:`vrdream.dream`, :mod:`vrdream.videoio`, :mod:`vrdream.zoom`, :mod:`vrdream.stimuli`,
:mod:`vrdream.layout`, :mod:`vrdream.photosphere`) import them from here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Literal, get_args

from .errors import VrdreamError, check_choice

#: The arithmetic the network runs in: ``auto`` (see :func:`vrdream.device.autocast_dtype`) or a fixed one.
Precision = Literal["auto", "fp32", "bf16", "fp16"]
#: How :func:`vrdream.octave.normalize_gradient` scales a gradient.
Normalize = Literal["mean", "laplacian"]
#: How a cube map is stored: six face files, a 4:3 dice cross or a 6:1 strip (:mod:`vrdream.layout`).
Layout = Literal["faces", "dice", "horizon"]
#: Resampling between a panorama and its cube faces.
Interpolation = Literal["bilinear", "bicubic"]
LAYOUTS: tuple[Layout, ...] = get_args(Layout)
INTERPOLATIONS: tuple[Interpolation, ...] = get_args(Interpolation)
PRECISIONS: tuple[Precision, ...] = get_args(Precision)

#: How a video is cut into segments (:class:`vrdream.video.VideoSettings`): the dream is carried along
#: ``SEGMENT_FRAMES`` frames (5 s at 24 fps), then a fresh one, begun ``CROSSFADE_FRAMES`` frames early, fades
#: in over them. Measured (bench/results/scale.md, 128 and 256 px): a hard cut flickers 1.7-2.5x the clip's
#: median; a crossfade of 8 frames 0.99-1.05x, of 4 1.0-1.15x; warm-up frames dreamed and dropped before the
#: crossfade add nothing to it (so none by default). The price: 8 of every 120 frames dreamed twice (7 %).
SEGMENT_FRAMES = 120
CROSSFADE_FRAMES = 8
WARMUP_FRAMES = 0

MAX_PIXELS = 2**28
"""Default cap on width × height of an image read: larger files are refused as possible decompression bombs."""


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
    #: ``auto`` (bf16 on a GPU, fp32 on the CPU), ``fp32``, ``bf16`` or ``fp16``; reduced precision keeps the
    #: bundled backbones' first stages in fp32 (:func:`vrdream.device.autocast_dtype`).
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
    #: panorama's dream then peaks under 4 GB (bench/sphere.py). Shared by the passes run side by side.
    memory_limit_mb: int = 1536
    #: Network passes (views or tiles) run side by side on the CPU, torch's threads shared between them
    #: (:func:`vrdream.parallel.run_side_by_side`); 1: one pass at a time on every thread. On this 2-core
    #: CPU two single-threaded passes did six 448 px views in 0.45-0.6x the wall time of one two-threaded
    #: pass after another at load 8 (torch's threads spin at every op's end, more so when one is
    #: descheduled), but about the same on idle cores, and they change the dream's split into passes: the
    #: x4 upscaled sample then scored 1.252 on the seam metric (limit 1.25, tests/test_upscale.py). So 1.
    concurrent_passes: int = 1

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
            ("concurrent_passes", self.concurrent_passes >= 1, "at least 1"),
        )
        for name, ok, want in checks:
            if not ok:
                raise VrdreamError(f"{name.replace('_', '-')} = {getattr(self, name)!r}: must be {want}")
        check_choice("normalize", self.normalize, Normalize)
        check_choice("precision", self.precision, Precision)

    def replace(self, **changes: Any) -> DreamSettings:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class EncodeSettings:
    """How the video track is encoded.

    Defaults: H.264 (libx264) in yuv420p, which every player and headset decodes;
    CRF 18 is visually lossless for dream textures; preset ``medium`` is x264's own default.
    Another codec: e.g. ``EncodeSettings(codec="libx265", crf=20)`` (CRF is passed to any
    encoder that understands it), ``codec="mpeg4", crf=None, options=(("qscale", "2"),)``.
    """

    codec: str = "libx264"
    pix_fmt: str = "yuv420p"
    crf: int | None = 18
    preset: str | None = "medium"
    options: tuple[tuple[str, str], ...] = field(default=())  # extra encoder options


@dataclass(frozen=True)
class ZoomSettings:
    """A zoom video's shape."""

    #: Frames in the video.
    frames: int = 60
    #: Zoom factor per frame (>1 zooms in toward ``toward_deg``).
    zoom: float = 1.03
    #: Dream steps on each frame after the first (the first gets a full octave dream).
    steps: int = 3
    #: (yaw, pitch) degrees to zoom toward.
    toward_deg: tuple[float, float] = (0.0, 0.0)
    #: Degrees the view turns about the zoom axis per frame (a loxodromic spiral; 0 for a straight zoom).
    spin_deg: float = 0.0
    #: Frames per second.
    fps: Fraction = Fraction(24)

    def __post_init__(self) -> None:
        yaw_deg, pitch_deg = self.toward_deg
        checks = (
            ("--frames", self.frames, self.frames >= 1, "at least 1"),
            ("--zoom", self.zoom, self.zoom > 0, "a positive factor (1.03 zooms in 3 % a frame, 0.97 out)"),
            ("--steps-per-frame", self.steps, self.steps >= 0, "0 or more"),
            (
                "--toward",
                self.toward_deg,
                -180 <= yaw_deg <= 360 and -90 <= pitch_deg <= 90,
                "YAW,PITCH degrees with yaw in -180..360 and pitch in -90..90",
            ),
            ("--fps", self.fps, self.fps > 0, "positive"),
        )
        for flag, value, ok, want in checks:
            if not ok:
                raise VrdreamError(f"{flag} {value}: must be {want}")


@dataclass(frozen=True)
class Level:
    """A hallucination level: the preset that dreams it, and the literature's condition it stands for."""

    preset: str
    condition: str


#: Levels as data: each a preset (backbone + layer, see ``vrdream models``), shallow to deep. Low-level
#: layers give geometric hallucinations (the "simple" condition of the later Hallucination Machine
#: studies), high-level ones object-like ones (the "complex" condition); docs/hallucination-machine.md.
LEVELS: Mapping[str, Level] = MappingProxyType(
    {
        "edges": Level("edges", "low-level: lines and colour fringes (geometric)"),
        "textures": Level("textures", "low-level: textures (geometric)"),
        "patterns": Level("patterns", "intermediate: ornaments, eyes-to-be"),
        "parts": Level("parts", "high-level: object parts (eyes, snouts, fur)"),
        "objects": Level("objects", "high-level: whole objects"),
        "hallucination-machine": Level("hallucination-machine", "high-level: Suzuki et al. 2017's own layer"),
    }
)

#: Width multiple of every output: H.264/H.265 code 16-pixel macroblocks, and 4K (3840x1920) is one.
SIZE_MULTIPLE = 16


@dataclass(frozen=True)
class StimulusSettings:
    """What a set holds. Defaults: the lowest and the highest level (the literature's two conditions),
    at half and full strength, no fades, no loop, the clip's own size."""

    levels: tuple[str, ...] = ("edges", "objects")
    #: Dream detail scale per condition, in [0, 1] (0: the control, 1: the level's dream).
    strengths: tuple[float, ...] = (0.5, 1.0)
    #: Also write control → dream → control versions.
    fade: bool = False
    #: Share of the clip a fade holds on the full strength, in [0, 1).
    hold: float = 0.5
    #: Make the hallucination loop: the last frame's dream flows into the first's.
    loop: bool = False
    #: Frames of the loop's join (None: a quarter of the clip).
    loop_frames: int | None = None
    #: Output width (height = width / 2), a multiple of 16; None: the clip's own.
    width: int | None = None

    def __post_init__(self) -> None:
        unknown = [name for name in self.levels if name not in LEVELS]
        if unknown or not self.levels or len(set(self.levels)) != len(self.levels):
            raise VrdreamError(f"--levels {','.join(self.levels)}: give distinct levels from {', '.join(LEVELS)}")
        if (
            not self.strengths
            or any(not 0 <= s <= 1 for s in self.strengths)
            or len(set(self.strengths)) != len(self.strengths)
        ):
            raise VrdreamError(f"--strengths {','.join(f'{s:g}' for s in self.strengths)}: distinct values in [0, 1]")
        if not 0 <= self.hold < 1:
            raise VrdreamError(f"--hold {self.hold}: must be in [0, 1)")
        if self.loop_frames is not None and self.loop_frames < 1:
            raise VrdreamError(f"--loop-frames {self.loop_frames}: must be at least 1")
        if self.width is not None and (self.width <= 0 or self.width % SIZE_MULTIPLE):
            raise VrdreamError(f"--width {self.width}: must be a positive multiple of {SIZE_MULTIPLE}")
