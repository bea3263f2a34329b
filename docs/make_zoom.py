"""docs/zoom.png: frames of a `vrdream zoom` video (a Möbius zoom toward a direction on the sphere),
each shown as the equirect and as the view toward the zoom direction.

    python docs/make_zoom.py
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from vrdream.engine import EngineOptions
from vrdream.equirect import perspective
from vrdream.presets import get_preset
from vrdream.sheet import contact_sheet, save_sheet
from vrdream.tensors import to_numpy, to_tensor
from vrdream.videoio import iter_frames
from vrdream.zoom import ZoomSettings, zoom_video

DOCS = Path(__file__).parent
SAMPLE = DOCS.parent / "vrdream" / "samples" / "mars.jpg"
TOWARD = (-30.0, -20.0)


def main() -> None:
    settings = ZoomSettings(frames=16, zoom=1.08, steps=3, toward_deg=TOWARD, spin_deg=2.0)
    with tempfile.TemporaryDirectory() as tmp:
        out = zoom_video(
            SAMPLE,
            Path(tmp) / "zoom.mp4",
            EngineOptions(get_preset("parts").settings.replace(octaves=3), preset="parts"),
            settings,
            quiet=False,
        )
        frames = list(iter_frames(out))
    tiles = []
    for i in range(0, len(frames), 5):
        equi = to_tensor(frames[i])
        view = perspective(equi, 256, 256, math.radians(90), yaw=math.radians(TOWARD[0]), pitch=math.radians(TOWARD[1]))
        tiles += [(f"frame {i}: equirect", frames[i]), (f"frame {i}: toward {TOWARD}", to_numpy(view))]
    save_sheet(
        contact_sheet(
            tiles, 4, 320, title="vrdream zoom samples/mars.jpg --toward -30,-20 --zoom 1.08 --spin 2 (every 5th frame)"
        ),
        DOCS / "zoom.png",
    )


if __name__ == "__main__":
    main()
