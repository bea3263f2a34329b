"""360° video: seconds per dreamed frame at 1024x512 and 2048x1024, and the temporal stability ratio.

Frames come from a synthetic 360° clip (the sample panorama turning, with a moving disc). The first
frame gets the full dream, later frames the carried detail plus a short dream (``VideoSettings()``);
the baseline in the same run dreams every frame on its own. Stability is mean |dream_t - warp(dream_t-1)|.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import torch

from bench.common import write_results
from vrdream.dream import Dreamer
from vrdream.presets import DEFAULT_PRESET, get_preset
from vrdream.sphere import SphereOptions, dream_sphere
from vrdream.tensors import to_tensor
from vrdream.video import VideoSettings, next_dream, warped_difference
from vrdream.videoio import iter_frames

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from videos import load_panorama, make_video  # noqa: E402  (the tests' synthetic 360° clip maker)

SAMPLE = Path(__file__).resolve().parent.parent / "vrdream" / "samples" / "mars.jpg"
FRAMES = 4
CLIP_4K = (3840, 1920, 20 * 30)  # a 20-second 4K equirect clip at 30 fps


def run(raws: list[torch.Tensor], dreamer: Dreamer, settings: VideoSettings) -> tuple[list[float], list[torch.Tensor]]:
    def dream_frame(raw, init, steps):
        return dream_sphere(raw, dreamer, SphereOptions(), init=init, steps=steps)

    times, dreams, prev_raw, prev_dream = [], [], None, None
    for raw in raws:
        t0 = time.perf_counter()
        prev_dream = next_dream(dream_frame, raw, prev_raw, prev_dream, settings)
        times.append(time.perf_counter() - t0)
        prev_raw = raw
        dreams.append(prev_dream)
    return times, dreams


def main() -> None:
    dreamer = Dreamer(get_preset(DEFAULT_PRESET).settings)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for width in (1024, 2048):
            clip = make_video(Path(tmp) / f"clip{width}.mp4", load_panorama(SAMPLE, width), frames=FRAMES)
            raws = [to_tensor(f) for f in iter_frames(clip)]
            coherent_t, coherent = run(raws, dreamer, VideoSettings())
            independent_t, independent = run(raws, dreamer, VideoSettings(coherent=False))
            flicker_c, flicker_i = warped_difference(raws, coherent), warped_difference(raws, independent)
            later = sum(coherent_t[1:]) / (len(coherent_t) - 1)
            rows.append(
                {
                    "size": f"{width}x{width // 2}",
                    "threads": torch.get_num_threads(),
                    "first_frame_s": coherent_t[0],
                    "later_frame_s": later,
                    "independent_frame_s": sum(independent_t) / len(independent_t),
                    "flicker_coherent": flicker_c,
                    "flicker_independent": flicker_i,
                    "stability_ratio": flicker_i / flicker_c,
                }
            )
            print(rows[-1], flush=True)
    w, h, n = CLIP_4K
    per_frame = rows[-1]["later_frame_s"] * (w * h) / (2048 * 1024)
    notes = (
        f"A 20 s 4K clip ({n} frames of {w}x{h}) at the later-frame rate scaled by pixels would take "
        f"about {per_frame * n / 3600:.1f} h here; to finish in 1 h it needs {n / 3600:.2f} frames/s, i.e. "
        f"{per_frame * n / 3600:.0f}x this machine (a GPU; see bench/dream.py). Dreaming at --dream-width 2048 "
        f"and upscaling cuts it by the pixel ratio ({w * h / (2048 * 1024):.1f}x)."
    )
    write_results("video", rows, notes)


if __name__ == "__main__":
    main()
