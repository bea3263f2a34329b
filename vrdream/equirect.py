"""Sphere geometry on equirectangular images, in torch: directions, rotations, sampling, perspective views.

Conventions (docs/conventions.md, shared with py360convert):

* A direction is ``(x, y, z)``: x right, y up, z forward. It need not be unit length.
* ``yaw = atan2(x, z)`` (0 front, +pi/2 right), ``pitch = atan2(y, hypot(x, z))`` (+pi/2 up).
* Equirect ``(B, C, H, W)``: pixel *centres* at ``yaw = ((col + 0.5) / W - 0.5) * 2pi`` and
  ``pitch = (0.5 - (row + 0.5) / H) * pi``; row 0 is the top, column 0 is yaw -pi, so the
  0/360 degree wrap is the left/right border.
* Angles are radians. A rotation ``R`` (3, 3) maps a camera/cube frame to the world:
  ``world = R @ local``.

Every sampler is ``torch.nn.functional.grid_sample`` on a padded copy of the image, so it is batched,
runs on any device and float dtype, and is differentiable with respect to the image. Grids can be
computed once (``equirect_grid``) and reused, with no cache or global state.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

#: How a sample between pixel centres is read (``torch.nn.functional.grid_sample``'s modes).
Interpolation = Literal["nearest", "bilinear", "bicubic"]

#: Pixels of padding each interpolation mode reads beyond a sample's own pixel.
PAD: dict[Interpolation, int] = {"nearest": 1, "bilinear": 1, "bicubic": 2}


# ----------------------------------------------------------------------------------------------- rotations


def rotation_matrix(
    yaw: float = 0.0,
    pitch: float = 0.0,
    roll: float = 0.0,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """(3, 3) camera-to-world rotation of a camera looking at ``yaw``, ``pitch``, rolled by ``roll``.

    ``R = Ry(yaw) @ Rx(pitch) @ Rz(roll)``: forward ``(0, 0, 1)`` goes to the direction with that
    yaw and pitch; positive roll turns the camera's right axis towards its up axis (image content
    turns clockwise).
    """
    cy, sy, cp, sp, cr, sr = (
        math.cos(yaw),
        math.sin(yaw),
        math.cos(pitch),
        math.sin(pitch),
        math.cos(roll),
        math.sin(roll),
    )
    ry = torch.tensor([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]], dtype=torch.float64)
    rx = torch.tensor([[1.0, 0.0, 0.0], [0.0, cp, sp], [0.0, -sp, cp]], dtype=torch.float64)
    rz = torch.tensor([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    return (ry @ rx @ rz).to(dtype=dtype, device=device)


def axis_angle_matrix(axis: Tensor, angle: Tensor) -> Tensor:
    """Rodrigues: rotation by ``angle`` (...,) radians about ``axis`` (..., 3) -> (..., 3, 3)."""
    k = axis / axis.norm(dim=-1, keepdim=True)
    zero = torch.zeros_like(k[..., 0])
    kx = torch.stack(
        [zero, -k[..., 2], k[..., 1], k[..., 2], zero, -k[..., 0], -k[..., 1], k[..., 0], zero], dim=-1
    ).reshape(*k.shape[:-1], 3, 3)
    a = angle[..., None, None]
    eye = torch.eye(3, dtype=k.dtype, device=k.device)
    # [k]x^2 = k k^T - I for a unit k, written element-wise (no matmul for TF32 to round).
    return eye + torch.sin(a) * kx + (1 - torch.cos(a)) * (k[..., :, None] * k[..., None, :] - eye)


def random_rotation(
    gen: torch.Generator,
    max_angle: float | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """A (3, 3) rotation drawn from ``gen`` (a CPU generator, so results do not depend on the device).

    ``max_angle=None`` (or >= pi): uniform on SO(3) (Haar), from a normalised 4-D Gaussian quaternion.
    Otherwise bounded jitter: a uniformly random axis and an angle uniform in ``[0, max_angle]``
    (not the Haar measure restricted to the ball, which would almost never pick small angles).
    """
    if max_angle is None or max_angle >= math.pi:
        q = torch.randn(4, generator=gen, dtype=torch.float64)
        w, x, y, z = (q / q.norm()).tolist()
        r = torch.tensor(
            [
                [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
            ],
            dtype=torch.float64,
        )
    else:
        axis = torch.randn(3, generator=gen, dtype=torch.float64)
        angle = torch.rand((), generator=gen, dtype=torch.float64) * max_angle
        r = axis_angle_matrix(axis, angle)
    return r.to(dtype=dtype, device=device)


def rotate(dirs: Tensor, rotation: Tensor | None) -> Tensor:
    """Apply ``rotation`` (3, 3) or (B, 3, 3) to ``dirs`` (B' or 1, *S, 3) -> (max(B, B'), *S, 3)."""
    if rotation is None:
        return dirs
    r = rotation.to(dirs).reshape(-1, *(1,) * (dirs.ndim - 2), 3, 3)
    x, y, z = planar(dirs)
    # Element-wise, not a matmul: TF32 matmuls (allowed on GPUs by torch.set_float32_matmul_precision)
    # would round directions to ~1e-3, a pixel on a 1K face.
    return torch.stack([x * r[..., i, 0] + y * r[..., i, 1] + z * r[..., i, 2] for i in range(3)]).movedim(0, -1)


# ---------------------------------------------------------------------------------------------- directions


def equirect_dirs(
    h: int,
    w: int,
    *,
    rows: slice = slice(None),
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """(H, W, 3) unit directions of the equirect pixel centres; ``rows``: only those rows (R, W, 3),
    the same values as the whole equirect's rows."""
    yaw = ((torch.arange(w, dtype=torch.float64) + 0.5) / w - 0.5) * (2 * math.pi)
    pitch = (0.5 - (torch.arange(h, dtype=torch.float64) + 0.5) / h) * math.pi
    pitch = pitch[rows]
    # Trigonometry in float64 on the 1-D axes, then only products in the output dtype.
    sy, cy, sp, cp = (t.to(dtype=dtype, device=device) for t in (yaw.sin(), yaw.cos(), pitch.sin(), pitch.cos()))
    return torch.stack([cp[:, None] * sy, sp[:, None].expand(len(pitch), w), cp[:, None] * cy]).movedim(0, -1)


def perspective_dirs(
    h: int,
    w: int,
    fov: float | tuple[float, float, float, float],
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """(H, W, 3) camera-frame directions (z = 1) of a pinhole view's pixel centres.

    ``fov`` is the horizontal field of view (the vertical one follows from square pixels), or
    asymmetric angles ``(left, right, up, down)`` from the forward axis as in OpenXR's ``XrFovf``
    (left and down negative). The outer pixel *edges* lie on the field of view's borders.
    """
    if isinstance(fov, (tuple, list)):
        left, right, up, down = (math.tan(a) for a in fov)
    else:
        right = math.tan(fov / 2)
        up = right * h / w
        left, down = -right, -up
    x = left + (right - left) * (torch.arange(w, dtype=torch.float64) + 0.5) / w
    y = up + (down - up) * (torch.arange(h, dtype=torch.float64) + 0.5) / h
    yy, xx = torch.meshgrid(y, x, indexing="ij")
    return torch.stack([xx, yy, torch.ones_like(xx)], dim=-1).to(dtype=dtype, device=device)


# ------------------------------------------------------------------------------------------------ sampling


def pad_equirect(equi: Tensor, pad: int, *, memory_format: torch.memory_format = torch.contiguous_format) -> Tensor:
    """(B, C, H, W) -> (B, C, H + 2 pad, W + 2 pad), padded *through the sphere*.

    Columns wrap around (yaw -pi is yaw +pi). Across a pole, the row above row 0 is row 0 again, half
    a turn away: rows are mirrored and rolled by W/2 (for odd W, the mean of the two nearest rolls).
    Bilinear/bicubic sampling of the padded image is then continuous at the wrap and over the poles.
    Built from differentiable ops only. ``memory_format=torch.channels_last`` lays the copy out for
    sampling (a sample's channels share cache lines: grid_sample is ~1.5x faster on an 8K CPU image).
    """
    h, w = equi.shape[-2:]
    if pad > min(h, w):
        raise ValueError(f"pad {pad} larger than the image {h}x{w}")

    def half_turn(rows: Tensor) -> Tensor:
        rolled = torch.roll(rows, w // 2, dims=-1)
        return rolled if w % 2 == 0 else 0.5 * (rolled + torch.roll(rows, w // 2 + 1, dims=-1))

    # One copy of the image, then the thin borders written into it: two torch.cat of the whole
    # image were 8x slower on an 8K panorama. Slice assignment keeps autograd working.
    out = torch.empty(
        *equi.shape[:-2], h + 2 * pad, w + 2 * pad, dtype=equi.dtype, device=equi.device, memory_format=memory_format
    )
    out[..., pad : pad + h, pad : pad + w] = equi
    out[..., :pad, pad : pad + w] = half_turn(equi[..., :pad, :].flip(-2))
    out[..., pad + h :, pad : pad + w] = half_turn(equi[..., h - pad :, :].flip(-2))
    out[..., :pad] = out[..., w : w + pad]
    out[..., pad + w :] = out[..., pad : 2 * pad]
    return out


def planar(dirs: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The x, y, z components of ``dirs`` (..., 3) as three contiguous tensors (free for planar dirs).

    torch's CPU math on strided components is not vectorised (atan2 on an 8K cube's 25M directions:
    1.5 s strided, 0.1 s contiguous), so the direction makers here store the components planar
    (3, ...) and return them as a (..., 3) view, and this only copies other layouts.
    """
    return tuple(c.contiguous() for c in dirs.unbind(-1))  # type: ignore[return-value]


def equirect_grid(dirs: Tensor, h: int, w: int, pad: int) -> Tensor:
    """``grid_sample`` coordinates (align_corners=False) of ``dirs`` (..., 3) in an (h, w) equirect
    padded by :func:`pad_equirect` with ``pad`` -> (..., 2)."""
    x, y, z = planar(dirs)
    yaw = torch.atan2(x, z)
    pitch = torch.atan2(y, torch.hypot(x, z))
    # Column (yaw / 2pi + 0.5) w - 0.5 + pad of w + 2 pad, row (0.5 - pitch / pi) h - 0.5 + pad of
    # h + 2 pad, normalised as (p + 0.5) 2/size - 1: the offsets cancel.
    return torch.stack([yaw * (w / (math.pi * (w + 2 * pad))), pitch * (-2 * h / (math.pi * (h + 2 * pad)))], dim=-1)


def grid_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype to compute sampling coordinates in: 16-bit floats cannot address an 8K-wide image."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def grid_sample_batched(image: Tensor, grid: Tensor, mode: Interpolation = "bilinear") -> Tensor:
    """``grid_sample`` of ``image`` (B, C, H, W) at ``grid`` (B', *S, 2) -> (max(B, B'), C, *S).

    A batch of 1 on either side is shared: one grid for all images, or one image seen through B'
    grids (e.g. B' rotations). 16-bit images are sampled in float32 (their grids would be off by
    pixels) and the result cast back.
    """
    c = image.shape[1]
    b = max(image.shape[0], grid.shape[0])
    shape = grid.shape[1:-1]
    work = grid_dtype(image.dtype)
    flat = grid.to(work).reshape(grid.shape[0], 1, -1, 2).expand(b, -1, -1, -1)
    src = image.to(work).expand(b, -1, -1, -1)
    chunks = _cpu_chunks(src, flat)
    if chunks > 1:
        # grid_sample's CPU kernel runs one thread per batch item; cut one big grid into `chunks` items
        # of the same (expanded, not copied) image so that every thread gets a share.
        out = F.grid_sample(
            src.expand(chunks, -1, -1, -1),
            flat.reshape(chunks, 1, -1, 2),
            mode=mode,
            padding_mode="border",
            align_corners=False,
        )
        out = out.transpose(0, 1).reshape(1, c, -1)
    else:
        out = F.grid_sample(src, flat, mode=mode, padding_mode="border", align_corners=False)
    return out.reshape(b, c, *shape).to(image.dtype)


def _cpu_chunks(image: Tensor, grid: Tensor) -> int:
    """How many pieces to cut a single CPU grid into: one per thread (dividing it exactly), or 1.

    Not when autograd records the image: the expanded image's gradient would take one full copy per piece.
    """
    points = grid.shape[2]
    if (
        image.device.type != "cpu"
        or image.shape[0] != 1
        or points < 1 << 16
        or (torch.is_grad_enabled() and image.requires_grad)
    ):
        return 1
    return next(t for t in range(min(torch.get_num_threads(), points >> 15), 0, -1) if points % t == 0)


def sample_equirect(equi: Tensor, dirs: Tensor, *, mode: Interpolation = "bilinear") -> Tensor:
    """Sample ``equi`` (B, C, H, W) along ``dirs`` (B', *S, 3) -> (max(B, B'), C, *S); a batch of 1 is shared.

    Correct across the yaw +-pi wrap and over the poles (see :func:`pad_equirect`); gradients flow
    back onto ``equi``.
    """
    h, w = equi.shape[-2:]
    p = PAD[mode]
    return grid_sample_batched(
        pad_equirect(equi, p, memory_format=torch.channels_last), equirect_grid(dirs, h, w, p), mode
    )


def perspective(
    equi: Tensor,
    h: int,
    w: int,
    fov: float | tuple[float, float, float, float],
    *,
    yaw: float = 0.0,
    pitch: float = 0.0,
    roll: float = 0.0,
    rotation: Tensor | None = None,
    mode: Interpolation = "bilinear",
) -> Tensor:
    """A pinhole view (B, C, h, w) of ``equi`` (B, C, H, W) looking at ``yaw``/``pitch`` with ``roll``.

    ``fov`` as in :func:`perspective_dirs`. ``rotation`` (3, 3) or (B, 3, 3) replaces yaw/pitch/roll.
    """
    if rotation is None:
        rotation = rotation_matrix(yaw, pitch, roll, dtype=torch.float64, device=equi.device)
    dirs = perspective_dirs(h, w, fov, dtype=torch.float64, device=equi.device)[None]
    return sample_equirect(equi, rotate(dirs, rotation.double()).to(grid_dtype(equi.dtype)), mode=mode)
