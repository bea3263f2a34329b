"""docs/seamless.png: naive per-face dreaming vs vrdream's joint sphere dream, at a cube edge, the wrap
and a cube corner, with both seam scores (../shared/tools/seam_score.py).

    python docs/make_seamless.py [PANORAMA] [--width 2048]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from vrdream.dream import Dreamer
from vrdream.equirect import perspective
from vrdream.photosphere import read_photosphere, resize
from vrdream.presets import DEFAULT_PRESET, get_preset
from vrdream.sheet import contact_sheet, save_sheet, to_image
from vrdream.sphere import dream_faces_independently, dream_sphere
from vrdream.tensors import to_numpy, to_tensor

DOCS = Path(__file__).parent
SEAM_TOOL = DOCS.parent.parent / "shared" / "tools" / "seam_score.py"
SPOTS = (("F|R edge", 45.0, 0.0), ("0°/360° wrap", 180.0, 0.0), ("F|R|U corner", 45.0, 35.26))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("panorama", nargs="?", default=str(DOCS.parent.parent / "shared" / "data" / "mars.jpg"))
    ap.add_argument("--width", type=int, default=2048)
    args = ap.parse_args()
    pixels = read_photosphere(args.panorama).pixels
    if pixels.shape[1] != args.width:
        pixels = resize(pixels, height=args.width // 2, width=args.width)
    raw = to_tensor(pixels)
    dreamer = Dreamer(get_preset(DEFAULT_PRESET).settings)
    work = Path(tempfile.mkdtemp(prefix="vrdream-seamless-"))
    to_image(pixels).save(work / "raw.png")
    results = {}
    for name, fn in (("naive per-face", dream_faces_independently), ("vrdream joint sphere", dream_sphere)):
        out = fn(raw, dreamer)
        path = work / f"{name.split()[0]}.png"
        to_image(to_numpy(out)).save(path)
        score = json.loads(
            subprocess.run(
                [sys.executable, str(SEAM_TOOL), str(work / "raw.png"), str(path), "--json"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        results[name] = (out, score)
        print(name, score["score"], score["edges"])
    tiles = []
    for name, (out, score) in results.items():
        for spot, yaw, pitch in SPOTS:
            view = perspective(out, 320, 320, math.radians(60), yaw=math.radians(yaw), pitch=math.radians(pitch))
            tiles.append((f"{name}: {spot} (seam score {score['score']:.2f})", to_numpy(view)))
    sheet = contact_sheet(
        tiles,
        3,
        320,
        title=f"{Path(args.panorama).name} at {args.width}x{args.width // 2}, "
        f"preset {DEFAULT_PRESET}; each view is centred on the seam",
    )
    save_sheet(sheet, DOCS / "seamless.png")
    (DOCS / "seamless.json").write_text(json.dumps({k: v[1] for k, v in results.items()}, indent=1))


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
