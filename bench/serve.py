"""``vrdream serve``'s page in headless Chromium: page load → first frame, and the crossfade's frame time.

The page is served by ``vrdream serve``'s app on localhost and drawn by Debian's Chromium with WebGL on
SwiftShader, Chromium's CPU rasteriser: every figure here is a CPU figure (two shared cores), not a
headset's. Load → first frame is from navigation start to the first frame drawn (the page's test hook
records it), for a dream and its raw of 4096×2048 and 8192×4096: cold (the server computes the mip
levels it serves: the first visitor's wait) and warm (a reload: the server has them cached). The frame
time is one desktop frame of 1280×720 (a gaze-dynamics step in JS, the dwell upload, the sphere pass,
``gl.finish()``); the baseline, measured in the same run, is the same frame of the dream alone (no raw,
no crossfade). Needs ``make web`` and /usr/bin/chromium; skipped with the reason otherwise.
"""

from __future__ import annotations

import time

import numpy as np
from PIL import Image

from bench.common import write_results
from tests.webpage import chromium, image_scene, missing, open_page, served

SIZES = ((4096, 2048), (8192, 4096))
WINDOW = (1280, 720)
FRAMES = 20
SAMPLE = "vrdream/samples/mars.jpg"


def _panoramas(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    raw = np.asarray(Image.open(SAMPLE).convert("RGB").resize(size, Image.BILINEAR))
    return np.ascontiguousarray(255 - raw), raw  # the negative stands in for a dream: the cost does not depend on it


def _first_frame_s(browser, url: str) -> float:
    page = open_page(browser, url, WINDOW, timeout_s=600)
    page.wait_for_function("window.__vrdreamTest.firstFrameMs !== null")
    seconds = page.evaluate("__vrdreamTest.firstFrameMs") / 1000
    page.close()
    return seconds


def _frame_ms(browser, url: str) -> float:
    """Fastest of FRAMES desktop frames (ms), each finished, the gaze moving."""
    page = open_page(browser, url, WINDOW, timeout_s=600)
    ms = page.evaluate(
        """(n) => { const t = __vrdreamTest; t.useManualClock(); t.frame(0, false); t.finish(); let best = Infinity;
        for (let i = 1; i <= n; i++) { t.setView(0.05 * i, 0.1); const t0 = performance.now();
          t.frame(i / 72, false); t.finish(); best = Math.min(best, performance.now() - t0); }
        return best; }""",
        FRAMES,
    )
    page.close()
    return float(ms)


def main() -> None:
    why = missing()
    if why is not None:
        print(f"bench/serve.py skipped: {why}")
        return
    rows = []
    with chromium() as browser:
        renderer = None
        for size in SIZES:
            dream, raw = _panoramas(size)
            row: dict[str, object] = {"panorama": f"{size[0]}×{size[1]} dream + raw"}
            with served(image_scene(dream, raw)) as url:
                t0 = time.perf_counter()
                row["first_frame_cold_s"] = _first_frame_s(browser, url)
                row["cold_wall_s"] = time.perf_counter() - t0
                row["first_frame_warm_s"] = _first_frame_s(browser, url)
                row["crossfade_frame_ms"] = _frame_ms(browser, url)
                if renderer is None:
                    page = open_page(browser, url, (64, 64))
                    renderer = page.evaluate(
                        "(() => { const gl = document.createElement('canvas').getContext('webgl2');"
                        " const e = gl.getExtension('WEBGL_debug_renderer_info');"
                        " return e ? gl.getParameter(e.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER); })()"
                    )
                    page.close()
            with served(image_scene(dream, None)) as url:
                row["dream_only_frame_ms"] = _frame_ms(browser, url)
            row["crossfade_vs_dream_only"] = row["crossfade_frame_ms"] / row["dream_only_frame_ms"]  # type: ignore[operator]
            rows.append(row)
    notes = (
        f"WebGL renderer: {renderer}. SwiftShader is Chromium's CPU rasteriser: these are CPU figures on this "
        f"machine's shared cores, not a headset's frame rate (a Quest draws this pass on its GPU). Frames are "
        f"{WINDOW[0]}×{WINDOW[1]}, the fastest of {FRAMES}. Cold: the server computes and PNG-encodes each mip "
        "level on first request; warm: a reload, served from its cache."
    )
    write_results("serve", rows, notes)


if __name__ == "__main__":
    main()
