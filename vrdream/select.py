"""Where to dream: soft equirect masks from a file, a magic wand on the sphere, or sky/ground.

All masks are (1, 1, H, W) float tensors in [0, 1] on the equirect canvas
(1 = dream here). Edges are feathered on the sphere: blurring pads through the
0°/360° wrap and over the poles, so a selection crossing either stays whole.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import Tensor

from .equirect import pad_equirect
from .errors import check_choice

#: Working width for the magic wand: colour similarity needs no more, and it keeps 8K inputs fast.
WAND_WIDTH = 1024

#: A half of the sphere: above or below the horizon.
Region = Literal["sky", "ground"]


def region(h: int, w: int, which: Region, *, feather_deg: float = 4.0, horizon_deg: float = 0.0) -> Tensor:
    """The part above (``sky``) or below (``ground``) the horizon at ``horizon_deg`` pitch, feathered."""
    check_choice("region", which, Region)
    pitch = (0.5 - (torch.arange(h, dtype=torch.float32) + 0.5) / h) * 180.0
    up = ((pitch - horizon_deg) / max(feather_deg, 1e-6) + 0.5).clamp(0, 1)
    up = up * up * (3 - 2 * up)  # smoothstep: no visible kink at the feather's ends
    m = up if which == "sky" else 1 - up
    return m.reshape(1, 1, h, 1).expand(1, 1, h, w).contiguous()


def magic_wand(
    equi: Tensor, yaw_deg: float, pitch_deg: float, *, tolerance: float = 0.12, feather_deg: float = 1.5
) -> Tensor:
    """Flood fill from the direction (yaw, pitch) over pixels whose colour is within ``tolerance``
    (Euclidean RGB distance in [0, 1] units) of the seed's; connected across the wrap and the poles.

    ``equi`` (1, 3, H, W) -> (1, 1, H, W), feathered by ``feather_deg``.
    """
    h, w = equi.shape[-2:]
    small_w = min(w, WAND_WIDTH)
    small = F.interpolate(equi.float(), size=(small_w // 2, small_w), mode="area")[0].permute(1, 2, 0).numpy()
    sh, sw = small.shape[:2]
    col = int((yaw_deg / 360.0 + 0.5) * sw) % sw
    row = min(sh - 1, max(0, int((0.5 - pitch_deg / 180.0) * sh)))
    seed = small[max(0, row - 1) : row + 2, [(col + d) % sw for d in (-1, 0, 1)]].reshape(-1, 3).mean(0)
    similar = np.linalg.norm(small - seed, axis=-1) <= tolerance
    selected = _component_on_sphere(similar, row, col).astype(np.float32)
    mask = F.interpolate(torch.from_numpy(selected)[None, None], size=(h, w), mode="bilinear", align_corners=False)
    return feather(mask, feather_deg)


def _component_on_sphere(binary: np.ndarray, row: int, col: int) -> np.ndarray:
    """The connected component of ``binary`` (H, W) holding (row, col), with the sphere's connectivity.

    scipy labels a plane; components are then joined where the sphere is
    continuous but the plane is not: column 0 with column W-1 (the wrap), and
    along the top and bottom rows, each pixel with the one half a turn away
    (over the pole). A small union-find over labels does the joining.
    """
    labels, count = ndimage.label(binary, structure=np.ones((3, 3)))
    if labels[row, col] == 0:
        return np.zeros_like(binary)
    h, w = binary.shape
    parent = list(range(count + 1))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    half = (np.arange(w) + w // 2) % w
    pairs = [(labels[:, 0], labels[:, -1]), (labels[0], labels[0, half]), (labels[-1], labels[-1, half])]
    for a, b in pairs:
        both = (a > 0) & (b > 0)
        for x, y in set(zip(a[both].tolist(), b[both].tolist())):
            parent[find(x)] = find(y)
    root = find(labels[row, col])
    roots = np.array([find(i) for i in range(count + 1)])
    return (roots[labels] == root) & (labels > 0)


def feather(mask: Tensor, degrees: float) -> Tensor:
    """Gaussian-blur a (1, 1, H, W) equirect mask by ``degrees`` (σ), through the wrap and the poles.

    σ is constant in equirect pixels (exact at the equator, narrower in angle
    towards the poles), which is all a feathered selection edge needs.
    """
    h, w = mask.shape[-2:]
    sigma = degrees / 360.0 * w
    if sigma < 0.3:
        return mask
    radius = min(int(math.ceil(3 * sigma)), h)
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    k = (k / k.sum()).to(mask)
    padded = pad_equirect(mask, radius)
    out = F.conv2d(padded, k.reshape(1, 1, 1, -1))
    out = F.conv2d(out, k.reshape(1, 1, -1, 1))
    return out.clamp(0, 1)


def from_file(path: str | Path, h: int, w: int) -> Tensor:
    """A grey equirect mask image (any size, any mode; white = dream) resized to (1, 1, h, w)."""
    from .photosphere import read_photosphere

    ps = read_photosphere(path, flat=True)
    grey = torch.from_numpy(ps.pixels.mean(axis=2) * ps.mask)[None, None]
    return F.interpolate(grey, size=(h, w), mode="bilinear", align_corners=False).clamp(0, 1)
