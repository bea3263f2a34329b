"""Optical flow on the sphere: follows real motion, continuous across the yaw wrap and over the poles."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from videos import load_panorama, scene

from vrdream.equirect import equirect_dirs, rotate, rotation_matrix, sample_equirect
from vrdream.flow import motion_mask, sphere_flow, warp
from vrdream.tensors import to_numpy, to_tensor


@pytest.fixture(scope="module")
def pano(sample_pano: Path) -> np.ndarray:
    return load_panorama(sample_pano, 256)


def turned(equi: torch.Tensor, rot: torch.Tensor) -> torch.Tensor:
    """``equi`` with the sphere turned by ``rot``: the new pixel in direction d shows the old one at R^T d."""
    h, w = equi.shape[-2:]
    return sample_equirect(equi, rotate(equirect_dirs(h, w)[None], rot.T), mode="bicubic").clamp(0, 1)


def err(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(H, W) mean absolute difference over channels."""
    return (a - b).abs().mean(dim=(0, 1))


def test_flow_follows_a_yaw_turn(pano: np.ndarray) -> None:
    prev, cur = to_tensor(scene(pano, 4, object_speed=0)), to_tensor(scene(pano, 5, object_speed=0))
    flow = sphere_flow(prev, cur)
    # 3 columns of 256 per frame: 4.22° at the equator, times cos(pitch) elsewhere. The ground
    # (rows 68-100) is textured; the sky above it is flat, where no flow can see motion.
    rows = torch.arange(68, 100)
    pitch = (0.5 - (rows + 0.5) / 128) * math.pi
    expected = math.radians(3 / 256 * 360) * torch.cos(pitch)
    measured = flow.angle[0, 0, 68:100].median(dim=1).values
    assert torch.allclose(measured, expected, rtol=0.15), (measured, expected)
    # The warp lines the previous frame up with the new one.
    assert err(warp(prev, flow), cur).mean() < 0.4 * err(prev, cur).mean()


def test_flow_is_continuous_across_the_wrap(pano: np.ndarray) -> None:
    # Turn the scene so that the textured ground crosses yaw ±180° (the equirect's left/right border).
    prev, cur = to_tensor(scene(pano, 40, object_speed=0)), to_tensor(scene(pano, 41, object_speed=0))
    flow = sphere_flow(prev, cur)
    e = err(warp(prev, flow), cur)[64:]  # the textured lower half
    border = torch.cat([e[:, :6], e[:, -6:]], dim=1).mean()
    inside = e[:, 6:-6].mean()
    assert border < 1.5 * inside, (border, inside)
    # The flow itself has no step at the border: the angle moved is the same on both sides.
    a = flow.angle[0, 0, 68:100]
    assert (a[:, 0] - a[:, -1]).abs().median() < 0.2 * a.median()


def test_flow_over_the_poles(pano: np.ndarray) -> None:
    # Roll the panorama 60° so that its textured ground covers the south pole, then turn the sphere
    # 2° about the x axis: the content near the pole moves straight across it.
    base = turned(to_tensor(pano), rotation_matrix(roll=math.radians(60), dtype=torch.float64))
    cur = turned(base, rotation_matrix(pitch=math.radians(2), dtype=torch.float64))
    flow = sphere_flow(base, cur)
    south = slice(-12, None)  # the last 12 rows: pitch below -73°
    # A turn of 2° about x moves direction d by 2° · sin(angle(d, x)).
    d = equirect_dirs(128, 256, dtype=torch.float64)
    expected = math.radians(2) * torch.sqrt(1 - d[..., 0] ** 2)
    assert flow.angle[0, 0, south].median() == pytest.approx(expected[south].median().item(), rel=0.15)
    ours = err(warp(base, flow), cur)[south].mean()
    # Baseline: Farneback on the equirect itself, warped with OpenCV (what the original did).
    gray = [cv2.cvtColor((to_numpy(t) * 255).round().astype(np.uint8), cv2.COLOR_RGB2GRAY) for t in (cur, base)]
    f = cv2.calcOpticalFlowFarneback(gray[0], gray[1], None, 0.5, 3, 15, 3, 5, 1.2, 0)
    mx = (np.arange(256)[None] + f[..., 0]).astype(np.float32)
    my = (np.arange(128)[:, None] + f[..., 1]).astype(np.float32)
    naive = np.abs(
        cv2.remap(to_numpy(base), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) - to_numpy(cur)
    )[south].mean()
    assert ours < 0.25 * err(base, cur)[south].mean()
    assert ours < 0.5 * naive, (ours, naive)


def test_motion_mask_marks_the_moving_object(pano: np.ndarray) -> None:
    # A still panorama with the disc moving: only the disc (and its edge) is "moving".
    prev, cur = to_tensor(scene(pano, 4, yaw_px_per_frame=0)), to_tensor(scene(pano, 5, yaw_px_per_frame=0))
    mask = motion_mask(sphere_flow(prev, cur))[0, 0]
    yy, xx = torch.meshgrid(torch.arange(128), torch.arange(256), indexing="ij")
    cx, cy, r = 256 * 0.3 + 5 * 4, 128 * 0.65, 128 / 10
    dist = torch.hypot(xx - cx, yy - cy)
    assert mask[dist < r * 0.6].mean() > 0.8
    assert mask[dist > r * 2.5].mean() < 0.05
