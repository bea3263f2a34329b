"""Cube maps in torch: equirect -> faces (``e2c``), faces -> equirect (``c2e``), padded and rotated faces.

Faces are ``(B, 6, C, N, N)`` in the order **F R B L U D**, each oriented exactly as py360convert's
``e2c(cube_format="list")``: looking at a face from the centre of the sphere, its columns run along
``right`` and its rows down ``up``, with (right, up, forward) per face given by :data:`FACE_BASIS`.

Where we deliberately differ from py360convert (1.0.x): pixel *centres*. py360convert's face
pixels run ``linspace(-1, 1, N)`` across a face (the outer pixels' centres sit on the cube's edges,
so neighbouring faces repeat each other's border pixels and a face spans 2 atan(1 + 1/(N-1)), a
little over 90 degrees); its ``c2e`` puts equirect columns at ``linspace(-pi, pi, W)`` (columns 0
and W-1 are both yaw 180 degrees, and W must be a multiple of 8) and reads a face at
``(1 + tan) N/2``, half a pixel (face centre) to a pixel (far edge) from where its ``e2c`` wrote it.
Here a face of N pixels is N equal cells covering exactly 90 degrees, pixel ``i`` at
``u = (2 i + 1) / N - 1``, and equirect pixels follow docs/conventions.md. That is what makes
padded faces exact: a face padded by ``p`` is a pinhole view of FOV ``2 atan(1 + 2p/N)`` whose
central N x N pixels are the face's pixels (bit-for-bit, not just close), and what makes
e2c -> c2e round trips line up. Sampled at py360convert's own pixel positions, our faces match its
faces to 0.15/255 (tests/test_geometry.py); with our pixel centres they differ by up to half a
pixel at face edges: 1.0/255 mean on mars at face W/4, 0.5/255 at W/2.

Equi-angular faces (``eac=True``, the EAC layout of 360° video): the same six faces, but pixel
``i`` sits at angle ``(pi/4) ((2 i + 1) / N - 1)`` from the face's centre instead of at tangent
``(2 i + 1) / N - 1``. A gnomonic face's pixels cover twice the angle at its centre that they cover
at its edges; equi-angular pixels cover the same angle everywhere along the face's axes, so a
face of W/4 matches a W-wide equirect's density around the whole equator. The sphere dream keeps
its canvas in this layout: a gnomonic canvas holds finer detail near its edges than at its
centres, and a dream made on it is measurably sharper along the cube's edges (14 % more
pixel-scale change on the sample), which the seam metric reads as a seam.

Rotations: a cube frame ``R`` (3, 3) or (B, 3, 3) maps cube directions to the world, so
``e2c(equi, rotation=R)`` are the faces of a cube turned by ``R`` (equivalently the faces of the
sphere turned by ``R^T``), and ``c2e(faces, rotation=R)`` puts them back.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from .equirect import (
    PAD,
    Interpolation,
    equirect_dirs,
    equirect_grid,
    grid_dtype,
    grid_sample_batched,
    pad_equirect,
    planar,
    rotate,
)
from .faces import FACE_BASIS


def padded_fov(face_size: int, pad: int) -> float:
    """Field of view (radians) of a face of ``face_size`` pixels padded by ``pad`` on each side."""
    return 2 * math.atan(1 + 2 * pad / face_size)


def _pixel_centres(n: int, pad: int, eac: bool = False) -> Tensor:
    """Face-plane coordinates (float64) of pixels ``-pad .. n + pad - 1``: ``(2 i + 1) / n - 1``,
    or its tangent at ``pi/4`` times that angle for equi-angular faces."""
    a = (2 * torch.arange(-pad, n + pad, dtype=torch.float64) + 1) / n - 1
    return torch.tan(a * (math.pi / 4)) if eac else a


def _face_coord(u: Tensor, eac: bool) -> Tensor:
    """Face-plane coordinate (tangent) -> the face's pixel axis in [-1, 1]: the inverse of :func:`_pixel_centres`."""
    return torch.atan(u) * (4 / math.pi) if eac else u


def _face_points(u: Tensor, v: Tensor) -> Tensor:
    """Cube-surface points ``forward + u right + v up`` of every face: (6, *shape of u/v, 3), in u's dtype.

    The basis vectors are signed axes, so each component is a copy of +-u, +-v or +-1: built by
    assignment, exact in any dtype, and no matmul (which TF32 would round on a GPU).
    """
    out = u.new_empty(3, 6, *u.shape)  # planar, returned as a (..., 3) view (see equirect.planar)
    for k, vectors in enumerate(FACE_BASIS):
        for vec, coef in zip(vectors, (u, v, None)):  # right * u, up * v, forward * 1
            axis = next(i for i in range(3) if vec[i])
            out[axis, k] = vec[axis] if coef is None else coef * vec[axis]
    return out.movedim(0, -1)


def face_dirs(
    face_size: int,
    pad: int = 0,
    *,
    rotation: Tensor | None = None,
    eac: bool = False,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """Directions (on the cube, not unit) of face pixel centres: (6, M, M, 3), M = N + 2 ``pad``.

    With ``rotation`` (3, 3) or (B, 3, 3): the faces of the cube turned by it, (B, 6, M, M, 3).
    A face's directions are affine in its pixel coordinates, ``forward + u right + v up``, so the
    turned basis is computed once (float64, 3x3 per face) and the directions are one broadcast sum
    of a per-column and a per-row term: a single pass over the output instead of nine (a dream turns
    six padded faces every step).
    """
    t = _pixel_centres(face_size, pad, eac).to(device=device)
    basis = torch.tensor(FACE_BASIS, dtype=torch.float64, device=t.device)  # (6, [right, up, forward], 3)
    if rotation is not None:
        r = rotation.to(device=t.device, dtype=torch.float64).reshape(-1, 3, 3)
        basis = torch.einsum("bij,kvj->bkvi", r, basis)  # float64: no TF32 rounding on a GPU
    # planar (3, ..., 6, 1, 1) per basis vector; directions returned as a (..., 3) view (see equirect.planar)
    right, up, forward = (basis[..., i, :].movedim(-1, 0)[..., None, None] for i in range(3))
    across = (forward + right * t).to(dtype)  # (3, ..., 6, 1, M): forward + u right, u = t[column]
    down = (up * t[:, None]).to(dtype)  # (3, ..., 6, M, 1): v up with v = -t[row], subtracted
    return (across - down).movedim(0, -1)


def cube_coords(dirs: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The face each direction (..., 3) hits and where: (face index (...) long, u, v in [-1, 1]).

    ``u`` runs along the face's right vector, ``v`` along its up vector (:data:`FACE_BASIS`). Exact
    ties (cube edges and corners) go to the first axis x, y, z; both faces hold the same value there.
    """
    face, u, v = _cube_coords(dirs)
    return face.long(), u, v


def _cube_coords(dirs: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`cube_coords` with a uint8 face index: c2e runs this on every pixel of an 8K panorama."""
    x, y, z = planar(dirs)
    ax, ay, az = x.abs(), y.abs(), z.abs()
    xmaj = (ax >= ay) & (ax >= az)
    ymaj = ~xmaj & (ay >= az)
    # FACE_BASIS written out per major axis, as element-wise selects (3x faster than gathering from a
    # per-face table): +-x: u = -z / x, v = y / |x|;  +-y: u = x / |y|, v = -z / y;  +-z: u = x / z, v = y / |z|.
    major = torch.where(xmaj, x, torch.where(ymaj, y, z))  # the signed major component
    mag = major.abs()
    minus_z = -z
    u = torch.where(xmaj, minus_z, x) / torch.where(ymaj, mag, major)
    v = torch.where(ymaj, minus_z, y) / torch.where(ymaj, major, mag)
    # +x R(1), -x L(3), +y U(4), -y D(5), +z F(0), -z B(2); uint8 constants keep the selects 1 byte wide.
    k = [torch.tensor(i, dtype=torch.uint8, device=dirs.device) for i in range(5)]
    face = torch.where(xmaj, k[1], torch.where(ymaj, k[4], k[0])) + (major < 0) * torch.where(ymaj, k[1], k[2])
    return face, u, v


def cubemap_grid(dirs: Tensor, face_size: int, ring: int, eac: bool = False) -> Tensor:
    """``grid_sample`` coordinates (align_corners=False) of ``dirs`` (..., 3) in the face stack.

    The stack is the (6 (N + 2 ring), N + 2 ring) image of the faces on top of each other in F R B L U D
    order, each with a border of ``ring`` >= 1 pixels (:func:`pad_faces`), which every interpolation
    footprint of ``PAD[mode]`` <= ``ring`` pixels stays within.
    """
    n, m = face_size, face_size + 2 * ring
    face, u, v = _cube_coords(dirs)
    u, v = _face_coord(u, eac), _face_coord(v, eac)
    # Pixel x = (u + 1) n/2 - 0.5 + ring of m, row y = (1 - v) n/2 - 0.5 + ring + face m of 6 m,
    # normalised as (p + 0.5) 2/size - 1 and simplified (fewer passes over 33M points):
    gx = u * (n / m)
    gy = face.to(u.dtype) * (1 / 3) - (5 / 6) - v * (n / (6 * m))
    return torch.stack([gx, gy], dim=-1)


def pad_faces(faces: Tensor, ring: int, eac: bool = False) -> Tensor:
    """(B, 6, C, N, N) -> (B, 6, C, N + 2 ring, N + 2 ring): each face with a border from its neighbours.

    Border pixel ``i`` is what the neighbouring face shows in that pixel's direction (bilinear in the
    neighbour), not a copy of the neighbour's edge row: a border pixel's direction lands up to half
    a pixel away from the neighbour's pixel centres along the edge. This is what keeps bilinear
    sampling in :func:`sample_cubemap` continuous across face edges.
    """
    b, _, c, n, _ = faces.shape
    m = n + 2 * ring
    border = _border(n, ring, eac, grid_dtype(faces.dtype), faces.device)
    values = faces.new_empty(b, c, border.flat.shape[0])
    for k, (pick, grid) in enumerate(zip(border.picks, border.grids)):  # one small grid_sample per source face,
        values[..., pick] = grid_sample_batched(faces[:, k], grid)  # read in place (no copy of the faces)
    # Channels last in memory, (B, 6, m, m, C) returned as a (B, 6, C, m, m) view: sample_cubemap's
    # stack of the faces is then a channels-last image (a view, no copy), which grid_sample reads
    # 1.6x faster on the CPU (a sample's channels share cache lines); the transposing copy is cheap.
    out = faces.new_empty(b, 6, m, m, c)
    out[:, :, ring : m - ring, ring : m - ring] = faces.permute(0, 1, 3, 4, 2)
    out.view(b, 6 * m * m, c)[:, border.flat] = values.transpose(1, 2)
    return out.permute(0, 1, 4, 2, 3)


class _Border(NamedTuple):
    """Where the border pixels of six faces padded by a ring come from (:func:`pad_faces`)."""

    flat: Tensor  # (R,) flat index of every border pixel in the six padded faces (6 m m), face by face
    picks: tuple[Tensor, ...]  # per source face: the positions in ``flat`` of the border pixels it fills
    grids: tuple[Tensor, ...]  # per source face: those pixels' grid_sample coordinates in it, (1, P, 2)


@functools.lru_cache(maxsize=8)
def _border(n: int, ring: int, eac: bool, dtype: torch.dtype, device: torch.device) -> _Border:
    """:class:`_Border` of faces of side ``n`` padded by ``ring``: fixed geometry, made once (a dream pads its
    canvas and its gradient every step; making this each time took about a third of a padding)."""
    m = n + 2 * ring
    border = torch.ones(m, m, dtype=torch.bool, device=device)
    border[ring : m - ring, ring : m - ring] = False
    rows, cols = border.nonzero().unbind(1)
    t = _pixel_centres(n, ring, eac).to(dtype=dtype, device=device)
    source, u, v = _cube_coords(_face_points(t[cols], -t[rows]).reshape(-1, 3))  # (6 R,) each
    u, v = _face_coord(u, eac), _face_coord(v, eac)
    # Where each border pixel lies in its source face, clamped to that face's pixel centres (the first
    # border ring looks up to half a pixel past them, so that is all the clamp changes): bilinear
    # sampling then reads that face only.
    x = ((u + 1) * (n / 2) - 0.5).clamp(0, n - 1)
    y = ((1 - v) * (n / 2) - 0.5).clamp(0, n - 1)
    grid = torch.stack([(x + 0.5) * (2 / n) - 1, (y + 0.5) * (2 / n) - 1], dim=-1)
    per_face = rows * m + cols
    flat = (torch.arange(6, device=device)[:, None] * (m * m) + per_face).flatten()
    picks = tuple((source == k).nonzero()[:, 0] for k in range(6))
    return _Border(flat, picks, tuple(grid[None, pick] for pick in picks))


#: Sampling points :func:`sample_cubemap` and :func:`c2e` handle at a time. A point's sampling coordinates,
#: and the directions they are made from, take ~50 bytes while they are computed: made for all points at
#: once that was 1.7 GB at an 8192x4096 equirect and 0.8 GB for the views of an 8K dream's finest canvas
#: (measured); in bands of this size, ~50 MB at any size. Each sample depends on its own point only, so
#: the bands give exactly the result of one whole grid.
SAMPLE_BAND_POINTS = 1 << 20


def sample_cubemap(
    faces: Tensor,
    dirs: Tensor | None,
    *,
    mode: Interpolation = "bilinear",
    eac: bool = False,
    grid: Tensor | None = None,
    band: int = SAMPLE_BAND_POINTS,
) -> Tensor:
    """Sample the cube ``faces`` (B, 6, C, N, N) along ``dirs`` (B', *S, 3) -> (max(B, B'), C, *S).

    Each direction reads the face it hits; near an edge, interpolation reads the border that
    :func:`pad_faces` brought in from the neighbour, so there is no seam. Differentiable w.r.t.
    ``faces``. ``grid``: ``cubemap_grid(dirs, N, PAD[mode], eac)`` computed beforehand (``dirs`` unused).
    The points are sampled ``band`` at a time (:data:`SAMPLE_BAND_POINTS`).
    """
    points = grid if grid is not None else dirs
    if points is None:
        raise ValueError("sample_cubemap needs dirs or a grid")
    flat = points.reshape(points.shape[0], -1, points.shape[-1])
    n, ring = faces.shape[-1], PAD[mode]

    def grid_of(part: slice) -> Tensor:
        return flat[:, part] if grid is not None else cubemap_grid(flat[:, part], n, ring, eac)

    out = sample_in_bands(face_stack(faces, mode, eac), flat.shape[1], band, grid_of, mode)
    return out.reshape(*out.shape[:2], *points.shape[1:-1])


def face_stack(faces: Tensor, mode: Interpolation = "bilinear", eac: bool = False) -> Tensor:
    """The image (B, C, 6 (N + 2 ring), N + 2 ring) that :func:`cubemap_grid` addresses: the faces
    (B, 6, C, N, N) padded by ``ring = PAD[mode]`` (:func:`pad_faces`), on top of each other."""
    b, _, c, n, _ = faces.shape
    ring = PAD[mode]
    return pad_faces(faces, ring, eac).transpose(1, 2).reshape(b, c, 6 * (n + 2 * ring), n + 2 * ring)


def sample_in_bands(
    image: Tensor, points: int, band: int, grid_of: Callable[[slice], Tensor], mode: Interpolation
) -> Tensor:
    """``image`` (B, C, H, W) sampled at ``points`` points whose grid is made ``band`` points at a time
    by ``grid_of(slice)`` -> (B', L, 2): (max(B, B'), C, points), without ever holding the whole grid."""
    out: Tensor | None = None
    for start in range(0, points, band):
        part = slice(start, min(points, start + band))
        sampled = grid_sample_batched(image, grid_of(part), mode)
        if out is None:  # the batch follows the grid's (one cube seen through B' rotations) or the image's
            out = sampled.new_empty(*sampled.shape[:2], points)
        out[..., part] = sampled
    if out is None:
        raise ValueError("nothing to sample: no points")
    return out


def e2c_grid(
    h: int,
    w: int,
    face_size: int,
    *,
    pad: int = 0,
    rotation: Tensor | None = None,
    mode: Interpolation = "bilinear",
    eac: bool = False,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """The sampling grid :func:`e2c` uses for an (h, w) equirect, to compute once and pass as ``grid``."""
    dirs = face_dirs(face_size, pad, rotation=rotation, eac=eac, dtype=grid_dtype(dtype), device=device)
    return equirect_grid(dirs if rotation is not None else dirs[None], h, w, PAD[mode])


def e2c(
    equi: Tensor,
    face_size: int,
    *,
    pad: int = 0,
    rotation: Tensor | None = None,
    mode: Interpolation = "bilinear",
    eac: bool = False,
    grid: Tensor | None = None,
) -> Tensor:
    """Equirect (B, C, H, W) -> cube faces (B, 6, C, N + 2 pad, N + 2 pad), N = ``face_size``.

    ``pad`` > 0 gives padded faces (FOV :func:`padded_fov`) whose pad shows the neighbouring faces.
    ``rotation`` (3, 3) or (B, 3, 3): the cube frame (see the module docstring); ``eac``: equi-angular faces.
    """
    h, w = equi.shape[-2:]
    if grid is None:
        grid = e2c_grid(
            h, w, face_size, pad=pad, rotation=rotation, mode=mode, eac=eac, dtype=equi.dtype, device=equi.device
        )
    padded = pad_equirect(equi, PAD[mode], memory_format=torch.channels_last)
    return grid_sample_batched(padded, grid, mode).transpose(1, 2)


def c2e_grid(
    face_size: int,
    h: int,
    w: int,
    *,
    rows: slice = slice(None),
    rotation: Tensor | None = None,
    mode: Interpolation = "bilinear",
    eac: bool = False,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """The sampling grid :func:`c2e` uses (B, H, W, 2), to compute once and pass as ``grid``;
    ``rows``: only those rows of it (B, R, W, 2), the same values."""
    dirs = equirect_dirs(h, w, rows=rows, dtype=grid_dtype(dtype), device=device)[None]
    turned = rotate(dirs, None if rotation is None else rotation.transpose(-1, -2))
    return cubemap_grid(turned, face_size, PAD[mode], eac)


def c2e(
    faces: Tensor,
    h: int,
    w: int,
    *,
    rotation: Tensor | None = None,
    mode: Interpolation = "bilinear",
    eac: bool = False,
    grid: Tensor | None = None,
    band_rows: int | None = None,
) -> Tensor:
    """Cube faces (B, 6, C, N, N) -> equirect (B, C, h, w), any size.

    ``rotation``: the cube frame the faces were taken in (inverse of ``e2c(..., rotation=R)``);
    ``eac``: the faces are equi-angular. Sampled in bands of ``band_rows`` rows (default: about
    :data:`SAMPLE_BAND_POINTS` pixels), each band's grid made when it is sampled (``grid``: the rows
    of that one, from :func:`c2e_grid`): no full-size grid is held.
    """
    rows = band_rows or max(1, SAMPLE_BAND_POINTS // w)
    flat = None if grid is None else grid.flatten(1, 2)

    def grid_of(part: slice) -> Tensor:  # a band of whole rows
        if flat is not None:
            return flat[:, part]
        band = slice(part.start // w, part.stop // w)
        return c2e_grid(
            faces.shape[-1],
            h,
            w,
            rows=band,
            rotation=rotation,
            mode=mode,
            eac=eac,
            dtype=faces.dtype,
            device=faces.device,
        ).flatten(1, 2)

    out = sample_in_bands(face_stack(faces, mode, eac), h * w, rows * w, grid_of, mode)
    return out.reshape(*out.shape[:2], h, w)


def resample_cubemap(
    faces: Tensor,
    *,
    face_size: int | None = None,
    pad: int = 0,
    rotation: Tensor | None = None,
    mode: Interpolation = "bilinear",
    eac: bool = False,
    out_eac: bool | None = None,
) -> Tensor:
    """The (padded) faces of cube frame ``rotation`` sampled from cube ``faces`` (B, 6, C, N, N).

    -> (B, 6, C, M + 2 pad, M + 2 pad) with M = ``face_size`` (default N). This is how a cube canvas
    yields rotated padded faces every dream step (gradients flow back onto ``faces``); the inverse
    is ``resample_cubemap(crop_pad(out, pad), rotation=R.T)``. ``rotation`` (B', 3, 3) with one cube
    gives B' turned copies. ``eac``: ``faces`` are equi-angular; ``out_eac``: so is the result (default ``eac``).
    """
    m = faces.shape[-1] if face_size is None else face_size
    out_eac = eac if out_eac is None else out_eac
    dirs = face_dirs(m, pad, rotation=rotation, eac=out_eac, dtype=grid_dtype(faces.dtype), device=faces.device)
    return sample_cubemap(faces, dirs if rotation is not None else dirs[None], mode=mode, eac=eac).transpose(1, 2)


def crop_pad(faces: Tensor, pad: int) -> Tensor:
    """(…, N + 2 pad, N + 2 pad) -> (…, N, N): the interior of padded faces."""
    return faces if pad == 0 else faces[..., pad:-pad, pad:-pad]
