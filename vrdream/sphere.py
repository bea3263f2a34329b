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

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from .cubemap import FACE_BASIS, c2e, e2c, face_dirs, pad_faces, resample_cubemap
from .dream import FlatParam, OctaveStore, Views
from .equirect import axis_angle_matrix, rotate, rotation_matrix
from .errors import VrdreamError
from .octave import resize

if TYPE_CHECKING:
    from .dream import Dreamer

Shape = tuple[int, ...]


@dataclass(frozen=True)
class SphereParam:
    """The sphere as a cube canvas; implements :class:`vrdream.dream.Param`.

    ``raw`` (1, 3, H, W) equirect in [0, 1]; ``where`` (1, 1, H, W) where to dream (None: everywhere);
    ``face_size`` the finest octave's face side; ``pad`` the padding as a fraction of the face side.
    """

    raw: Tensor
    face_size: int
    pad: float = 0.125
    where: Tensor | None = None

    def shapes(self, octaves: int, scale: float, min_size: int) -> list[Shape]:
        sizes = []
        for i in range(octaves):
            n = round(self.face_size * scale ** -i)
            if i > 0 and n + 2 * self.pad_px(n) < min_size:
                break
            sizes.append((1, 6, 3, n, n))
        return sizes[::-1]

    def pad_px(self, n: int) -> int:
        return max(1, round(self.pad * n))

    def base(self, shape: Shape) -> Tensor:
        return faces_of(self.raw, shape[-1])

    def resize(self, canvas: Tensor, shape: Shape) -> Tensor:
        return resample_cubemap(canvas, face_size=shape[-1])

    def mask(self, shape: Shape) -> Tensor | None:
        return None if self.where is None else faces_of(self.where, shape[-1]).clamp(0, 1)

    def extend(self, canvas: Tensor, r: int) -> Tensor:
        return pad_faces(canvas, r)

    def views(self, canvas: Tensor, generator: torch.Generator, jitter: float) -> Views:
        rotation = jitter_rotation(generator, tilt=jitter * (math.pi / 2) / canvas.shape[-1])
        return self.views_at(canvas, rotation)

    def views_at(self, canvas: Tensor, rotation: Tensor) -> Views:
        """The six padded faces (6, 3, n + 2p, n + 2p) of the cube turned by ``rotation``."""
        n = canvas.shape[-1]
        p = self.pad_px(n)
        rotation = rotation.to(canvas)
        images = resample_cubemap(canvas, pad=p, rotation=rotation)[0]
        weight = feather(n, p, dtype=canvas.dtype, device=canvas.device)
        return Views(images, lambda g: gather_views(g, weight, rotation, n, p))


def gather_views(values: Tensor, weight: Tensor, rotation: Tensor, n: int, pad: int) -> Tensor:
    """Values on the six padded faces of the cube turned by ``rotation`` -> the canvas cube (1, 6, C, n, n).

    Every canvas pixel looks itself up in each view it falls in (bilinear), and
    the views are blended with their ``weight`` (1, 1, m, m) feather.

    Why gather rather than autograd's scatter (the exact adjoint of the
    resampling): a view pixel near a rotated view's centre covers up to twice
    the angle of a canvas pixel near a canvas face edge, so scattering leaves
    canvas pixels there that no view sample reaches in a given step. Their
    updates then come and go from step to step and the dream grows a
    visibly rougher band along the canvas's own face edges (seam score 1.59
    at 2048×1024 on mars.jpg). Gathering interpolates the view's gradient at
    every canvas pixel, so density differences do not matter.
    """
    m = n + 2 * pad
    c = values.shape[1]
    local = rotate(face_dirs(n, device=values.device, dtype=torch.float32)[None], rotation.transpose(0, 1))[0]
    comps = local.unbind(-1)  # x, y, z of every canvas pixel in the turned cube's frame, each (6, n, n)
    stacked = torch.cat([values * weight, weight.expand(6, 1, m, m)], dim=1)  # (6, C + 1, m, m)
    total = values.new_zeros(c + 1, 6 * n, n)
    # grid_sample runs one batch item per thread on the CPU: views go in groups of the thread count
    group = max(1, torch.get_num_threads())
    for first in range(0, 6, group):
        views = range(first, min(6, first + group))
        grids = torch.stack([_view_grid(comps, FACE_BASIS[v], n, pad) for v in views])  # (g, 6n, n, 2)
        sampled = F.grid_sample(stacked[first:first + len(views)], grids.to(values.dtype), mode="bilinear",
                                padding_mode="zeros", align_corners=False)  # (g, C + 1, 6n, n)
        total += sampled.sum(dim=0)
    total = total.reshape(c + 1, 6, n, n)
    return (total[:c] / total[c:].clamp_min(1e-6)).transpose(0, 1)[None]


def _view_grid(comps: tuple[Tensor, Tensor, Tensor], basis: tuple, n: int, pad: int) -> Tensor:
    """``grid_sample`` coordinates (6n, n, 2) in one padded view of directions given as components.

    The view's right/up/forward vectors are signed axes, so its coordinates are
    signed components (no matrix product); directions behind it get coordinates
    outside the image, which zeros padding turns into "not in this view".
    """
    def along(axis: tuple[int, int, int]) -> Tensor:
        k = max(range(3), key=lambda i: abs(axis[i]))
        return comps[k] if axis[k] > 0 else -comps[k]

    right, up, fwd = basis
    z = along(fwd)
    inv = 1 / z.clamp_min(1e-6)
    m = n + 2 * pad
    gx = (along(right) * inv + 1) * (n / m) + (2 * pad / m - 1)
    gy = (1 - along(up) * inv) * (n / m) + (2 * pad / m - 1)
    gx = torch.where(z > 0, gx, torch.full_like(gx, 2.0))
    return torch.stack([gx, gy], dim=-1).reshape(6 * n, n, 2)


def faces_of(equi: Tensor, n: int) -> Tensor:
    """Cube faces (B, 6, C, n, n) of an equirect, antialiased when the equirect is much finer.

    Shrinking the equirect to the cube's own angular resolution first (width 4n)
    keeps an 8K panorama from aliasing into a small octave.
    """
    if equi.shape[-1] > 4 * n:
        equi = resize(equi, (2 * n, 4 * n))
    return e2c(equi, n)


def jitter_rotation(generator: torch.Generator, tilt: float) -> Tensor:
    """A random turn of the sphere: any yaw, and a tilt of the pole by at most ``tilt`` radians.

    Any yaw moves the vertical cube edges anywhere; the bounded tilt moves the
    horizontal edges and the face corners while keeping "up" roughly up, so
    the network still sees an upright world (full SO(3) jitter would dream
    upside-down creatures).
    """
    yaw, axis_angle, amount = torch.rand(3, generator=generator, dtype=torch.float64).tolist()
    turn = rotation_matrix(yaw=2 * math.pi * yaw, dtype=torch.float64)
    axis = torch.tensor([math.cos(2 * math.pi * axis_angle), 0.0, math.sin(2 * math.pi * axis_angle)],
                        dtype=torch.float64)
    return axis_angle_matrix(axis, torch.tensor(tilt * amount, dtype=torch.float64)) @ turn


def feather(n: int, pad: int, *, dtype: torch.dtype, device: torch.device) -> Tensor:
    """(1, 1, n + 2 pad, n + 2 pad) view weights: 1 on the face, falling linearly to 0 across the pad.

    The outermost pixels carry the least weight because a convolutional net
    sees only part of their context; every direction also lies inside exactly
    one view's face, so the summed weight is at least 1 everywhere.
    """
    m = n + 2 * pad
    d = torch.arange(m, dtype=torch.float32, device=device)
    edge = torch.minimum(d, m - 1 - d)  # distance to the border, in pixels
    ramp = ((edge + 0.5) / pad).clamp(max=1.0) if pad else torch.ones_like(d)
    return torch.minimum(ramp[:, None], ramp[None, :]).to(dtype)[None, None]


def detail_equirect(canvas: Tensor, base: Tensor, height: int, width: int) -> Tensor:
    """The dream's change (canvas - base, both (1, 6, 3, N, N)) as an equirect (1, 3, height, width).

    Adding this to the full-resolution raw keeps the raw's own sharpness where
    the dream changed little, whatever resolution the dream ran at.
    """
    return c2e(canvas - base, height, width, mode="bicubic")



@dataclass(frozen=True)
class SphereOptions:
    """How the sphere is laid out for dreaming."""

    #: Width of the equirect the dream runs at; None: the input's own width. Lower is faster,
    #: and the dream's detail is brought back up onto the full-resolution raw (or by super-resolution).
    dream_width: int | None = None
    #: Cube face side at the finest octave; None: a quarter of ``dream_width`` (the cube's matching density).
    face_size: int | None = None
    #: Padding of each view, as a fraction of the face side (context from the neighbouring faces).
    pad: float = 0.125

    def __post_init__(self) -> None:
        if self.dream_width is not None and self.dream_width < 32:
            raise VrdreamError(f"dream-width = {self.dream_width}: must be at least 32")
        if self.face_size is not None and self.face_size < 8:
            raise VrdreamError(f"face-size = {self.face_size}: must be at least 8")
        if not 0 <= self.pad <= 0.5:
            raise VrdreamError(f"pad = {self.pad}: must be in [0, 0.5]")

    def face_for(self, width: int) -> int:
        return self.face_size or max(8, round((self.dream_width or width) / 4))


def dream_sphere(raw: Tensor, dreamer: Dreamer, options: SphereOptions = SphereOptions(), *,
                 where: Tensor | None = None, init: Tensor | None = None, steps: int | None = None,
                 on_step: Callable[[], None] | None = None, store: OctaveStore | None = None) -> Tensor:
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
    detail = detail_equirect(canvas, param.base(canvas.shape), h, w)
    if where is not None:
        detail = detail * where
    return (raw + detail).clamp(0, 1)


def dream_faces_independently(raw: Tensor, dreamer: Dreamer, options: SphereOptions = SphereOptions(), *,
                              on_step: Callable[[], None] | None = None) -> Tensor:
    """The naive method, for comparison only (docs/seamless.png, bench/sphere.py): each padded face
    dreamed on its own as a flat image, cropped, and the six put back together. Seams show."""
    h, w = raw.shape[-2:]
    n = options.face_for(w)
    p = max(1, round(options.pad * n))
    raw = raw.to(dreamer.device)
    faces = e2c(raw, n, pad=p)[0]  # (6, 3, n + 2p, n + 2p)
    dreamed = torch.cat([dreamer(FlatParam(face[None]), on_step=on_step) for face in faces])
    base = faces_of(raw, n)
    return (raw + detail_equirect(dreamed[None, :, :, p:-p, p:-p], base, h, w)).clamp(0, 1)
