"""docs/backbones.png: what each bundled backbone dreams at a few of its layers (the dream engine, flat).

    python docs/make_backbones.py

The photo is scikit-image's ``chelsea`` (a cat); every tile is ``vrdream.dream.Dreamer`` with the
backbone and layer in its label and otherwise default settings, a little stronger than usual.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from skimage import data

from vrdream.backbones import create_backbone
from vrdream.dream import Dreamer, DreamSettings, FlatParam
from vrdream.sheet import contact_sheet
from vrdream.tensors import to_numpy, to_tensor

OUT = Path(__file__).parent / "backbones.png"
TILES = [
    ("efficientnet_lite0", "blocks.3"),
    ("efficientnet_lite0", "blocks.4"),
    ("efficientnet_lite0", "blocks.5"),
    ("efficientnet_lite1", "blocks.4"),
    ("efficientnet_lite2", "blocks.4"),
    ("inception_v3", "mixed3"),
    ("inception_v3", "mixed5"),
]


def main() -> None:
    photo = data.chelsea().astype(np.float32) / 255
    tiles = [("skimage.data.chelsea()", photo)]
    for name, layer in TILES:
        print(name, layer, flush=True)
        settings = DreamSettings(backbone=name, objective=layer, octaves=3, steps=12, step_size=0.02)
        dreamer = Dreamer(settings, backbone=create_backbone(name))
        tiles.append((f"{name} {layer}", to_numpy(dreamer(FlatParam(to_tensor(photo))))))
    contact_sheet(tiles, 4, 451, title="vrdream backbones and layers (vrdream models)").save(OUT)


if __name__ == "__main__":
    main()
