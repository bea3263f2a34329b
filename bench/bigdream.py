"""An 8192x4096 flat dream on this machine's memory: one octave of full-resolution steps, peak RSS.

The network's input is cut into tiles sized from free memory (``Dreamer.passes``), so the peak
stays bounded whatever the image size; this runs in a child process to measure its own peak.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from bench.common import peak_rss_mb, write_results

SAMPLE = Path(__file__).resolve().parent.parent / "vrdream" / "samples" / "mars.jpg"
W, H, STEPS = 8192, 4096, 2


def one() -> dict:
    import torch

    from vrdream.dream import Dreamer, FlatParam
    from vrdream.photosphere import read_photosphere, resize
    from vrdream.presets import DEFAULT_PRESET, get_preset
    from vrdream.tensors import to_tensor

    raw = to_tensor(resize(read_photosphere(SAMPLE).pixels, height=H, width=W))
    dreamer = Dreamer(get_preset(DEFAULT_PRESET).settings.replace(octaves=1, steps=STEPS))
    batch, tile = dreamer.passes((1, 3, H, W))
    t0 = time.perf_counter()
    out = dreamer(FlatParam(raw))
    return {
        "image": f"{W}x{H}",
        "steps": STEPS,
        "tile": tile,
        "threads": torch.get_num_threads(),
        "seconds_per_step": (time.perf_counter() - t0) / STEPS,
        "peak_rss_mb": peak_rss_mb(),
        "mean_change": float((out - raw).abs().mean()),
    }


def main() -> None:
    res = subprocess.run([sys.executable, "-m", "bench.bigdream", "child"], capture_output=True, text=True, check=True)
    row = json.loads(res.stdout.strip().splitlines()[-1])
    write_results("bigdream", [row], "Bound: not killed for memory on a 24 GB machine (tiles from 40% of free RAM).")


if __name__ == "__main__":
    if sys.argv[1:] == ["child"]:
        print(json.dumps(one()))
    else:
        main()
