"""Seamless 360° dreaming: one cube canvas for the whole sphere, seen through rotated padded faces.

Why not simpler:

- dreaming the equirect itself distorts the poles and breaks at the 0°/360° wrap;
- dreaming six padded faces independently lets each face's dream diverge in the
  overlaps, so seams show where the faces are cut back and joined.

Here the optimiser changes a single canvas, the six faces of a cube (``(1, 6, 3, N, N)``).
Every step the sphere is turned by a random rotation (the spherical form of the
original notebook's random roll), six *padded* faces of the turned cube are
resampled from the canvas, and the network sees them as one batch. Their
gradients are carried back onto the canvas by :func:`gather_views`: each view's
gradient is weighted by a feather that falls to zero at the view's outer
border (where the network sees a truncated context), and each canvas pixel
takes the weighted mean of the views it lies in, so overlaps are averaged,
never doubled. The gradient is then normalised once and applied once. Because
the cut lines move every step, no face edge is ever special.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .cubemap import FACE_BASIS, c2e, e2c, face_dirs, pad_faces, resample_cubemap
from .dream import DreamSettings, FlatParam, OctaveStore, Views
from .equirect import axis_angle_matrix, rotation_matrix
from .errors import VrdreamError
from .octave import resize

if TYPE_CHECKING:
    from .dream import Dreamer

Shape = tuple[int, ...]


#: Padding of each network view, as a fraction of its face's side: the context it sees from the neighbouring
#: faces. Its gradient is feathered across the pad (:func:`gather_views`).
VIEW_PAD = 0.125


@dataclass(frozen=True)
class SphereParam:
    """The sphere as a cube canvas of equi-angular faces (even density: see :mod:`vrdream.cubemap`);
    implements :class:`vrdream.dream.Param`. The network still sees gnomonic (perspective) views.

    ``raw`` (1, 3, H, W) equirect in [0, 1]; ``where`` (1, 1, H, W) where to dream (None: everywhere);
    ``face_size`` the finest octave's face side; ``pad`` the padding as a fraction of the face side.
    """

    raw: Tensor
    face_size: int
    pad: float = VIEW_PAD
    where: Tensor | None = None

    def shapes(self, octaves: int, scale: float, min_size: int) -> list[Shape]:
        sizes: list[Shape] = []
        for i in range(octaves):
            n = round(self.face_size * scale**-i)
            if i > 0 and n + 2 * self.pad_px(n) < min_size:
                break
            sizes.append((1, 6, 3, n, n))
        return sizes[::-1]

    def pad_px(self, n: int) -> int:
        return max(1, round(self.pad * n))

    def base(self, shape: Shape) -> Tensor:
        return faces_of(self.raw, shape[-1])

    def resize(self, canvas: Tensor, shape: Shape) -> Tensor:
        return resample_cubemap(canvas, face_size=shape[-1], eac=True)

    def mask(self, shape: Shape) -> Tensor | None:
        return None if self.where is None else faces_of(self.where, shape[-1]).clamp(0, 1)

    def extend(self, canvas: Tensor, r: int) -> Tensor:
        return pad_faces(canvas, r, eac=True)

    def views(self, canvas: Tensor, generator: torch.Generator, jitter: float) -> Views:
        rotation = jitter_rotation(generator, tilt=jitter * (math.pi / 2) / canvas.shape[-1])
        return self.views_at(canvas, rotation)

    def views_at(self, canvas: Tensor, rotation: Tensor) -> Views:
        """The six padded faces (6, 3, n + 2p, n + 2p) of the cube turned by ``rotation``."""
        n = canvas.shape[-1]
        p = self.pad_px(n)
        rotation = rotation.to(canvas)
        # gnomonic views of the equi-angular canvas; contiguous: the net reads them 5 % faster
        images = resample_cubemap(canvas, pad=p, rotation=rotation, eac=True, out_eac=False)[0].contiguous()
        overlaps = cached_overlaps(n, p, canvas.device)
        return Views(images, lambda g: gather_views(g, overlaps, rotation))


class Overlaps(NamedTuple):
    """Where each of six padded views' pads lies over the other views' faces, with its feather weight.

    Fixed geometry for a face side ``n`` and a pad ``p``: the same in any turned frame. ``P`` is the
    number of face pixels one pad covers (the same for every view by symmetry; shorter lists are
    filled with weight-0 points).
    """

    grid: Tensor  # (6, P, 1, 2) grid_sample coordinates of those face pixels in each padded view
    target: Tensor  # (6 P,) their flat index in the six faces (6 n n)
    weight: Tensor  # (6, 1, P) the view's feather there
    norm: Tensor  # (6 n n,) 1 / (1 + the summed pad weights) per face pixel: 1 where no pad reaches
    n: int  # face side
    pad: int  # pad of each view


@functools.lru_cache(maxsize=1)
def cached_overlaps(n: int, pad: int, device: torch.device) -> Overlaps:
    """:func:`pad_overlaps`, kept for the octave being dreamed: fixed geometry, made once for all its steps and
    for every frame of a video (remade for each, it took 6 % of a 1024x512 video dream, measured).
    One is kept (at 8K it is 150 MB); :func:`dream_sphere_scaled` lets it go before the full-size result."""
    return pad_overlaps(n, pad, device=device)


def pad_overlaps(n: int, pad: int, *, device: torch.device | str | None = None) -> Overlaps:
    """:class:`Overlaps` of six views of face side ``n`` padded by ``pad``."""
    m = n + 2 * pad
    comps = face_dirs(n, dtype=torch.float64, device=device).unbind(-1)  # x, y, z of every face pixel, (6, n, n)
    own = torch.arange(6, device=device)[:, None, None].expand(6, n, n)
    grids, targets, weights = [], [], []
    for k, basis in enumerate(FACE_BASIS):
        x, y, inside = _view_pixels(comps, basis, n, pad)
        inside &= own != k
        x, y = x[inside], y[inside]
        weights.append(torch.minimum(_ramp(x, m, pad), _ramp(y, m, pad)))
        # clamped to the view's pixel centres so that bilinear reads only this view (weight ~0 there anyway)
        grids.append((torch.stack([x, y], -1).clamp(0, m - 1) + 0.5) * (2 / m) - 1)
        targets.append(inside.flatten().nonzero()[:, 0])
    size = max(len(t) for t in targets)
    fill = [size - len(t) for t in targets]
    grid = torch.stack([F.pad(g, (0, 0, 0, f)) for g, f in zip(grids, fill)])[:, :, None].float()
    weight = torch.stack([F.pad(w, (0, f)) for w, f in zip(weights, fill)])[:, None].float()
    target = torch.cat([F.pad(t, (0, f)) for t, f in zip(targets, fill)])
    total = torch.ones(6 * n * n, dtype=torch.float64, device=device).index_add_(0, target, weight.flatten().double())
    return Overlaps(grid, target, weight, (1 / total).float(), n, pad)


def _view_pixels(comps: tuple[Tensor, ...], basis: tuple, n: int, pad: int) -> tuple[Tensor, Tensor, Tensor]:
    """Pixel coordinates (x, y) of directions given as components in one padded view, and whether
    they fall inside it (pixel centres -pad .. n + pad - 1, with half a pixel either side).

    The view's right/up/forward vectors are signed axes, so its coordinates are signed components.
    """

    def along(axis: tuple[int, int, int]) -> Tensor:
        k = max(range(3), key=lambda i: abs(axis[i]))
        return comps[k] if axis[k] > 0 else -comps[k]

    right, up, fwd = basis
    z = along(fwd)
    inv = 1 / z.clamp_min(1e-12)
    x = (along(right) * inv + 1) * (n / 2) - 0.5 + pad
    y = (1 - along(up) * inv) * (n / 2) - 0.5 + pad
    m = n + 2 * pad
    inside = (z > 0) & (x >= -0.5) & (x <= m - 0.5) & (y >= -0.5) & (y <= m - 0.5)
    return x, y, inside


def gather_views(values: Tensor, overlaps: Overlaps, rotation: Tensor) -> Tensor:
    """Values on the six padded faces (6, C, m, m) of the cube turned by ``rotation`` -> the canvas (1, 6, C, n, n).

    First the views are blended into one cube in their own (turned) frame: each face
    keeps its view's values, and where other views' pads reach over it their values
    are mixed in with their feather weight (fixed geometry, :func:`pad_overlaps`).
    That cube is then resampled into the canvas's frame (bilinear), so every canvas
    pixel interpolates the blended gradient.

    Why not autograd's scatter (the exact adjoint of the resampling): a view pixel near
    a turned view's centre covers up to twice the angle of a canvas pixel near a canvas
    face edge, so scattering leaves canvas pixels there that no view sample reaches in a
    given step. Their updates then come and go from step to step and the dream grows a
    visibly rougher band along the canvas's own face edges (seam score 1.59 at 2048×1024
    on mars.jpg). Interpolating at every canvas pixel makes density differences harmless.
    """
    c, n, pad = values.shape[1], overlaps.n, overlaps.pad
    from_pads = (
        F.grid_sample(
            values, overlaps.grid.to(values.dtype), mode="bilinear", padding_mode="zeros", align_corners=False
        )[..., 0]
        * overlaps.weight
    )  # (6, C, P)
    # the views' own faces, copied (the pads' values are added into it)
    blended = values[:, :, pad : pad + n, pad : pad + n].transpose(0, 1).clone(memory_format=torch.contiguous_format)
    blended = blended.view(c, 6 * n * n)
    blended.index_add_(1, overlaps.target, from_pads.transpose(0, 1).reshape(c, -1))
    blended = (blended * overlaps.norm).reshape(c, 6, n, n).transpose(0, 1)[None]
    return resample_cubemap(blended, rotation=rotation.transpose(0, 1), out_eac=True)


def _ramp(pos: Tensor, m: int, pad: int) -> Tensor:
    """The feather along one axis at pixel positions ``pos`` of a view of ``m`` pixels: 0 half a pixel
    outside the border, rising linearly across the pad to 1 on the face. A pad's outer pixels weigh
    least because the network sees only part of their context."""
    edge = torch.minimum(pos, m - 1 - pos)  # distance to the border, in pixels
    return ((edge + 0.5) / pad).clamp(0.0, 1.0) if pad else torch.ones_like(pos)


def faces_of(equi: Tensor, n: int, *, eac: bool = True) -> Tensor:
    """Cube faces (B, 6, C, n, n) of an equirect, equi-angular unless ``eac`` is False, antialiased
    when the equirect is much finer.

    Shrinking the equirect to the cube's own angular resolution first (width 4n)
    keeps an 8K panorama from aliasing into a small octave.
    """
    if equi.shape[-1] > 4 * n:
        equi = resize(equi, height=2 * n, width=4 * n)
    return e2c(equi, n, eac=eac)


def jitter_rotation(generator: torch.Generator, tilt: float) -> Tensor:
    """A random turn of the sphere: any yaw, and a tilt of the pole by at most ``tilt`` radians.

    Any yaw moves the vertical cube edges anywhere; the bounded tilt moves the
    horizontal edges and the face corners while keeping "up" roughly up, so
    the network still sees an upright world (full SO(3) jitter would dream
    upside-down creatures).
    """
    yaw, axis_angle, amount = torch.rand(3, generator=generator, dtype=torch.float64).tolist()
    turn = rotation_matrix(yaw=2 * math.pi * yaw, dtype=torch.float64)
    axis = torch.tensor(
        [math.cos(2 * math.pi * axis_angle), 0.0, math.sin(2 * math.pi * axis_angle)], dtype=torch.float64
    )
    return axis_angle_matrix(axis, torch.tensor(tilt * amount, dtype=torch.float64)) @ turn


def detail_equirect(change: Tensor, height: int, width: int, *, eac: bool = True) -> Tensor:
    """The dream's change (canvas - base, (1, 6, 3, N, N) cube faces, equi-angular unless ``eac`` is False)
    as an equirect (1, 3, height, width), bicubic.

    Adding this to the full-resolution raw keeps the raw's own sharpness where
    the dream changed little, whatever resolution the dream ran at. :func:`c2e` samples it in bands,
    so at 16K the only full-size buffer is this result.
    """
    return c2e(change, height, width, mode="bicubic", eac=eac)


#: Cube canvas density over the dream width's when the dream is to be super-resolved (and no face size is
#: given). x4 super-resolution sharpens what lies at the dream's own pixel scale, and there the canvas's
#: finest grain follows each face's pixel grid, which changes direction at a cube edge (the rows of the
#: side faces tilt opposite ways either side of a vertical edge; U and D are turned against the sides).
#: Invisible at the dream's size, it shows after x4 as a faint change of grain along the edges: on the
#: sample's dreams (docs/upscale_seams.md, waifu2x-photo x4, 3 seeds) the seam metric's worst edge reads
#: 1.28-1.30 with a canvas of the dream's density and 1.18-1.22 with one 1.25x finer, whose grain then
#: falls below the output's pixels. It costs the dream 1.5x the pixels.
SR_CANVAS_DENSITY = 1.25


@dataclass(frozen=True)
class SphereOptions:
    """How the sphere is laid out for dreaming."""

    #: Width of the equirect the dream runs at; None: the input's own width. Lower is faster,
    #: and the dream's detail is brought back up onto the full-resolution raw (or by super-resolution).
    dream_width: int | None = None
    #: Cube face side at the finest octave; None: a quarter of ``dream_width`` (the cube's matching density).
    face_size: int | None = None
    #: Padding of each view, as a fraction of the face side (:data:`VIEW_PAD`).
    pad: float = VIEW_PAD

    def __post_init__(self) -> None:
        if self.dream_width is not None and self.dream_width < 32:
            raise VrdreamError(f"dream-width = {self.dream_width}: must be at least 32")
        if self.face_size is not None and self.face_size < 8:
            raise VrdreamError(f"face-size = {self.face_size}: must be at least 8")
        if not 0 <= self.pad <= 0.5:
            raise VrdreamError(f"pad = {self.pad}: must be in [0, 0.5]")

    def face_for(self, width: int) -> int:
        return self.face_size or max(8, round((self.dream_width or width) / 4))

    def for_upscale(self, width: int, upscale: int) -> SphereOptions:
        """The options a dream ``width`` px wide runs with when it is to be super-resolved ``upscale`` x:
        a canvas :data:`SR_CANVAS_DENSITY` times finer, unless ``face_size`` is given."""
        if upscale <= 1 or self.face_size is not None:
            return self
        return replace(self, face_size=round(SR_CANVAS_DENSITY * (self.dream_width or width) / 4))


def dream_sphere(
    raw: Tensor,
    dreamer: Dreamer,
    options: SphereOptions = SphereOptions(),
    *,
    where: Tensor | None = None,
    init: Tensor | None = None,
    steps: int | None = None,
    on_step: Callable[[], None] | None = None,
    store: OctaveStore | None = None,
) -> Tensor:
    """Dream an equirect ``raw`` (1, 3, H, W) seamlessly; returns the dreamed equirect (1, 3, H, W).

    ``where`` (1, 1, H, W) in [0, 1] limits the dream (selections, the real
    pixels of a partial photosphere); elsewhere the output is the raw, exactly.
    ``init`` (1, 3, H, W): an equirect to continue dreaming from (a video's
    carried detail, a zoom's previous frame) for ``steps`` steps, no octaves.
    ``store`` checkpoints each finished octave (see :class:`vrdream.dream.Dreamer`).
    """
    h, w = raw.shape[-2:]
    raw = raw.to(dreamer.device)
    where = None if where is None else where.to(dreamer.device)
    param = SphereParam(raw, options.face_for(w), options.pad, where)
    start = None if init is None else faces_of(init.to(dreamer.device), param.face_size)
    canvas = dreamer(param, init=start, steps=steps, on_step=on_step, store=store)
    detail = detail_equirect(canvas - param.base(canvas.shape), h, w)
    if where is not None:
        detail = detail * where
    return (raw + detail).clamp(0, 1)


#: Network input pixels that a dream's ``pattern_deg`` spans: the angle of 64 pixels of the look octaves'
#: finest canvas. 64 px is about the size of the patterns the presets' middle layers grow there; the number
#: only fixes the unit (a pattern_deg of 11.25 puts a 2048 px equirect under the network, as the presets
#: were tuned), it does not change what the network does.
PATTERN_PX = 64


def dream_width_for(pattern_deg: float) -> int:
    """The equirect width (px) at which :data:`PATTERN_PX` pixels span ``pattern_deg`` degrees."""
    return max(32, round(360 * PATTERN_PX / pattern_deg))


class Stage(NamedTuple):
    """One run of the dreamer in a scale plan: a cube canvas of ``face_size`` for ``steps`` steps
    (the look pyramid's octaves, or one finer detail octave)."""

    face_size: int
    steps: int


#: Time of a detail octave's step per network input pixel over a look octave's: its views are cut into tiles
#: no larger than the look pyramid's finest views (:func:`dream_sphere_scaled`), and a tiled step ran at
#: 0.65-0.76 s/Mpx against 0.42 for the look pyramid's whole views (an 8192x4096 dream on 2 idle cores,
#: measured step by step). Counted in, the bar's early ETA holds through the detail octaves.
DETAIL_STEP_COST = 1.6


class ScalePlan(NamedTuple):
    """How a photosphere is dreamed at the sphere's pattern scale (:func:`scale_plan`)."""

    #: Face side of the look pyramid's finest octave: where ``pattern_deg`` is set.
    look_face: int
    #: The look pyramid's octaves, coarsest first (``settings.steps`` each).
    look: list[Stage]
    #: Finer octaves from the look pyramid towards the output's own density, each continuing the
    #: one before for ``settings.detail_steps`` steps; empty when the input is no finer than the look.
    detail: list[Stage]

    def work(self, pad: float = VIEW_PAD) -> list[tuple[int, float]]:
        """(steps, work per step) of every stage in order, for a progress bar (:func:`vrdream.progress.work_progress`):
        the network input pixels of a step (:func:`step_pixels`), a detail octave's times
        :data:`DETAIL_STEP_COST`."""
        return [(st.steps, step_pixels(st.face_size, pad)) for st in self.look] + [
            (st.steps, DETAIL_STEP_COST * step_pixels(st.face_size, pad)) for st in self.detail
        ]


def step_pixels(face_size: int, pad: float) -> int:
    """Network input pixels of one step on a cube canvas of ``face_size``: six padded views. The
    network's cost and the step's other work (resampling, gathering) both grow with it."""
    return 6 * (face_size + 2 * max(1, round(pad * face_size))) ** 2


def scale_plan(width: int, settings: DreamSettings, min_size: int, pad: float = VIEW_PAD) -> ScalePlan:
    """The octaves that dream an equirect ``width`` px wide with the patterns ``settings.pattern_deg`` sets.

    The look pyramid (the presets' octaves and steps) runs at :func:`dream_width_for` the pattern
    angle, or at the input's own width where that is coarser (a canvas finer than the input would
    only cost time). Finer *detail* octaves then continue the dream towards the input's density,
    ``settings.octave_scale`` apart, for ``settings.detail_steps`` steps each of
    ``settings.detail_strength`` times the step size: at their own pixel scale the network sharpens
    the upsampled dream's structures rather than growing new, larger ones. They are added coarsest
    first while their work (:func:`step_pixels` x steps) stays within ``settings.detail_work`` times
    the look pyramid's; the change of the finest one run is upsampled onto the full-resolution raw.
    """
    out_face = max(8, round(width / 4))
    look_face = min(out_face, max(8, round(dream_width_for(settings.pattern_deg) / 4)))
    param = SphereParam(torch.empty(0), look_face, pad)
    look = [Stage(s[-1], settings.steps) for s in param.shapes(settings.octaves, settings.octave_scale, min_size)]
    budget = settings.detail_work * sum(step_pixels(s.face_size, pad) * s.steps for s in look)
    detail: list[Stage] = []
    n = look_face
    while n < out_face and settings.detail_steps > 0:
        n = min(out_face, round(n * settings.octave_scale))
        cost = step_pixels(n, pad) * settings.detail_steps
        if cost > budget:
            break
        budget -= cost
        detail.append(Stage(n, settings.detail_steps))
    return ScalePlan(look_face, look, detail)


def dream_sphere_scaled(
    raw: Tensor,
    dreamer: Dreamer,
    pad: float = VIEW_PAD,
    *,
    where: Tensor | None = None,
    on_step: Callable[[], None] | None = None,
    store: OctaveStore | None = None,
) -> Tensor:
    """Dream an equirect ``raw`` (1, 3, H, W) at the sphere's pattern scale (:func:`scale_plan`);
    returns the dreamed equirect (1, 3, H, W). ``where``, ``on_step``: as :func:`dream_sphere`.

    ``store`` checkpoints the look pyramid's octaves; the detail octaves, a small share of the
    work by construction, are redone when an interrupted dream resumes.
    """
    h, w = raw.shape[-2:]
    raw = raw.to(dreamer.device)
    where = None if where is None else where.to(dreamer.device)
    s = dreamer.settings
    plan = scale_plan(w, s, dreamer.backbone.spec.min_size, pad)
    param = SphereParam(raw, plan.look_face, pad, where)
    canvas = dreamer(param, on_step=on_step, store=store)
    base = param.base(canvas.shape)
    # The same network and objective, with the detail octaves' gentler steps, in tiles no larger than the
    # look pyramid's finest views: their activations then stay within the pyramid's, in buffers of the
    # same sizes (at 8K 640 px tiles, 1.0 GB, instead of 768 px ones, 1.5 GB, for the budget's whole).
    view = plan.look_face + 2 * param.pad_px(plan.look_face)
    tile = s.tile or dreamer.passes((6, 3, view, view))[1] or max(32, view)
    finer_dreamer = copy.copy(dreamer)
    finer_dreamer.settings = s.replace(step_size=s.step_size * s.detail_strength, tile=tile)
    for stage in plan.detail:
        param = SphereParam(raw, stage.face_size, pad, where)
        finer = param.base((1, 6, 3, stage.face_size, stage.face_size))
        change = param.resize(canvas - base, finer.shape)
        del canvas, base  # the coarser canvas is done with: an 8K canvas is 140 MB
        canvas = finer_dreamer(param, init=change.add_(finer).clamp_(0, 1), steps=stage.steps, on_step=on_step)
        base = finer
    del param
    cached_overlaps.cache_clear()  # the views' geometry (150 MB at 8K), before the full-size result is made
    out = detail_equirect(canvas.sub_(base), h, w)
    del canvas, base
    if where is not None:
        out.mul_(where)
    return out.add_(raw).clamp_(0, 1)  # in place: a 16K equirect is 1.6 GB


def dream_faces_independently(
    raw: Tensor,
    dreamer: Dreamer,
    options: SphereOptions = SphereOptions(),
    *,
    on_step: Callable[[], None] | None = None,
) -> Tensor:
    """The naive method, for comparison only (docs/seamless.png, bench/sphere.py): each padded face
    dreamed on its own as a flat image, cropped, and the six put back together. Seams show."""
    h, w = raw.shape[-2:]
    n = options.face_for(w)
    p = max(1, round(options.pad * n))
    raw = raw.to(dreamer.device)
    faces = e2c(raw, n, pad=p)[0]  # (6, 3, n + 2p, n + 2p)
    dreamed = torch.cat([dreamer(FlatParam(face[None]), on_step=on_step) for face in faces])
    base = faces_of(raw, n, eac=False)
    return (raw + detail_equirect(dreamed[None, :, :, p:-p, p:-p] - base, h, w, eac=False)).clamp(0, 1)


def change_spectrum(raw: Tensor, dream: Tensor, patch_deg: float = 45.0) -> tuple[Tensor, Tensor]:
    """The power spectrum of a dream's change on the sphere: (frequency, power), both (s, s).

    The change (``dream - raw``, equirects (1, 3, H, W), made grey with Rec. 601 weights) is cut into
    square equatorial patches of ``patch_deg`` (where the equirect is nearly conformal), side by side
    around the whole equator, each Hann-windowed; their power spectra are averaged (one patch's is
    noisy). Frequency is radial, in cycles per degree of the sphere: in a headset angular size is
    what a person sees, so a 2K and an 8K copy of a photosphere are compared in the same unit.
    """
    h, w = raw.shape[-2:]
    s = max(8, round(w * patch_deg / 360))
    k = w // s
    luma = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64).reshape(3, 1, 1)
    rows = slice(h // 2 - s // 2, h // 2 - s // 2 + s)  # the equatorial band only: a 16K change is 3 GB in float64
    grey = ((dream[0, :, rows] - raw[0, :, rows]).double() * luma).sum(0)
    band = grey[:, : k * s].reshape(s, k, s).transpose(0, 1)  # (k, s, s)
    band = band - band.mean((-2, -1), keepdim=True)
    hann = torch.hann_window(s, periodic=False, dtype=torch.float64)
    power = torch.fft.fft2(band * (hann[:, None] * hann[None])).abs().square().mean(0)
    f = torch.fft.fftfreq(s, dtype=torch.float64) * (w / 360)  # cycles per pixel x pixels per degree
    return torch.hypot(f[:, None], f[None]), power


def pattern_centroid_cpd(raw: Tensor, dream: Tensor, patch_deg: float = 45.0) -> float:
    """The dream's pattern scale: the power-weighted mean frequency of its change, in cycles per
    degree (:func:`change_spectrum`). Smaller patterns on the sphere read higher."""
    f, power = change_spectrum(raw, dream, patch_deg)
    return float((f * power).sum() / power.sum().clamp_min(1e-30))


def high_frequency_power(raw: Tensor, dream: Tensor, above_cpd: float, patch_deg: float = 45.0) -> float:
    """The power of a dream's change (:func:`change_spectrum`) at frequencies above ``above_cpd`` cycles
    per degree: detail finer than an equirect ``360 * above_cpd * 2`` px wide can hold."""
    f, power = change_spectrum(raw, dream, patch_deg)
    return float(power[f > above_cpd].sum())
