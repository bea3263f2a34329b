"""The viewer's pure parts against hand-computed cases: conventions, FOV, uv, gaze, dynamics, controls, XR logic."""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import xr

from vrdream.errors import InputError, VrdreamError
from vrdream.viewer.controls import CONE_SCALE_RANGE, CONE_STEP, ViewerState, apply_command
from vrdream.viewer.gaze import (
    GazeSettings,
    approach,
    cone_weight,
    dream_amount,
    dwell_directions,
    dwell_step,
    mix_target,
    steady_dwell,
)
from vrdream.viewer.geometry import (
    Fov,
    dir_to_equirect_uv,
    dir_to_yaw_pitch,
    equirect_directions,
    equirect_uv_gradients,
    pixel_ray_gradients,
    pixel_rays,
    quaternion_to_matrix,
    rotation_yaw_pitch_roll,
    screen_to_dir,
    xr_orientation_to_rotation,
    yaw_pitch_to_dir,
)
from vrdream.viewer.panorama import find_raw, start_direction
from vrdream.viewer.srgb import (
    linear_to_srgb,
    mip_chain_sizes,
    srgb8_to_linear,
    srgb_mip_pyramid,
    srgb_to_linear,
)
from vrdream.viewer.xr_logic import (
    BINDING_EXTENSIONS,
    GL_RGBA8,
    GL_RGBA16F,
    GL_SRGB8_ALPHA8,
    SessionAction,
    check_xr_platform,
    choose_graphics_binding,
    choose_swapchain_format,
    eye_gaze_supported,
    fov_from_xr,
    gaze_from_xr,
    head_yaw,
    pressed,
    rotation_from_xr,
    session_action,
    should_submit_frames,
)

D = math.radians


# ---------------------------------------------------------------- conventions


@pytest.mark.parametrize(
    "yaw, pitch, d",
    [
        (0, 0, (0, 0, 1)),  # front
        (90, 0, (1, 0, 0)),  # right
        (-90, 0, (-1, 0, 0)),  # left
        (180, 0, (0, 0, -1)),  # back
        (0, 90, (0, 1, 0)),  # up
        (0, -90, (0, -1, 0)),  # down
        (45, 0, (math.sqrt(0.5), 0, math.sqrt(0.5))),
    ],
)
def test_yaw_pitch_direction(yaw, pitch, d):
    np.testing.assert_allclose(yaw_pitch_to_dir(D(yaw), D(pitch)), d, atol=1e-12)
    if abs(pitch) < 90:
        y, p = dir_to_yaw_pitch(np.array(d))
        assert math.isclose(math.remainder(y - D(yaw), 2 * math.pi), 0, abs_tol=1e-12)
        assert math.isclose(p, D(pitch), abs_tol=1e-12)


@pytest.mark.parametrize(
    "d, uv",
    [
        ((0, 0, 1), (0.5, 0.5)),  # front: image centre
        ((1, 0, 0), (0.75, 0.5)),  # right: three quarters across
        ((-1, 0, 0), (0.25, 0.5)),
        ((0, 1, 0), (0.5, 0.0)),  # up: top row
        ((0, -1, 0), (0.5, 1.0)),
        ((0, 0.5, -1), (1.0, 0.5 - math.atan2(0.5, 1) / math.pi)),  # behind: the wrap (yaw +180° = u 1 ≡ 0)
    ],
)
def test_dir_to_equirect_uv(d, uv):
    np.testing.assert_allclose(dir_to_equirect_uv(np.array(d, float)), uv, atol=1e-12)


def test_equirect_directions_match_pixel_centres():
    d = equirect_directions(8, 4)
    # column 0 is yaw -180° + half a pixel, row 0 is the top band
    y, p = dir_to_yaw_pitch(d[0, 0])
    assert math.isclose(y, -math.pi + math.pi / 8) and math.isclose(p, math.pi / 2 - math.pi / 8)
    uv = dir_to_equirect_uv(d)
    np.testing.assert_allclose(uv[..., 0] * 8 - 0.5, np.broadcast_to(np.arange(8), (4, 8)), atol=1e-9)
    np.testing.assert_allclose(uv[..., 1] * 4 - 0.5, np.broadcast_to(np.arange(4)[:, None], (4, 8)), atol=1e-9)


def test_rotation_yaw_pitch_roll_axes():
    r = rotation_yaw_pitch_roll(D(90), 0)
    np.testing.assert_allclose(r @ [0, 0, 1], [1, 0, 0], atol=1e-12)  # looks right
    np.testing.assert_allclose(r @ [1, 0, 0], [0, 0, -1], atol=1e-12)  # its right is the back
    r = rotation_yaw_pitch_roll(D(30), D(20))
    np.testing.assert_allclose(r @ [0, 0, 1], yaw_pitch_to_dir(D(30), D(20)), atol=1e-12)
    np.testing.assert_allclose(r.T @ r, np.eye(3), atol=1e-12)
    assert math.isclose(np.linalg.det(r), 1.0)
    r = rotation_yaw_pitch_roll(0, 0, D(90))
    np.testing.assert_allclose(r @ [1, 0, 0], [0, 1, 0], atol=1e-12)  # positive roll turns the right side up


def test_viewer_and_engine_build_the_same_camera_rotation():
    """One camera convention: the viewer's rotation is the dream engine's, for any yaw, pitch and roll."""
    from vrdream.equirect import rotation_matrix

    rng = np.random.default_rng(18)
    for yaw, pitch, roll in zip(
        rng.uniform(-np.pi, np.pi, 50), rng.uniform(-np.pi / 2, np.pi / 2, 50), rng.uniform(-np.pi, np.pi, 50)
    ):
        viewer = rotation_yaw_pitch_roll(float(yaw), float(pitch), float(roll))
        engine = rotation_matrix(float(yaw), float(pitch), float(roll), dtype=torch.float64).numpy()
        np.testing.assert_allclose(viewer, engine, atol=1e-12)
        # and both look where the viewer's direction convention says
        np.testing.assert_allclose(viewer[:, 2], yaw_pitch_to_dir(yaw, pitch), atol=1e-12)


def test_quaternions_and_openxr_frame():
    s = math.sqrt(0.5)
    # 90° about +y in a right-handed frame: +z → +x, and OpenXR's forward -z → -x (the left).
    q = quaternion_to_matrix(0, s, 0, s)
    np.testing.assert_allclose(q @ [0, 0, 1], [1, 0, 0], atol=1e-12)
    r = xr_orientation_to_rotation(0, s, 0, s)
    # In our frame the same head turn looks left: forward +z → -x; up is kept; still a rotation.
    np.testing.assert_allclose(r @ [0, 0, 1], [-1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(r @ [0, 1, 0], [0, 1, 0], atol=1e-12)
    assert math.isclose(np.linalg.det(r), 1.0)
    # Pitching up in OpenXR (+x rotation raises -z towards +y) pitches up in ours too.
    a = D(30)
    r = xr_orientation_to_rotation(math.sin(a / 2), 0, 0, math.cos(a / 2))
    np.testing.assert_allclose(r @ [0, 0, 1], yaw_pitch_to_dir(0, a), atol=1e-12)


def test_fov_symmetric_and_pixel_rays():
    fov = Fov.symmetric(90, 200, 100)
    tl, tr, tu, td = fov.tangents()
    assert math.isclose(tr, 1.0) and math.isclose(tl, -1.0) and math.isclose(tu, 0.5) and math.isclose(td, -0.5)
    rays = pixel_rays(np.eye(3), fov, 200, 100)
    # pixel centre (0.5, 0.5) from the top-left corner, 0.01 of tangent per pixel: (-1 + 0.005, 0.5 - 0.005)
    v = np.array([-0.995, 0.495, 1.0])
    np.testing.assert_allclose(rays[0, 0], v / np.linalg.norm(v), atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(rays, axis=-1), 1.0)


def test_asymmetric_fov_rays_and_screen_to_dir():
    fov = Fov(left=D(-50), right=D(40), up=D(45), down=D(-55))
    rot = rotation_yaw_pitch_roll(D(20), D(-10))
    rays = pixel_rays(rot, fov, 90, 100)
    # the middle of the left edge: 50° left of the axis, halfway between 45° up and 55° down
    v = np.array([-math.tan(D(50)), (math.tan(D(45)) - math.tan(D(55))) / 2, 1.0])
    np.testing.assert_allclose(rot.T @ screen_to_dir(rot, fov, 0, 50, 90, 100), v / np.linalg.norm(v), atol=1e-12)
    np.testing.assert_allclose(screen_to_dir(rot, fov, 10.5, 20.5, 90, 100), rays[20, 10], atol=1e-12)


def test_uv_gradients_match_finite_differences_and_stay_finite_at_poles():
    rot = rotation_yaw_pitch_roll(D(170), D(35))
    fov = Fov.symmetric(100, 64, 48)
    ray, ddx, ddy = pixel_ray_gradients(rot, fov, 64, 48)
    uv = dir_to_equirect_uv(ray)
    g = equirect_uv_gradients(ray, np.broadcast_to(ddx, ray.shape))
    fd = dir_to_equirect_uv(ray + ddx * 1e-4) - uv
    fd[..., 0] = (fd[..., 0] + 0.5) % 1.0 - 0.5  # across the wrap a step is tiny, not ±1
    pitch = dir_to_yaw_pitch(ray)[1]
    np.testing.assert_allclose(g[..., 0], fd[..., 0] / 1e-4 * np.cos(pitch), rtol=1e-3, atol=1e-9)
    np.testing.assert_allclose(g[..., 1], fd[..., 1] / 1e-4, rtol=1e-3, atol=1e-9)
    # looking straight up: the pole is inside the view, gradients stay finite
    ray, ddx, ddy = pixel_ray_gradients(rotation_yaw_pitch_roll(0, D(90)), Fov.symmetric(90, 9, 9), 9, 9)
    assert np.isfinite(equirect_uv_gradients(ray, np.broadcast_to(ddx, ray.shape))).all()


# ---------------------------------------------------------------- sRGB


def test_srgb_round_trip_and_known_values():
    assert math.isclose(float(srgb_to_linear(0.5)), 0.21404114, rel_tol=1e-6)
    assert math.isclose(float(linear_to_srgb(0.5)), 0.73535698, rel_tol=1e-6)
    x = np.linspace(0, 1, 101)
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-12)
    assert srgb8_to_linear(np.uint8(255)) == 1.0


def test_mip_pyramid_averages_in_linear_light():
    img = np.zeros((2, 4, 3), np.uint8)
    img[:, ::2] = 255  # black/white columns
    pyr = srgb_mip_pyramid(img)
    assert [p.shape[:2] for p in pyr] == [(2, 4), (1, 2), (1, 1)]
    assert mip_chain_sizes(4, 2) == [(4, 2), (2, 1), (1, 1)]
    # 50 % linear grey is sRGB 188, not 128 (the naive byte average)
    assert (pyr[1] == 188).all() and (pyr[2] == 188).all()


# ---------------------------------------------------------------- gaze


def test_cone_weight_inner_outer_and_midpoint():
    gaze = yaw_pitch_to_dir(0, 0)
    dirs = yaw_pitch_to_dir(np.radians([0, 8, 16, 24, 90]), 0)
    w = cone_weight(dirs, gaze, 8, 24)
    np.testing.assert_allclose(w, [1, 1, 0.5, 0, 0], atol=1e-9)
    assert (cone_weight(dirs, None, 8, 24) == 0).all()


def test_approach_time_constants_and_frame_rate_independence():
    a = approach(np.zeros(1), np.ones(1), 0.6, rise_s=0.6, fall_s=2.0)
    np.testing.assert_allclose(a, 1 - math.exp(-1))
    b = approach(np.ones(1), np.zeros(1), 2.0, rise_s=0.6, fall_s=2.0)
    np.testing.assert_allclose(b, math.exp(-1))
    many = np.zeros(1)
    for _ in range(90):
        many = approach(many, np.ones(1), 1 / 90, 0.6, 2.0)
    np.testing.assert_allclose(many, approach(np.zeros(1), np.ones(1), 1.0, 0.6, 2.0), rtol=1e-12)


def test_dwell_over_a_scripted_gaze_path():
    """Stare at A for 3 s, then at B for 1 s, at 90 Hz: A blooms then fades with its own time constant."""
    s = GazeSettings(inner_deg=10, outer_deg=20, bloom_s=0.5, fade_s=2.0, map_width=64)
    dirs = dwell_directions(s)
    a, b = yaw_pitch_to_dir(D(-90), 0), yaw_pitch_to_dir(D(90), 0)
    ia = np.unravel_index(np.argmax(dirs @ a), dirs.shape[:2])
    ib = np.unravel_index(np.argmax(dirs @ b), dirs.shape[:2])
    dwell = np.zeros(dirs.shape[:2], np.float32)
    for _ in range(270):
        dwell = dwell_step(dwell, dirs, a, 1 / 90, s)
    assert math.isclose(dwell[ia], 1 - math.exp(-3 / 0.5), rel_tol=1e-4)
    assert dwell[ib] == 0
    assert dwell.max() <= 1 and dwell.min() >= 0
    peak = dwell[ia]
    for _ in range(90):
        dwell = dwell_step(dwell, dirs, b, 1 / 90, s)
    assert math.isclose(dwell[ia], peak * math.exp(-1 / 2.0), rel_tol=1e-4)  # fades slowly: a trail
    assert math.isclose(dwell[ib], 1 - math.exp(-1 / 0.5), rel_tol=1e-4)  # blooms fast
    # looking away for good, everything fades towards raw
    for _ in range(20):
        dwell = dwell_step(dwell, dirs, None, 1.0, s)
    assert dwell.max() < 1e-4
    # wider cone covers more of the sphere
    assert steady_dwell(a, s, cone_scale=2.0).sum() > 3 * steady_dwell(a, s).sum()


def test_mix_targets_and_dream_amount():
    assert mix_target("dream-where-you-look", "gaze") == (0.0, 1.0)
    assert mix_target("raw-where-you-look", "gaze") == (1.0, 0.0)
    assert mix_target("raw-where-you-look", "dream") == (1.0, 1.0)
    assert mix_target("dream-where-you-look", "raw") == (0.0, 0.0)
    assert mix_target("dream-where-you-look", "gaze", fade=0.3) == (0.3, 0.3)
    assert mix_target("dream-where-you-look", "raw", has_raw=False) == (1.0, 1.0)
    np.testing.assert_allclose(dream_amount(np.array([0, 0.25, 1]), 1.0, 0.0), [1, 0.75, 0])


# ---------------------------------------------------------------- controls


def test_commands():
    s = ViewerState()
    assert apply_command(s, "mode").mode == "raw-where-you-look"
    assert apply_command(apply_command(s, "mode"), "mode").mode == "dream-where-you-look"
    once = apply_command(s, "toggle")
    assert [once.show, apply_command(once, "toggle").show] == ["dream", "raw"]
    assert math.isclose(apply_command(s, "wider").cone_scale, CONE_STEP)
    assert math.isclose(apply_command(s, "narrower").cone_scale, 1 / CONE_STEP)
    for _ in range(40):
        s = apply_command(s, "wider")
    assert s.cone_scale == CONE_SCALE_RANGE[1]
    r = apply_command(ViewerState(), "recenter", head_yaw=D(100), front_yaw=D(30))
    # now world yaw 100° shows panorama yaw 30°
    assert math.isclose(D(100) + r.yaw_offset, D(30))
    with pytest.raises(ValueError):
        apply_command(ViewerState(), "jump")


# ---------------------------------------------------------------- loading


def _record(raw: Path, relative_to: Path) -> dict[str, str]:
    """What vrdream records about ``raw`` in a dream written into the folder ``relative_to``."""
    return {
        "Raw": os.path.relpath(raw, relative_to),
        "RawName": raw.name,
        "RawSHA256": hashlib.sha256(raw.read_bytes()).hexdigest(),
    }


def test_find_raw_after_the_folder_moved(tmp_path):
    """The recorded path first; else a file with the recorded name and hash beside the dream."""
    made, moved = tmp_path / "made", tmp_path / "moved"
    for folder in (made / "raws", made / "out", moved):
        folder.mkdir(parents=True)
    raw = made / "raws" / "pano.jpg"
    raw.write_bytes(b"the raw's bytes" * 1000)
    fields = _record(raw, made / "out")  # the dream was written to made/out/dream.jpg
    assert find_raw(made / "out" / "dream.jpg", fields).resolve() == raw  # the recorded path, hash checked
    # dream and raw copied to another folder side by side: the recorded ../raws path is gone there
    (moved / "pano.jpg").write_bytes(raw.read_bytes())
    assert find_raw(moved / "dream.jpg", fields) == moved / "pano.jpg"
    # a file there by that name with other bytes is another picture: not taken, one line saying --raw
    (moved / "pano.jpg").write_bytes(b"another picture")
    with pytest.raises(InputError) as exc:
        find_raw(moved / "dream.jpg", fields)
    msg = str(exc.value)
    assert "--raw" in msg and "pano.jpg" in msg and "\n" not in msg
    # the recorded path now holds other bytes, but the right file is beside the dream
    (moved / "raws").mkdir()
    (moved / "raws" / "pano.jpg").write_bytes(b"edited since")
    (moved / "pano.jpg").write_bytes(raw.read_bytes())
    assert find_raw(moved / "dream.jpg", {**fields, "Raw": "raws/pano.jpg"}) == moved / "pano.jpg"


def test_find_raw_for_old_dreams_recording_only_a_path(tmp_path):
    (tmp_path / "r.jpg").write_bytes(b"x")
    assert find_raw(tmp_path / "d.jpg", {"Raw": "r.jpg"}) == tmp_path / "r.jpg"
    with pytest.raises(InputError, match="--raw"):
        find_raw(tmp_path / "d.jpg", {"Raw": "gone.jpg"})
    # no hash recorded: a same-named file elsewhere proves nothing, only the path counts
    with pytest.raises(InputError, match="--raw"):
        find_raw(tmp_path / "d.jpg", {"Raw": "sub/r.jpg", "RawName": "r.jpg"})


def test_file_sha256_streams_large_files(tmp_path, monkeypatch):
    import vrdream.provenance as provenance

    data = np.random.default_rng(5).bytes(3 * 4096 + 17)
    (tmp_path / "big.bin").write_bytes(data)
    monkeypatch.setattr(provenance, "_CHUNK", 4096)  # several chunks, the last one short
    assert provenance.file_sha256(tmp_path / "big.bin") == hashlib.sha256(data).hexdigest()


def test_recorded_raw_and_start_direction(tmp_path):
    (tmp_path / "raw").mkdir()
    for name in ("raw/r.jpg", "elsewhere.jpg"):
        (tmp_path / name).write_bytes(b"pixels")
    assert find_raw(tmp_path / "d.jpg", {"Raw": "raw/r.jpg"}) == tmp_path / "raw" / "r.jpg"
    assert find_raw(tmp_path / "d.jpg", {"Raw": str(tmp_path / "elsewhere.jpg")}) == tmp_path / "elsewhere.jpg"
    assert find_raw(tmp_path / "d.jpg", {}) is None

    class G:
        pose_heading, initial_heading, initial_pitch = 350.0, 20.0, -5.0

    y, p = start_direction(G())
    assert math.isclose(y, D(30)) and math.isclose(p, D(-5))
    assert start_direction(object()) == (0.0, 0.0)


# ---------------------------------------------------------------- OpenXR adapter logic (pyopenxr structs)


def test_xr_pose_and_fov_conversion():
    s = math.sqrt(0.5)
    pose = xr.Posef(orientation=xr.Quaternionf(0, s, 0, s), position=xr.Vector3f(1, 2, 3))
    r = rotation_from_xr(pose)
    np.testing.assert_allclose(r[:, 2], [-1, 0, 0], atol=1e-7)  # head turned left
    np.testing.assert_allclose(gaze_from_xr(pose), [-1, 0, 0], atol=1e-7)
    assert math.isclose(head_yaw(r), -math.pi / 2, abs_tol=1e-7)
    f = fov_from_xr(xr.Fovf(angle_left=-0.9, angle_right=0.7, angle_up=0.8, angle_down=-0.95))
    assert (f.left, f.right, f.up, f.down) == pytest.approx((-0.9, 0.7, 0.8, -0.95))
    # identity pose looks at panorama yaw 0
    np.testing.assert_allclose(rotation_from_xr(xr.Posef()), np.eye(3), atol=1e-12)


def test_xr_session_state_handling():
    S = xr.SessionState
    assert session_action(S.READY, running=False) == SessionAction.BEGIN
    assert session_action(S.READY, running=True) == SessionAction.NONE
    assert session_action(S.STOPPING, running=True) == SessionAction.END
    assert session_action(S.EXITING, running=False) == SessionAction.EXIT
    assert session_action(S.LOSS_PENDING, running=True) == SessionAction.EXIT
    assert session_action(S.FOCUSED, running=True) == SessionAction.NONE
    assert should_submit_frames(S.VISIBLE, True) and not should_submit_frames(S.IDLE, True)
    assert not should_submit_frames(S.FOCUSED, False)


def test_xr_swapchain_format_choice():
    assert choose_swapchain_format([GL_RGBA8, GL_RGBA16F, GL_SRGB8_ALPHA8]) == GL_SRGB8_ALPHA8
    assert choose_swapchain_format([GL_RGBA8, GL_RGBA16F]) == GL_RGBA16F
    assert choose_swapchain_format([0x1234, GL_RGBA8]) == GL_RGBA8
    with pytest.raises(VrdreamError, match="no colour swapchain format"):
        choose_swapchain_format([0x1234])


def test_xr_eye_gaze_and_button_presses():
    assert eye_gaze_supported(["XR_KHR_opengl_enable", "XR_EXT_eye_gaze_interaction"], True)
    assert not eye_gaze_supported(["XR_EXT_eye_gaze_interaction"], False)
    assert not eye_gaze_supported(["XR_KHR_opengl_enable"], True)
    assert pressed(xr.ActionStateBoolean(current_state=1, changed_since_last_sync=1, is_active=1))
    assert not pressed(xr.ActionStateBoolean(current_state=1, changed_since_last_sync=0, is_active=1))
    assert not pressed(xr.ActionStateBoolean(current_state=0, changed_since_last_sync=1, is_active=1))


# ---------------------------------------------------------------- texture tiling plan


def test_tile_layout_for_wide_panoramas():
    from vrdream.viewer.renderer import MAX_TILES, TileLayout

    assert TileLayout.plan(16384, 8192, 16384).starts == (0,)  # fits: one wrapping texture
    t = TileLayout.plan(16384, 8192, 8192)  # halves do not fit with margins
    assert t.starts == (0, 7680, 15360) and t.margin == 256 and t.tile_width == 8192
    img = np.arange(10)[None, :, None].repeat(2, 0)
    t = TileLayout(10, (0, 4, 8), 2, 8)
    np.testing.assert_array_equal(t.tile(img, 0)[0, :, 0], [8, 9, 0, 1, 2, 3, 4, 5])  # margins wrap
    np.testing.assert_array_equal(t.tile(img, 2)[0, :, 0], [6, 7, 8, 9, 0, 1, 2, 3])
    with pytest.raises(VrdreamError, match="tiles"):
        TileLayout.plan(8192 * MAX_TILES, 4096, 8192)
    with pytest.raises(VrdreamError, match="height"):
        TileLayout.plan(4096, 4096, 2048)


@pytest.mark.parametrize(
    "platform, display, extensions, expected",
    [
        ("win32", False, [xr.KHR_OPENGL_ENABLE_EXTENSION_NAME], "wgl"),
        ("linux", True, [xr.KHR_OPENGL_ENABLE_EXTENSION_NAME], "glx"),
        ("linux", True, [xr.KHR_OPENGL_ENABLE_EXTENSION_NAME, xr.MNDX_EGL_ENABLE_EXTENSION_NAME], "glx"),
        ("linux", False, [xr.KHR_OPENGL_ENABLE_EXTENSION_NAME, xr.MNDX_EGL_ENABLE_EXTENSION_NAME], "egl"),
        ("linux", False, [xr.KHR_OPENGL_ENABLE_EXTENSION_NAME], "no X display"),
        ("win32", False, [], "lacks XR_KHR_opengl_enable"),
        ("darwin", True, [xr.KHR_OPENGL_ENABLE_EXTENSION_NAME], "not supported on macOS"),
        ("freebsd14", True, [xr.KHR_OPENGL_ENABLE_EXTENSION_NAME], "not supported on freebsd14"),
    ],
)
def test_xr_graphics_binding_per_platform(platform, display, extensions, expected):
    """WGL on Windows; GLX with an X display on Linux, else EGL (XR_MNDX_egl_enable); a one-line no on macOS."""
    if expected in ("wgl", "glx", "egl"):
        binding = choose_graphics_binding(platform, display, extensions)
        assert binding == expected
        assert set(BINDING_EXTENSIONS[binding]) <= set(extensions)  # what the instance is created with is offered
        return
    with pytest.raises(VrdreamError) as exc:
        choose_graphics_binding(platform, display, extensions)
    assert expected in str(exc.value) and "\n" not in str(exc.value)
    if platform == "darwin":
        with pytest.raises(VrdreamError, match="--desktop"):
            check_xr_platform(platform)  # said before the loader is even imported


def test_srgb8_encode_table_is_the_quantisation_rule():
    from vrdream.quantize import to_uint8
    from vrdream.viewer.srgb import _ENCODE_THRESHOLDS, encode_srgb8

    x = np.random.default_rng(1).random(100_000) * 1.2 - 0.1
    # Right at each threshold, and the float just below it.
    x = np.concatenate([x, _ENCODE_THRESHOLDS, np.nextafter(_ENCODE_THRESHOLDS, -1.0), [0.0, 1.0]])
    np.testing.assert_array_equal(encode_srgb8(x), to_uint8(linear_to_srgb(x)[None, :])[0])
