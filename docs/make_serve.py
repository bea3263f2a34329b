"""Rebuild ``docs/serve.png``: ``vrdream serve``'s page beside the OpenXR viewer, for the same poses.

Usage: ``python docs/make_serve.py [OUT.png]`` (needs ``make web`` and /usr/bin/chromium). Dreams the
bundled sample at 1024×512 (``vrdream demo`` with a quick setting, in a temporary folder), serves it with
``vrdream serve``'s app, and for each pose takes the page's desktop frame, both eyes of the page in an
emulated headset (Meta's ``iwer``), and the OpenXR viewer's offscreen render (the GL renderer of
``vrdream view``) of the same rotations and frustums with the same steady dwell map. The mean
difference page vs viewer is in each caption.
"""

from __future__ import annotations

import math
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the page harness shared with the browser tests

from webpage import chromium, enter_vr, eyes, missing, open_page, served, to_base64, xr_quaternion  # noqa: E402

from vrdream.demo import run_demo  # noqa: E402
from vrdream.presets import DEFAULT_PRESET, get_preset  # noqa: E402
from vrdream.serve import load_scene  # noqa: E402
from vrdream.sheet import contact_sheet, save_sheet  # noqa: E402
from vrdream.viewer.gaze import GazeSettings, steady_dwell  # noqa: E402
from vrdream.viewer.geometry import rotation_yaw_pitch_roll, yaw_pitch_to_dir  # noqa: E402
from vrdream.viewer.panorama import load_panoramas  # noqa: E402
from vrdream.viewer.preview import offscreen  # noqa: E402

D = math.radians
DESKTOP = (320, 240)
HEADSET = (480, 240)  # two 240×240 eyes
#: (caption, view yaw°, pitch°, gaze yaw°, gaze pitch°)
POSES = [
    ("looking at the horizon", 0, -10, 20, -5),
    ("behind, across the 0/360 wrap", 180, 0, 180, -5),
    ("up, over the pole", 30, 75, 30, 85),
]


def _dream(folder: Path) -> Path:
    raw = folder / "raw.jpg"
    Image.open(REPO / "vrdream" / "samples" / "mars.jpg").convert("RGB").resize((1024, 512), Image.LANCZOS).save(
        raw, quality=95
    )
    quick = replace(get_preset(DEFAULT_PRESET).settings, octaves=2, steps=4)
    return run_demo(folder / "demo", raw, settings=quick, quiet=True)["dream"]


def main(argv: list[str]) -> None:
    why = missing()
    if why is not None:
        raise SystemExit(f"make_serve: {why}")
    out = Path(argv[0]) if argv else REPO / "docs" / "serve.png"
    tiles = []
    with tempfile.TemporaryDirectory() as tmp:
        dream = _dream(Path(tmp))
        pano = load_panoramas(dream)
        with served(load_scene(dream)) as url, chromium() as browser, offscreen(quiet=True) as viewer:
            desktop = open_page(browser, url, DESKTOP)
            desktop.evaluate("__vrdreamTest.useManualClock()")
            headset = open_page(browser, url, HEADSET, headset=True)
            enter_vr(headset)
            for caption, yaw, pitch, gy, gp in POSES:
                dwell = steady_dwell(yaw_pitch_to_dir(D(gy), D(gp)), GazeSettings())
                frame = desktop.evaluate(
                    "([y, p, d]) => { const t = __vrdreamTest; t.setView(y, p); t.setDwell(d);"
                    " t.freeze(true, [0, 1]); return t.frame(0); }",
                    [D(yaw), D(pitch), to_base64(dwell)],
                )
                [(page, rotation, fov)] = eyes(frame)
                ours = viewer.render(pano, rotation, fov, DESKTOP, dwell, 0.0, 1.0)
                tiles += [(f"page, desktop: {caption}", page), (_vs("vrdream view, same view", page, ours), ours)]
                head = rotation_yaw_pitch_roll(D(yaw), D(pitch))
                frame = headset.evaluate(
                    "([q, d]) => { __iwerDevice.quaternion.set(...q); const t = __vrdreamTest; t.setDwell(d);"
                    " t.freeze(true, [0, 1]); return t.nextFrame().then(() => t.nextFrame()); }",
                    [xr_quaternion(head), to_base64(dwell)],
                )
                (left, rot_l, fov_l), (right, _, _) = eyes(frame)
                ours = viewer.render(pano, rot_l, fov_l, left.shape[1::-1], dwell, 0.0, 1.0)
                tiles += [
                    ("page, headset: left eye", left),
                    ("page, headset: right eye", right),
                    (_vs("vrdream view, that eye", left, ours), ours),
                ]
    title = "vrdream serve (Chromium, WebGL on SwiftShader) beside vrdream view (the OpenXR viewer's renderer)"
    sheet = contact_sheet(tiles, 5, 240, title=title)
    save_sheet(sheet, out)
    print(out)


def _vs(caption: str, page: np.ndarray, ours: np.ndarray) -> str:
    diff = np.abs(page.astype(np.int16) - ours.astype(np.int16)).mean()
    return f"{caption} (mean |diff| {diff:.2f}/255)"


if __name__ == "__main__":
    main(sys.argv[1:])
