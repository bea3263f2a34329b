"""docs/presets.png: every preset on one view of the sample panorama (``vrdream dream --flat``'s engine).

python docs/make_presets.py
"""

from __future__ import annotations

import math
from pathlib import Path

from vrdream.dream import Dreamer, FlatParam
from vrdream.equirect import perspective
from vrdream.photosphere import read_photosphere
from vrdream.presets import PRESETS
from vrdream.sheet import contact_sheet, save_sheet
from vrdream.tensors import to_numpy, to_tensor

DOCS = Path(__file__).parent
SAMPLE = DOCS.parent / "vrdream" / "samples" / "mars.jpg"


def main() -> None:
    pano = to_tensor(read_photosphere(SAMPLE).pixels)
    view = perspective(pano, 384, 384, math.radians(80), yaw=math.radians(-20), pitch=math.radians(-25))
    tiles = [("raw (a view of samples/mars.jpg)", to_numpy(view))]
    for name, preset in PRESETS.items():
        print(name, flush=True)
        out = Dreamer(preset.settings)(FlatParam(view))
        tiles.append((f"{name}: {preset.settings.backbone} {preset.settings.objective}", to_numpy(out)))
    save_sheet(
        contact_sheet(tiles, 4, 384, title="vrdream presets (vrdream dream --preset NAME)"), DOCS / "presets.png"
    )


if __name__ == "__main__":
    main()
