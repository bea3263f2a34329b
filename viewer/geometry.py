"""View conventions in pure numpy: directions, rotations, fields of view, equirect uv.

Conventions (docs/conventions.md): a direction is a unit vector ``(x, y, z)`` with x right,
y up, z forward; ``yaw = atan2(x, z)`` (0 = front, +90° = right) and ``pitch = asin(y)``
(+90° = up). Equirect texture coordinates ``(u, v)`` run over ``[0, 1]``: ``u = 0`` is
yaw -180° (the left border, where the 0°/360° wrap lies) and ``v = 0`` is the top row.

A camera is a rotation ``R`` (3, 3) that maps view-space rays to world rays (the columns are
the camera's right, up and forward axes in the world) and a :class:`Fov` given, as in OpenXR,
by four signed angles. View space looks down +z with x right and y up; OpenXR looks down -z,
and :func:`xr_orientation_to_rotation` converts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Mirror z: maps OpenXR's -z-forward frame to ours (and back, it is its own inverse).
_FLIP_Z = np.diag([1.0, 1.0, -1.0])


@dataclass(frozen=True)
class Fov:
    """A view frustum as four signed angles in radians, like OpenXR's ``XrFovf``.

    ``left`` and ``down`` are negative for a frustum that contains the view axis; an
    asymmetric frustum (as each eye of a headset has) simply has ``-left != right``.
    """

    left: float
    right: float
    up: float
    down: float

    @classmethod
    def symmetric(cls, hfov_deg: float, width: int, height: int) -> Fov:
        """Symmetric frustum with horizontal field ``hfov_deg`` and square pixels for ``width``×``height``."""
        tx = math.tan(math.radians(hfov_deg) / 2)
        ty = tx * height / width
        return cls(-math.atan(tx), math.atan(tx), math.atan(ty), -math.atan(ty))

    def tangents(self) -> tuple[float, float, float, float]:
        """``(tan left, tan right, tan up, tan down)``: the frustum on the z = 1 plane."""
        return (math.tan(self.left), math.tan(self.right), math.tan(self.up), math.tan(self.down))


def yaw_pitch_to_dir(yaw: np.ndarray | float, pitch: np.ndarray | float) -> np.ndarray:
    """Unit directions (..., 3) from yaw and pitch in radians (any broadcastable shapes)."""
    yaw, pitch = np.asarray(yaw, dtype=np.float64), np.asarray(pitch, dtype=np.float64)
    cp = np.cos(pitch)
    return np.stack(np.broadcast_arrays(cp * np.sin(yaw), np.sin(pitch), cp * np.cos(yaw)), axis=-1)


def dir_to_yaw_pitch(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Yaw in (-π, π] and pitch in [-π/2, π/2] of directions (..., 3); need not be unit length."""
    d = np.asarray(d, dtype=np.float64)
    x, y, z = d[..., 0], d[..., 1], d[..., 2]
    return np.arctan2(x, z), np.arctan2(y, np.hypot(x, z))


def dir_to_equirect_uv(d: np.ndarray) -> np.ndarray:
    """Equirect texture coordinates (..., 2) as ``(u, v)`` in [0, 1] of directions (..., 3).

    ``u * W - 0.5`` and ``v * H - 0.5`` are then the fractional column and row in an equirect
    of W×H pixels (pixel centres as in docs/conventions.md).
    """
    yaw, pitch = dir_to_yaw_pitch(d)
    return np.stack([yaw / (2 * np.pi) + 0.5, 0.5 - pitch / np.pi], axis=-1)


def equirect_directions(width: int, height: int) -> np.ndarray:
    """Unit directions (height, width, 3) of the pixel centres of a width×height equirect."""
    yaw = ((np.arange(width) + 0.5) / width - 0.5) * 2 * np.pi
    pitch = (0.5 - (np.arange(height) + 0.5) / height) * np.pi
    return yaw_pitch_to_dir(yaw[None, :], pitch[:, None])


def rotation_yaw_pitch_roll(yaw_rad: float, pitch_rad: float, roll_rad: float = 0.0) -> np.ndarray:
    """World-from-view rotation (3, 3) float64 of a camera looking at (yaw, pitch), rolled about its view axis.

    The numpy twin of the engine's :func:`vrdream.equirect.rotation_matrix`, which is the
    definition (``R = Ry(yaw) @ Rx(pitch) @ Rz(roll)``; tests/test_viewer_math.py checks both
    agree): yaw turns about +y (towards +x), pitch raises the view, positive roll turns the
    camera's right axis towards its up axis. Not derived from it at run time because that
    would load torch into the viewer (seconds to start and to exit).
    ``R @ (0, 0, 1)`` is ``yaw_pitch_to_dir(yaw_rad, pitch_rad)``.
    """
    cy, sy, cp, sp, cr, sr = (
        math.cos(yaw_rad),
        math.sin(yaw_rad),
        math.cos(pitch_rad),
        math.sin(pitch_rad),
        math.cos(roll_rad),
        math.sin(roll_rad),
    )
    r_yaw = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    r_pitch = np.array([[1, 0, 0], [0, cp, sp], [0, -sp, cp]])
    r_roll = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return r_yaw @ r_pitch @ r_roll


def quaternion_to_matrix(x: float, y: float, z: float, w: float) -> np.ndarray:
    """Rotation matrix (3, 3) of a quaternion (normalised here, so any non-zero length works)."""
    q = np.array([x, y, z, w], dtype=np.float64)
    x, y, z, w = q / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def xr_orientation_to_rotation(x: float, y: float, z: float, w: float) -> np.ndarray:
    """Our world-from-view rotation (3, 3) from an OpenXR orientation quaternion.

    OpenXR spaces are right-handed with -z forward; ours has +z forward. Mirroring z on both
    sides (``F @ Q @ F``) turns the OpenXR rotation into a proper rotation in our frame, so an
    OpenXR view ray ``(tx, ty, -1)`` maps to the same world point as our ``(tx, ty, 1)``.
    """
    return _FLIP_Z @ quaternion_to_matrix(x, y, z, w) @ _FLIP_Z


def pixel_ray_gradients(
    rotation: np.ndarray, fov: Fov, width: int, height: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unnormalised world rays (height, width, 3) and their derivatives (3,) per pixel step right and down.

    Row 0 is the top of the image (as in an image file, not as in a GL framebuffer). The view
    ray of a pixel is ``R @ (tx, ty, 1)``, linear in the pixel position, so its derivatives are
    the constant columns ``R[:, 0] * dtx`` and ``R[:, 1] * dty``.
    """
    tl, tr, tu, td = fov.tangents()
    r = np.asarray(rotation, dtype=np.float64)
    tx = tl + (np.arange(width) + 0.5) / width * (tr - tl)
    ty = tu - (np.arange(height) + 0.5) / height * (tu - td)
    view = np.stack(np.broadcast_arrays(tx[None, :], ty[:, None], np.ones((1, 1))), axis=-1)
    return view @ r.T, r[:, 0] * (tr - tl) / width, r[:, 1] * -(tu - td) / height


def pixel_rays(rotation: np.ndarray, fov: Fov, width: int, height: int) -> np.ndarray:
    """Unit world rays (height, width, 3) through the pixel centres of a view (row 0 = top)."""
    world = pixel_ray_gradients(rotation, fov, width, height)[0]
    return world / np.linalg.norm(world, axis=-1, keepdims=True)


def equirect_uv_gradients(ray: np.ndarray, dray: np.ndarray) -> np.ndarray:
    """Derivative (..., 2) of the equirect ``(u, v)`` along ``dray`` at unnormalised rays (..., 3).

    The u derivative is scaled by cos(pitch): an equirect row is stretched by 1/cos(pitch) on
    the sphere, so the true footprint there is narrower in texels than du suggests. Without the
    factor the mip level chosen near the poles would blur the whole cap (and it would be
    infinite at the pole itself). The same formula runs in the GL shader (``renderer.py``).
    """
    x, y, z = ray[..., 0], ray[..., 1], ray[..., 2]
    dx, dy, dz = dray[..., 0], dray[..., 1], dray[..., 2]
    h2 = x * x + z * z
    h = np.sqrt(h2)
    n2 = h2 + y * y
    # d(yaw) * cos(pitch) = (z dx - x dz) / h² * h / |r|: finite at the poles.
    du = (z * dx - x * dz) / (np.maximum(h, 1e-12) * np.sqrt(n2)) / (2 * np.pi)
    # d(pitch) = (h dy - y dh) / |r|², with dh = (x dx + z dz) / h.
    dh = (x * dx + z * dz) / np.maximum(h, 1e-12)
    dv = -(h * dy - y * dh) / n2 / np.pi
    return np.stack([du, dv], axis=-1)


def view_direction(rotation: np.ndarray) -> np.ndarray:
    """The forward (gaze-at-centre) direction (3,) of a camera rotation."""
    return np.asarray(rotation, dtype=np.float64)[:, 2].copy()


def screen_to_dir(rotation: np.ndarray, fov: Fov, px: float, py: float, width: int, height: int) -> np.ndarray:
    """Unit world direction (3,) through window point (px, py) in pixels (origin top-left)."""
    tl, tr, tu, td = fov.tangents()
    v = np.array([tl + px / width * (tr - tl), tu - py / height * (tu - td), 1.0])
    d = np.asarray(rotation, dtype=np.float64) @ v
    return d / np.linalg.norm(d)
