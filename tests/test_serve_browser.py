"""The page of ``vrdream serve`` in a real browser: Debian's Chromium, headless, WebGL on SwiftShader.

Every frame the page draws is compared with the numpy reference renderer (viewer/reference.py)
for the same panoramas, dwell map, rotation and frustum, which the page reports through its
test-only hook (``window.__vrdreamTest``). The headset is Meta's WebXR emulator (npm ``iwer``,
bundled by ``make web`` into viewer/web/test-build/, never shipped) injected before the page's
own script. Panoramas are tiny except the one test of a 16384×8192 dream, which is slow; the video
pair is 256×128 and one second long.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from webpage import (
    IWER,
    chromium,
    enter_vr,
    eyes,
    from_base64,
    image_scene,
    missing,
    open_page,
    served,
    to_base64,
    xr_quaternion,
)

from vrdream.quantize import to_uint8
from vrdream.viewer.controls import ViewerState, apply_command, viewer_settings
from vrdream.viewer.gaze import GazeSettings, approach, dwell_directions, dwell_step, mix_target, steady_dwell
from vrdream.viewer.geometry import (
    Fov,
    dir_to_equirect_uv,
    equirect_uv_gradients,
    pixel_ray_gradients,
    rotation_yaw_pitch_roll,
    yaw_pitch_to_dir,
)
from vrdream.viewer.reference import render_reference, sample_trilinear
from vrdream.viewer.srgb import linear_to_srgb, srgb8_to_linear, srgb_mip_level, srgb_mip_pyramid

D = math.radians
#: Mean |page - reference| allowed, in 8-bit levels.
TOLERANCE = 2.0
VIEW = (160, 120)  # desktop canvas, CSS pixels at device pixel ratio 1
HEADSET = (256, 128)  # the emulated headset's window: two 128×128 eyes side by side

pytestmark = pytest.mark.skipif(missing() is not None, reason=str(missing()))


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def mean_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


# ---------------------------------------------------------------- small panoramas
@pytest.fixture(scope="module")
def panoramas() -> tuple[np.ndarray, np.ndarray]:
    """A raw with fine detail (noise on a gradient: LOD errors and seams show) and its negative as the dream."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:128, 0:256]
    base = np.stack([xx * 255 / 256, yy * 255 / 128, 128 + 100 * np.sin(xx / 9.0)], -1)
    raw = np.clip(base + rng.normal(0, 40, base.shape), 0, 255).astype(np.uint8)
    return 255 - raw, raw


@pytest.fixture(scope="module")
def server(panoramas) -> Iterator[str]:
    with served(image_scene(*panoramas)) as url:
        yield url


@pytest.fixture(scope="module")
def pyramids(panoramas):
    return [srgb_mip_pyramid(p) for p in panoramas]


#: (name, view yaw°, view pitch°, gaze yaw°, gaze pitch°)
POSES = [
    ("straight ahead", 0, 0, 0, 0),
    ("across the 0/360 wrap", 180, -10, 180, 0),
    ("straight up", 30, 90, 30, 80),
    ("gaze off-centre", -30, 10, -10, 25),
]


def reference(pyramids, dwell, rotation, fov, size, mix=(0.0, 1.0)):
    dream, raw = pyramids
    return render_reference(dream, raw, dwell, rotation, fov, size[0], size[1], *mix)


@pytest.fixture(scope="module")
def desktop(browser, server):
    """The page in a desktop browser, its frames drawn on demand (``frame(t)``)."""
    page = open_page(browser, server, VIEW)
    page.evaluate("__vrdreamTest.useManualClock()")
    yield page
    page.close()


@pytest.mark.parametrize("name,yaw,pitch,gaze_yaw,gaze_pitch", POSES, ids=[p[0] for p in POSES])
def test_desktop_frame_matches_reference(desktop, pyramids, name, yaw, pitch, gaze_yaw, gaze_pitch):
    dwell = steady_dwell(yaw_pitch_to_dir(D(gaze_yaw), D(gaze_pitch)), GazeSettings())
    frame = desktop.evaluate(
        "([yaw, pitch, dwell]) => { const t = __vrdreamTest; t.setView(yaw, pitch);"
        " t.setDwell(dwell); t.freeze(true, [0, 1]); return t.frame(0); }",
        [D(yaw), D(pitch), to_base64(dwell)],
    )
    [(image, rotation, fov)] = eyes(frame)
    # The page's camera is the desktop viewer's: the same rotation and frustum.
    np.testing.assert_allclose(rotation, rotation_yaw_pitch_roll(D(yaw), D(pitch)), atol=1e-6)
    np.testing.assert_allclose(fov.tangents(), Fov.symmetric(90.0, *VIEW).tangents(), atol=1e-6)
    expected = reference(pyramids, dwell, rotation, fov, VIEW)
    assert image.shape == expected.shape
    assert mean_diff(image, expected) <= TOLERANCE, name


@pytest.fixture(scope="module")
def headset(browser, server):
    """The page in an immersive-vr session of the emulated headset (entered by clicking Enter VR)."""
    if not IWER.is_file():
        pytest.skip(f"the test-only WebXR emulator is not built ({IWER}): run `make web`")
    page = open_page(browser, server, HEADSET, headset=True)
    enter_vr(page)
    yield page
    page.close()


@pytest.mark.parametrize("name,yaw,pitch,gaze_yaw,gaze_pitch", POSES, ids=[p[0] for p in POSES])
def test_headset_both_eyes_match_reference(headset, pyramids, name, yaw, pitch, gaze_yaw, gaze_pitch):
    head = rotation_yaw_pitch_roll(D(yaw), D(pitch), D(5))  # a little roll too
    dwell = steady_dwell(yaw_pitch_to_dir(D(gaze_yaw), D(gaze_pitch)), GazeSettings())
    frame = headset.evaluate(
        "([q, dwell]) => { __iwerDevice.quaternion.set(...q); const t = __vrdreamTest;"
        " t.setDwell(dwell); t.freeze(true, [0, 1]); return t.nextFrame().then(() => t.nextFrame()); }",
        [xr_quaternion(head), to_base64(dwell)],
    )
    views = eyes(frame)
    assert len(views) == 2
    for image, rotation, fov in views:
        # Both eyes: the head's rotation alone (a sphere at infinity: no parallax).
        np.testing.assert_allclose(rotation, head, atol=1e-5)
        expected = reference(pyramids, dwell, rotation, fov, image.shape[1::-1])
        assert mean_diff(image, expected) <= TOLERANCE, name


def test_headset_gaze_is_the_head_ray(headset):
    """Unfrozen, the dwell map blooms around where the emulated head looks."""
    head = rotation_yaw_pitch_roll(D(60), D(-20))
    settings = GazeSettings()
    shape = (settings.map_width // 2, settings.map_width)
    dwell = headset.evaluate(
        "([q, zeros]) => { __iwerDevice.quaternion.set(...q); const t = __vrdreamTest;"
        " t.setDwell(zeros); t.freeze(false);"
        " return new Promise((ok) => setTimeout(ok, 1500)).then(() => t.dwell()); }",
        [xr_quaternion(head), to_base64(np.zeros(shape))],
    )
    dwell = from_base64(dwell, shape)
    # The bloom's centre (weighted by solid angle: cos(pitch) per equirect pixel) is the head's forward ray.
    dirs = dwell_directions(settings)
    centre = (dirs * (dwell * np.hypot(dirs[..., 0], dirs[..., 2]))[..., None]).sum(axis=(0, 1))
    centre /= np.linalg.norm(centre)
    assert np.degrees(np.arccos(np.clip(centre @ head[:, 2], -1, 1))) < 1
    assert dwell.max() > 0.5


def test_controllers_and_keys_drive_the_viewer_commands(headset, desktop):
    """Trigger: mode; thumbstick forward/back: wider/narrower; A: toggle (as controls.apply_command does);
    on the desktop the keys of `vrdream view --desktop`, from the server's keymap."""
    state = ViewerState()
    presses = [
        ("trigger", "updateButtonValue('trigger', {v})", "mode"),
        ("thumbstick forward", "updateAxis('thumbstick', 'y-axis', -{v})", "wider"),
        ("thumbstick back", "updateAxis('thumbstick', 'y-axis', {v})", "narrower"),
        ("thumbstick forward", "updateAxis('thumbstick', 'y-axis', -{v})", "wider"),
        ("A", "updateButtonValue('a-button', {v})", "toggle"),
    ]
    for name, action, command in presses:
        for v in (1, 0):  # press, release: one command per press
            got = headset.evaluate(
                f"() => {{ __iwerDevice.controllers.right.{action.format(v=v)};"
                " const t = __vrdreamTest; return t.nextFrame().then(() => t.nextFrame()); }"
            )["state"]
        state = apply_command(state, command)
        assert (got["mode"], got["show"], got["coneScale"]) == (state.mode, state.show, state.cone_scale), name
    before = desktop.evaluate("__vrdreamTest.frame(0, false)")["state"]
    state = ViewerState(before["mode"], before["show"], before["coneScale"], before["yawOffset"])
    for key, command in (("m", "mode"), ("]", "wider"), ("-", "narrower"), ("Space", "toggle"), ("t", "toggle")):
        desktop.keyboard.press(key)
        got = desktop.evaluate("__vrdreamTest.frame(0, false)")["state"]
        state = apply_command(state, command)
        assert (got["mode"], got["show"], got["coneScale"]) == (state.mode, state.show, state.cone_scale), key


# ---------------------------------------------------------------- dynamics
def test_dwell_and_mix_follow_python_over_a_head_path(desktop):
    """A scripted head path (the view centre is the gaze on a desktop without a pointer), frame by frame."""
    page = desktop
    page.evaluate("__vrdreamTest.useManualClock(); __vrdreamTest.freeze(false)")
    settings = GazeSettings()
    assert page.evaluate("fetch('settings.json').then((r) => r.json())") == viewer_settings()
    dirs = dwell_directions(settings)
    dwell = np.zeros(dirs.shape[:2], np.float32)
    mode, show = "dream-where-you-look", "gaze"
    mix = np.array(mix_target(mode, show))
    times = np.cumsum([0.0] + [1 / 72] * 8 + [0.25] * 6 + [1 / 90] * 5)
    last = times[0]
    for i, t in enumerate(times):
        yaw, pitch = D(170 + 40 * t), D(20 * math.sin(3 * t))  # crosses the 0°/360° wrap
        if i == 12:
            page.evaluate("__vrdreamTest.command('mode')")
            mode = "raw-where-you-look"
        page.evaluate("([y, p]) => __vrdreamTest.setView(y, p)", [yaw, pitch])
        frame = page.evaluate("(t) => __vrdreamTest.frame(t, false)", float(t))
        dt = t - last
        last = t
        dwell = dwell_step(dwell, dirs, yaw_pitch_to_dir(yaw, pitch), dt, settings)
        target = np.array(mix_target(mode, show))
        mix = approach(mix, target, dt, settings.mode_s, settings.mode_s)
        np.testing.assert_allclose(frame["mix"], mix, atol=1e-9)
        if i % 5 == 0 or i == len(times) - 1:
            got = from_base64(page.evaluate("__vrdreamTest.dwell()"), dwell.shape)
            np.testing.assert_allclose(got, dwell, atol=2e-6)
    assert dwell.max() > 0.5  # the path did bloom


# ---------------------------------------------------------------- a large panorama
class _Window:
    """A window of one mip level, decoded to linear only where sampled, indexed in the whole level's
    texels: the reference's decoded pyramid of a 16384×8192 panorama would take gigabytes, and the
    views of this test see a few degrees of it."""

    def __init__(self, texels: np.ndarray, shape: tuple[int, int], row0: int, col0: int) -> None:
        self.texels, self.shape, self.row0, self.col0 = texels, (*shape, 3), row0, col0

    def __getitem__(self, index):
        rows, cols = index
        return srgb8_to_linear(self.texels[rows - self.row0, cols - self.col0])


def _window_pyramid(image: np.ndarray, first: int, row0: int, col0: int, size: int) -> list[_Window]:
    """Mip levels ``first``.. of ``image`` as windows of its level-0 texels [row0, row0 + size) ×
    [col0, col0 + size): exact while the window's corners are multiples of the level's texel."""
    levels = srgb_mip_pyramid(srgb_mip_level(image[row0 : row0 + size, col0 : col0 + size], first))
    h, w = image.shape[:2]
    return [
        _Window(t, (max(h >> (first + j), 1), max(w >> (first + j), 1)), row0 >> (first + j), col0 >> (first + j))
        for j, t in enumerate(levels)
    ]


def _big_dream(width: int, height: int, borders: list[int]) -> np.ndarray:
    """A smooth pattern with sharp 2-pixel lines just either side of the given level-0 columns."""
    x = np.arange(width)
    y = np.arange(height)
    image = np.empty((height, width, 3), np.uint8)
    image[..., 0] = (x * 255 // width).astype(np.uint8)[None, :]
    image[..., 1] = (y * 255 // height).astype(np.uint8)[:, None]
    image[..., 2] = (128 + 100 * np.sin(x / 37.0)).astype(np.uint8)[None, :]
    for c in borders:
        image[:, [c - 2, c - 1], :] = 255
        image[:, [c % width, (c + 1) % width], :] = 0
    return image


@pytest.mark.slow
def test_large_dream_tiles_without_seams(browser):
    """16384×8192 with a simulated 4096 texture limit: level 1 (8192×4096) in three tiles with gutters."""
    size, limit = (16384, 8192), 4096
    payload = 4096 - 2 * 256  # viewer.renderer.TileLayout.plan at a 4096 limit: 256-column margins
    borders = [2 * payload, 4 * payload]  # level-0 columns of the tile borders at level 1
    dream = _big_dream(*size, borders)
    with served(image_scene(dream, None)) as url:
        page = open_page(browser, url + f"?maxTexture={limit}", VIEW)
        page.evaluate("__vrdreamTest.useManualClock(); __vrdreamTest.freeze(true, [1, 1])")
        frames = []
        for c in borders:
            yaw = (c / size[0] - 0.5) * 2 * math.pi
            page.evaluate("(y) => __vrdreamTest.setView(y, -0.1, 6)", yaw)
            frames.append(page.evaluate("__vrdreamTest.frame(0)"))
        page.close()
    for c, frame in zip(borders, frames):
        # Level 1 is the finest the page could load; a 2048-texel square around the view's centre.
        pyramid = _window_pyramid(dream, 1, size[1] // 2 - 1024, c - 1024, 2048)
        [(image, rotation, fov)] = eyes(frame)
        ray, ddx, ddy = pixel_ray_gradients(rotation, fov, *VIEW)
        uv = dir_to_equirect_uv(ray)
        gx = equirect_uv_gradients(ray, np.broadcast_to(ddx, ray.shape))
        gy = equirect_uv_gradients(ray, np.broadcast_to(ddy, ray.shape))

        expected = to_uint8(linear_to_srgb(sample_trilinear(pyramid, uv, gx, gy)))
        assert mean_diff(image, expected) <= TOLERANCE
        # The seam would be a column: check the worst column too.
        assert np.abs(image.astype(int) - expected).mean(axis=(0, 2)).max() <= 4 * TOLERANCE


# ---------------------------------------------------------------- video
@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> tuple[Path, Path]:
    """A 1 s raw and dream video pair (tests/videos.py: a turning panorama with a moving disc), 256×128."""
    from videos import make_video

    folder = tmp_path_factory.mktemp("serve-video")
    yy, xx = np.mgrid[0:128, 0:256]
    raw = np.stack([xx / 256, yy / 128, 0.5 + 0.3 * np.sin(xx / 20)], -1).astype(np.float32)
    make_video(folder / "raw.mp4", raw, frames=24, audio=None)
    make_video(folder / "dream.mp4", 1 - raw, frames=24, audio=None)
    return folder / "dream.mp4", folder / "raw.mp4"


def _decoded(path: Path, index: int) -> np.ndarray:
    import av

    with av.open(str(path)) as video:
        for i, frame in enumerate(video.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="rgb24")
    raise IndexError(index)


def test_video_loops_in_sync_and_matches_its_frames(browser, videos):
    """A dream video and its raw play looping and in step; a paused frame is the decoded video's, crossfaded."""
    from vrdream.serve import load_scene

    with served(load_scene(*videos)) as url:
        page = open_page(browser, url, VIEW)
        clocks = []
        for _ in range(6):
            clocks.append(page.evaluate("__vrdreamTest.videos()"))
            page.wait_for_timeout(400)
        dwell = steady_dwell(yaw_pitch_to_dir(D(-20), D(10)), GazeSettings())
        page.evaluate("__vrdreamTest.seek(0.5)")
        frame = page.evaluate(
            "(d) => { const t = __vrdreamTest; t.useManualClock(); t.setView(0, 0); t.setDwell(d);"
            " t.freeze(true, [0, 1]); return t.frame(0); }",
            to_base64(dwell),
        )
        page.close()
    dream_t = [c[0]["time"] for c in clocks]
    assert all(not v["paused"] for c in clocks for v in c)
    assert all(abs(c[0]["time"] - c[1]["time"]) < 0.1 for c in clocks)  # raw follows the dream's clock
    assert any(b < a for a, b in zip(dream_t, dream_t[1:])), dream_t  # it looped (1 s clip, 2.4 s watched)
    [(image, rotation, fov)] = eyes(frame)
    expected, other = (
        reference([srgb_mip_pyramid(_decoded(path, index)) for path in videos], dwell, rotation, fov, VIEW)
        for index in (12, 6)  # 0.5 s at 24 fps, and a quarter second earlier
    )
    # Looser than the stills: the browser converts YUV to RGB (and upsamples chroma) its own way, about
    # two levels apart from PyAV's, and mipmaps the frame itself. Still far closer than another frame.
    assert mean_diff(image, expected) <= 4 * TOLERANCE
    assert mean_diff(image, other) > 2 * mean_diff(image, expected)
