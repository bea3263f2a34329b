"""The GL viewer, headless: renders against the numpy reference, previews, the CLI, the window, OpenXR.

Images are tiny (256×128 panoramas, ≤ 200×150 views) so the whole file runs in seconds on
Mesa llvmpipe. The "dream" is the colour negative of samples/mars.jpg:
visibly different everywhere, which is what a crossfade test needs.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vrdream.viewer.gaze import (
    GazeSettings,
    dwell_directions,
    dwell_step,
    mix_target,
    steady_dwell,
)
from vrdream.viewer.geometry import (
    Fov,
    rotation_yaw_pitch_roll,
    xr_orientation_to_rotation,
    yaw_pitch_to_dir,
)
from vrdream.viewer.preview import render_offscreen, render_preview
from vrdream.viewer.reference import render_reference
from vrdream.viewer.srgb import linear_to_srgb, srgb8_to_linear, srgb_mip_pyramid

REPO = Path(__file__).resolve().parents[1]
MARS = REPO / "vrdream" / "samples" / "mars.jpg"
D = math.radians
SETTINGS = GazeSettings(map_width=128)


def make_dream(raw: np.ndarray) -> np.ndarray:
    """A stand-in dream until real ones exist: the negative (the orange Mars sky turns blue)."""
    return np.ascontiguousarray(255 - raw)


@pytest.fixture(scope="module")
def ctx():
    from vrdream.errors import VrdreamError
    from vrdream.viewer.renderer import headless_context

    try:
        c = headless_context()
    except VrdreamError as exc:
        pytest.skip(f"no EGL OpenGL context here: {exc}")
    yield c
    c.release()


@pytest.fixture(scope="module")
def mars() -> np.ndarray:
    if not MARS.exists():
        pytest.skip(f"{MARS} is missing")
    return np.asarray(Image.open(MARS).convert("RGB").resize((256, 128), Image.LANCZOS))


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    """Per-pixel noise: every mip level differs from its neighbours, so LOD errors and seams show."""
    return (np.random.default_rng(7).random((128, 256, 3)) * 255).astype(np.uint8)


def gl_and_reference(ctx, dream, raw, dwell, rotation, fov, size, base, focus, **kw):
    from vrdream.viewer.renderer import SphereRenderer

    r = SphereRenderer(ctx, dream, raw, dwell.shape, **kw)
    try:
        r.set_dwell(dwell)
        gl = render_offscreen(r, rotation, fov, *size, base, focus)
    finally:
        r.release()
    ref = render_reference(
        srgb_mip_pyramid(dream),
        None if raw is None else srgb_mip_pyramid(raw),
        dwell,
        rotation,
        fov,
        *size,
        base,
        focus,
    )
    return gl, ref


def test_gl_mipmaps_are_srgb_correct(ctx, noise):
    from vrdream.viewer.renderer import SphereRenderer

    r = SphereRenderer(ctx, noise, None)
    pyr = srgb_mip_pyramid(noise)
    for level in (1, 3, 5):
        h, w = pyr[level].shape[:2]
        gl = np.frombuffer(r.dream[0].read(level=level), np.uint8).reshape(h, w, 3)
        assert np.abs(gl.astype(int) - pyr[level]).max() <= 1, level
    # uniform byte noise averages, in linear light, to sRGB ≈ 151, not the naive byte mean 127.5
    expected = 255 * float(linear_to_srgb(srgb8_to_linear(np.arange(256)).mean()))
    assert abs(expected - 151) < 1 and abs(float(gl.mean()) - expected) < 3
    r.release()


VIEWS = {
    # name: (rotation, fov, size)
    "front": (rotation_yaw_pitch_roll(0, 0), Fov.symmetric(90, 160, 120), (160, 120)),
    "across-wrap": (rotation_yaw_pitch_roll(D(180), D(5)), Fov.symmetric(90, 160, 120), (160, 120)),
    "pole": (rotation_yaw_pitch_roll(D(30), D(80)), Fov.symmetric(100, 120, 120), (120, 120)),
    "minified-wide": (rotation_yaw_pitch_roll(D(-170), D(-20)), Fov.symmetric(150, 64, 48), (64, 48)),
    "xr-asymmetric-eye": (
        xr_orientation_to_rotation(0.1, 0.95, 0.05, 0.28),
        Fov(left=D(-52), right=D(43), up=D(48), down=D(-55)),
        (100, 110),
    ),
}


@pytest.mark.parametrize("name", list(VIEWS))
@pytest.mark.parametrize("texture", ["mars", "noise"])
def test_gl_matches_reference(ctx, mars, noise, name, texture):
    rotation, fov, size = VIEWS[name]
    raw = mars if texture == "mars" else noise
    gaze = rotation[:, 2]
    dwell = steady_dwell(gaze, SETTINGS)
    gl, ref = gl_and_reference(ctx, make_dream(raw), raw, dwell, rotation, fov, size, 0.0, 1.0)
    diff = np.abs(gl.astype(int) - ref)
    assert diff.mean() <= 1.0, f"{name}: mean difference {diff.mean():.3f}/255"
    # no seam: no column of the view strays from the reference (a wrong mip at the wrap would)
    assert diff.mean(axis=(0, 2)).max() <= 2.5, f"{name}: worst column {diff.mean(axis=(0, 2)).max():.2f}/255"


@pytest.mark.parametrize(
    "mode_show_fade",
    [
        ("raw-where-you-look", "gaze", None),
        ("dream-where-you-look", "gaze", 0.5),
        ("dream-where-you-look", "raw", None),
    ],
)
def test_gl_matches_reference_in_every_mix(ctx, mars, mode_show_fade):
    mode, show, fade = mode_show_fade
    rotation, fov, size = VIEWS["across-wrap"]
    dwell = steady_dwell(yaw_pitch_to_dir(D(170), D(10)), SETTINGS)
    base, focus = mix_target(mode, show, True, fade)
    gl, ref = gl_and_reference(ctx, make_dream(mars), mars, dwell, rotation, fov, size, base, focus)
    assert np.abs(gl.astype(int) - ref).mean() <= 1.0


def test_dream_alone_without_raw(ctx, mars):
    rotation, fov, size = VIEWS["front"]
    dream = make_dream(mars)
    gl, ref = gl_and_reference(ctx, dream, None, steady_dwell(None, SETTINGS), rotation, fov, size, 0.0, 1.0)
    assert np.abs(gl.astype(int) - ref).mean() <= 1.0
    # the weight is irrelevant: it is the dream everywhere even with no gaze
    only = render_preview(dream, None, yaw_deg=0, pitch_deg=0, hfov_deg=90, gaze_deg=(90, 0), size=size)
    assert np.abs(only.astype(int) - gl).mean() <= 0.5


def test_tiled_upload_matches_one_texture(ctx, noise):
    """A panorama wider than GL_MAX_TEXTURE_SIZE is split in column tiles; the render must not change."""
    from vrdream.viewer.renderer import SphereRenderer, TileLayout

    layout = TileLayout.plan(256, 128, 128)
    assert layout.starts == (0, 96, 192) and layout.margin == 16 and layout.tile_width == 128
    dwell = steady_dwell(yaw_pitch_to_dir(D(180), 0), SETTINGS)
    for rotation, fov, size in (VIEWS["across-wrap"], VIEWS["minified-wide"], VIEWS["pole"]):
        out = []
        for limit in (None, 128):
            r = SphereRenderer(ctx, make_dream(noise), noise, dwell.shape, max_texture_size=limit)
            r.set_dwell(dwell)
            out.append(render_offscreen(r, rotation, fov, *size, 0.0, 1.0).astype(int))
            r.release()
        assert np.abs(out[0] - out[1]).mean() <= 0.1


def test_scripted_gaze_path_renders_the_dynamics(ctx, mars):
    """Scripted source: stare left for 2 s, then right for 0.5 s; the frame shows both, as the reference does."""
    dirs = dwell_directions(SETTINGS)
    left, right = yaw_pitch_to_dir(D(-40), 0), yaw_pitch_to_dir(D(40), 0)
    dwell = np.zeros(dirs.shape[:2], np.float32)
    for t in np.arange(0, 2.5, 1 / 60):
        dwell = dwell_step(dwell, dirs, left if t < 2.0 else right, 1 / 60, SETTINGS)
    rotation, fov, size = rotation_yaw_pitch_roll(0, 0), Fov.symmetric(120, 200, 100), (200, 100)
    raw, dream = mars, make_dream(mars)
    gl, ref = gl_and_reference(ctx, dream, raw, dwell, rotation, fov, size, 0.0, 1.0)
    assert np.abs(gl.astype(int) - ref).mean() <= 1.0
    only_raw = render_preview(raw, None, hfov_deg=120, size=size).astype(int)
    only_dream = render_preview(dream, None, hfov_deg=120, size=size).astype(int)

    def dream_fraction(x: int) -> float:  # at column x of the middle rows: 0 = raw, 1 = dream
        sl = np.s_[45:55, x - 3 : x + 3]
        return float(np.abs(gl[sl] - only_raw[sl]).mean() / np.abs(only_dream[sl] - only_raw[sl]).mean())

    x_left, x_right = (round((math.tan(D(a)) / math.tan(D(60)) + 1) / 2 * 200) for a in (-40, 40))
    # left: bloomed for 2 s (1 - e^-2/0.6 ≈ 0.96), then fading for 0.5 s (× e^-0.5/2 ≈ 0.78) ≈ 0.75
    # right: blooming for 0.5 s ≈ 0.57; the middle was never looked at. Linear-light mixing keeps
    # these only roughly proportional in sRGB bytes, hence the loose bounds.
    assert 0.6 < dream_fraction(x_left) < 0.95
    assert 0.35 < dream_fraction(x_right) < 0.8
    assert dream_fraction(x_right) < dream_fraction(x_left)
    assert dream_fraction(100) < 0.05


# ---------------------------------------------------------------- files and the CLI


@pytest.fixture(scope="module")
def dream_files(tmp_path_factory, mars):
    """raw.jpg and dream.jpg (recording raw.jpg in vrdream:Raw) written by vrdream's own writer."""
    from vrdream.photosphere import read_photosphere, write_photosphere

    d = tmp_path_factory.mktemp("view")
    like = read_photosphere(MARS)
    raw = mars.astype(np.float32) / 255
    write_photosphere(d / "raw.jpg", raw, like, quality=95)
    write_photosphere(
        d / "dream.jpg",
        make_dream(mars).astype(np.float32) / 255,
        like,
        quality=95,
        vrdream={"Raw": "raw.jpg", "Kind": "dream"},
    )
    write_photosphere(d / "lonely.jpg", make_dream(mars).astype(np.float32) / 255, like, quality=95)
    return d


def test_screenshot_cli_finds_the_recorded_raw(dream_files, capsys):
    from vrdream.cli import main

    out = dream_files / "shot.png"
    args = [
        "view",
        str(dream_files / "dream.jpg"),
        "--screenshot",
        str(out),
        "--yaw",
        "180",
        "--pitch",
        "0",
        "--view-fov",
        "90",
        "--gaze=170,5",
        "--size",
        "160x120",
    ]
    assert main(args) == 0
    shot = np.asarray(Image.open(out))
    assert shot.shape == (120, 160, 3)
    expected = render_preview(
        dream_files / "dream.jpg",
        dream_files / "raw.jpg",
        yaw_deg=180,
        pitch_deg=0,
        hfov_deg=90,
        gaze_deg=(170, 5),
        size=(160, 120),
    )
    assert np.array_equal(shot, expected)
    # it is a crossfade: the gaze spot differs from the surroundings' image
    raw_only = render_preview(
        dream_files / "dream.jpg", dream_files / "raw.jpg", yaw_deg=180, hfov_deg=90, size=(160, 120), fade=0.0
    )
    gaze_px = (60 - round(math.tan(D(5)) * 80), 80 - round(math.tan(D(10)) * 80))
    assert np.abs(shot[gaze_px].astype(int) - raw_only[gaze_px]).sum() > 60
    assert np.abs(shot[110, 5].astype(int) - raw_only[110, 5]).sum() <= 3
    # an existing output is refused without --overwrite, with the one-line error
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(args + ["--overwrite"]) == 0


def test_screenshot_starts_at_the_gpano_initial_view(dream_files):
    """Without --yaw/--pitch a still looks where the photosphere's GPano initial view says."""
    from dataclasses import replace

    from vrdream.cli import main
    from vrdream.photosphere import read_photosphere, write_photosphere

    like = read_photosphere(dream_files / "dream.jpg")
    like.gpano = replace(like.gpano, pose_heading=350.0, initial_heading=40.0, initial_pitch=-20.0)
    write_photosphere(dream_files / "posed.jpg", like.pixels, like, quality=95)
    out = dream_files / "posed.png"
    assert main(["view", str(dream_files / "posed.jpg"), "--screenshot", str(out), "--size", "96x64", "-q"]) == 0
    expected = render_preview(dream_files / "posed.jpg", yaw_deg=50, pitch_deg=-20, size=(96, 64))
    assert np.array_equal(np.asarray(Image.open(out)), expected)
    front = render_preview(dream_files / "posed.jpg", yaw_deg=0, pitch_deg=0, size=(96, 64))
    assert np.abs(front.astype(int) - expected).mean() > 5


def test_screenshot_of_a_dream_with_no_raw_says_so(dream_files, capsys):
    from vrdream.cli import main

    out = dream_files / "lonely.png"
    assert main(["view", str(dream_files / "lonely.jpg"), "--screenshot", str(out), "--size", "64x48"]) == 0
    assert "showing the dream alone" in capsys.readouterr().out
    assert out.exists()


def test_missing_inputs_are_one_line_errors(dream_files, capsys):
    from vrdream.cli import main

    assert main(["view", str(dream_files / "nope.jpg"), "--desktop"]) == 2
    assert main(["view", str(dream_files / "dream.jpg"), "--raw", str(dream_files / "nope.jpg"), "--desktop"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("nope.jpg: no such file" in line for line in err)


def _no_runtime_env(tmp_path: Path) -> dict[str, str]:
    """An environment in which the OpenXR loader finds no runtime: no XR_RUNTIME_JSON, empty config dirs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XR_")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_CONFIG_DIRS=str(tmp_path / "etc"))
    return env


def test_no_runtime_message_and_exit_code(dream_files, tmp_path):
    env = _no_runtime_env(tmp_path)
    # the real pyopenxr loader raises RuntimeUnavailableError here ...
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import xr\ntry:\n xr.create_instance(xr.InstanceCreateInfo())\n"
            "except xr.RuntimeUnavailableError:\n print('unavailable')",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.stdout.strip() == "unavailable"
    # ... and `vrdream view` turns it into one line suggesting --desktop, exit 2
    vrdream = shutil.which("vrdream", path=str(Path(sys.executable).parent)) or "vrdream"
    run = subprocess.run(
        [vrdream, "view", str(dream_files / "dream.jpg")], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "no OpenXR runtime" in lines[0] and "--desktop" in lines[0], run.stderr


_DESKTOP_SCRIPT = """
import json, math, sys
import numpy as np
from PIL import Image
from vrdream.viewer.desktop import DesktopViewer
from vrdream.viewer.geometry import dir_to_yaw_pitch
from vrdream.viewer.panorama import load_panoramas
from vrdream.viewer.preview import render_preview
pano = load_panoramas(sys.argv[1])
v = DesktopViewer(pano, size=(200, 150))
v.on_cursor(100, 75); v.on_button(True, True); v.on_cursor(60, 75); v.on_button(True, False)  # drag: look right
v.on_cursor(150, 40)                       # then rest the gaze up-right ...
v.frame(30.0)                              # ... long enough to bloom fully
win = v.read_window()
rot, fov, w, h = v.view()
gy, gp = np.degrees(dir_to_yaw_pitch(v.gaze()))
yaw = math.degrees(v.yaw)
ref = render_preview(pano, yaw_deg=yaw, pitch_deg=math.degrees(v.pitch), hfov_deg=90, gaze_deg=(gy, gp), size=(w, h))
Image.fromarray(np.concatenate([win, ref], 1)).save(sys.argv[2])
v.on_command("space")                      # toggle: the whole sphere crossfades to the dream
v.frame(30.0)
dream = render_preview(pano, yaw_deg=yaw, pitch_deg=math.degrees(v.pitch), hfov_deg=90, size=(w, h), fade=1.0)
toggled = float(np.abs(v.read_window().astype(int) - dream).mean())
v.close()
print(json.dumps({"yaw": yaw, "mean": float(np.abs(win.astype(int) - ref).mean()), "size": [w, h],
                  "spread": float(win.std()), "toggled": toggled, "show": v.state.show}))
"""


def test_desktop_window_under_xvfb(dream_files):
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        pytest.skip("xvfb-run is not installed (apt-get install xvfb xauth): cannot test the desktop window")
    out = dream_files / "desktop.png"
    run = subprocess.run(
        [xvfb, "-a", sys.executable, "-c", _DESKTOP_SCRIPT, str(dream_files / "dream.jpg"), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert run.returncode == 0, run.stderr
    res = json.loads(run.stdout.strip().splitlines()[-1])
    assert res["size"] == [200, 150]
    assert math.isclose(res["yaw"], 40 * 90 / 200)  # dragged 40 px of a 200 px, 90° window
    assert res["spread"] > 10  # a picture, not a blank window
    assert res["mean"] <= 0.5  # the window shows what the offscreen render does
    assert res["show"] == "dream" and res["toggled"] <= 0.5  # Space: all dream


def test_openxr_session_against_reference():
    """A full session on a real runtime: submit frames, read a swapchain image back, compare."""
    if not os.environ.get("XR_RUNTIME_JSON"):
        pytest.skip("XR_RUNTIME_JSON is not set: no OpenXR runtime to run a session on")
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        pytest.skip("the OpenXR GL binding needs a display (run under xvfb-run)")
    from vrdream.viewer.panorama import Panoramas
    from vrdream.viewer.xr import XrCapture, run_xr

    raw = (np.random.default_rng(3).random((128, 256, 3)) * 255).astype(np.uint8)
    dream = make_dream(raw)
    cap = XrCapture()
    run_xr(Panoramas(dream, raw), SETTINGS, quiet=True, max_frames=60, capture=cap)
    assert len(cap.images) == 2, "no frame was rendered (the session never became visible)"
    for image, rotation, fov in zip(cap.images, cap.rotations, cap.fovs):
        h, w = image.shape[:2]
        if not cap.srgb:  # a linear swapchain format holds linear light: encode like the reference
            image = np.round(linear_to_srgb(image / 255.0) * 255).astype(np.uint8)
        ref = render_reference(srgb_mip_pyramid(dream), srgb_mip_pyramid(raw), cap.dwell, rotation, fov, w, h, *cap.mix)
        assert np.abs(image.astype(int) - ref).mean() <= 1.0
