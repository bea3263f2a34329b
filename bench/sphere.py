"""End-to-end 360° dreams: seconds and peak RSS, vrdream's joint sphere against naive per-face dreaming.

Each case runs in its own process (peak RSS is per process), at the default
preset, on the sample panorama resized to 2048x1024 and 8192x4096. Naive
per-face dreaming runs with the same settings (same padded faces, same steps)
in the same run, so the overhead ratio is measured on the same machine state.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from bench.common import peak_rss_mb, write_results

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "mars.jpg"
#: (input width, method, dream width): the 8K input is dreamed at 2048 and its detail laid onto the 8K raw
#: (a face of 2048 would take about 16x the 2048 case's time on this CPU; memory is what that row measures).
CASES = ((2048, "joint", None), (2048, "naive", None), (8192, "joint", 2048))


def one(width: int, method: str, dream_width: int | None) -> dict:
    """Runs in a child process: dream the sample at ``width`` with ``method``; time and memory."""
    import torch

    from vrdream.dream import Dreamer
    from vrdream.photosphere import read_photosphere, resize
    from vrdream.pipeline import to_tensor
    from vrdream.presets import DEFAULT_PRESET, get_preset
    from vrdream.sphere import SphereOptions, dream_faces_independently, dream_sphere

    raw = to_tensor(resize(read_photosphere(SAMPLE).pixels, (width, width // 2)))
    t0 = time.perf_counter()
    dreamer = Dreamer(get_preset(DEFAULT_PRESET).settings)
    fn = dream_sphere if method == "joint" else dream_faces_independently
    options = SphereOptions(dream_width=dream_width)
    out = fn(raw, dreamer, options)
    seconds = time.perf_counter() - t0
    return {"input": f"{width}x{width // 2}", "method": method, "face": options.face_for(width),
            "threads": torch.get_num_threads(), "seconds": seconds, "peak_rss_mb": peak_rss_mb(),
            "mean_change": float((out - raw).abs().mean())}


def main() -> None:
    rows = []
    for width, method, dream_width in CASES:
        res = subprocess.run([sys.executable, "-m", "bench.sphere", str(width), method, str(dream_width or 0)],
                             capture_output=True, text=True, check=True)
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    joint, naive = rows[0]["seconds"], rows[1]["seconds"]
    notes = (f"Overhead of the joint sphere over naive per-face at 2048x1024: {joint / naive:.2f}x "
             f"(target <= 1.15). Targets: 2048x1024 in <= 60 s on 2 cores; 8192x4096 within 4 GB peak RSS.")
    write_results("sphere", rows, notes)


if __name__ == "__main__":
    if len(sys.argv) == 4:
        print(json.dumps(one(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]) or None)))
    else:
        main()
