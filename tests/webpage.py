"""The page of ``vrdream serve`` in headless Chromium (Playwright), for tests/test_serve_browser.py,
bench/serve.py and docs/make_serve.py.

Debian's Chromium (``/usr/bin/chromium``; never ``playwright install``), WebGL on SwiftShader
(the CPU). The page is driven through its test-only hook ``window.__vrdreamTest``
(viewer/web/src/main.js); a headset is Meta's WebXR emulator ``iwer``, bundled by ``make web``
into viewer/web/test-build/ and injected before the page's own script.
"""

from __future__ import annotations

import base64
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from vrdream.viewer.geometry import Fov

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "viewer" / "web"
BUNDLE = WEB / "dist"
IWER = WEB / "test-build" / "iwer-runtime.js"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


def missing() -> str | None:
    """Why the page cannot be driven here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (Debian package chromium)"
    if not (BUNDLE / "index.html").is_file():
        return f"the page is not built ({BUNDLE}): run `make web` (needs npm)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright (PyPI) is not installed"
    return None


@contextmanager
def served(scene: Any) -> Iterator[str]:
    """``vrdream serve``'s app for ``scene`` (:class:`vrdream.serve.Scene`) on a free localhost port; yields its URL."""
    import uvicorn

    from vrdream.serve import bind, build_app

    app = build_app(scene, BUNDLE)
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def image_scene(dream: np.ndarray, raw: np.ndarray | None) -> Any:
    from vrdream.serve import Image, Scene

    return Scene(Image(dream), None if raw is None else Image(raw))


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright ``Browser``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser: Any, url: str, size: tuple[int, int], headset: bool = False, timeout_s: float = 120) -> Any:
    """A page of the viewer at ``url`` once loaded (panoramas uploaded); with the emulated headset."""
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    if headset:
        page.add_init_script(path=str(IWER))
    page.goto(url)
    page.wait_for_function("document.body.dataset.ready || document.body.dataset.error", timeout=timeout_s * 1000)
    error = page.evaluate("document.body.dataset.error")
    if error is not None:
        raise RuntimeError(f"the page failed: {error} {errors}")
    return page


def enter_vr(page: Any) -> None:
    """Press Enter VR and wait for the emulated headset's first frame."""
    page.click("#enter-vr")
    page.wait_for_function("window.__vrdreamTest.frames > 0 && window.__iwerDevice.activeSession", timeout=60_000)


def xr_quaternion(rotation: np.ndarray) -> list[float]:
    """The WebXR orientation (x, y, z, w) of our world-from-view rotation (-z forward there)."""
    from scipy.spatial.transform import Rotation

    flip = np.diag([1.0, 1.0, -1.0])
    return [float(v) for v in Rotation.from_matrix(flip @ rotation @ flip).as_quat()]


def to_base64(dwell: np.ndarray) -> str:
    """A dwell map as the hook's ``setDwell`` takes it (float32 bytes, base64)."""
    return base64.b64encode(np.ascontiguousarray(dwell, dtype="<f4").tobytes()).decode()


def from_base64(text: str, shape: tuple[int, ...]) -> np.ndarray:
    """A dwell map from the hook's ``dwell()``."""
    return np.frombuffer(base64.b64decode(text), "<f4").reshape(shape)


def pixels(frame: dict) -> np.ndarray:
    """A frame's RGB (h, w, 3) uint8, row 0 on top (readPixels gives the bottom row first)."""
    rgba = np.frombuffer(base64.b64decode(frame["rgba"]), np.uint8).reshape(frame["height"], frame["width"], 4)
    return rgba[::-1, :, :3]


def eyes(frame: dict) -> list[tuple[np.ndarray, np.ndarray, Fov]]:
    """Each view a frame drew: its pixels, rotation (ours, recentered) and frustum."""
    image, h = pixels(frame), frame["height"]
    out = []
    for view in frame["views"]:
        x, y, w, vh = (int(round(v)) for v in view["viewport"])
        tl, tr, tu, td = view["tangents"]
        fov = Fov(math.atan(tl), math.atan(tr), math.atan(tu), math.atan(td))
        out.append((image[h - y - vh : h - y, x : x + w], np.reshape(view["rotation"], (3, 3)), fov))
    return out
