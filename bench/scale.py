"""Scale-out: the flicker at a segment cut against the warm-up length (``vrdream video --workers N``).

A 24-frame synthetic 360° clip (the sample turning, a moving disc) is dreamed whole, and in two segments
of 12 frames with 0, 1, 2, 4 and 8 warm-up frames before the second. Flicker per frame pair is
mean |dream_t - warp(dream_t-1)| (as bench/video.py measures it); the cut's flicker is reported as a
ratio to the median flicker of the other pairs of the same run (the baseline, measured in the same run).
The segments run one after the other in this process: on Ray each is the same computation
(:func:`vrdream.video.dream_span`), only elsewhere.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from functools import partial
from pathlib import Path

import numpy as np

from bench.common import write_results
from vrdream.checkpoint import Job
from vrdream.engine import EngineOptions, build_dreamer
from vrdream.presets import DEFAULT_PRESET, get_preset, video_settings
from vrdream.segments import plan_segments
from vrdream.sphere import SphereOptions, dream_sphere
from vrdream.tensors import to_tensor
from vrdream.video import dream_span, warped_difference
from vrdream.videoio import iter_frames

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from videos import load_panorama, make_video  # noqa: E402  (the tests' synthetic 360° clip maker)

SAMPLE = Path(__file__).resolve().parent.parent / "vrdream" / "samples" / "mars.jpg"
FRAMES = 24
WARMUPS = (0, 1, 2, 4, 8)
#: (width, settings changes): the tests' cheap dream (a fuller one, 256 px with 4 steps and 2 octaves, is
#: worth adding where there is time: on this loaded 2-core machine it was stopped unfinished).
CASES = ((128, {"steps": 1, "octaves": 1, "detail_steps": 0}),)


def pair_flicker(raws: list, dreams: list) -> list[float]:
    """Flicker of each consecutive pair (t-1, t), t = 1..n-1."""
    return [warped_difference(raws[t - 1 : t + 1], dreams[t - 1 : t + 1]) for t in range(1, len(dreams))]


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for width, changes in CASES:
            clip = make_video(Path(tmp) / f"clip{width}.mp4", load_panorama(SAMPLE, width), frames=FRAMES, audio=None)
            raws = [to_tensor(f) for f in iter_frames(clip)]
            settings = get_preset(DEFAULT_PRESET).settings.replace(device="cpu", **changes)
            dreamer = build_dreamer(EngineOptions(settings))
            video = video_settings(DEFAULT_PRESET, settings)

            def dream_frame(raw, init, steps):
                return dream_sphere(raw, dreamer, SphereOptions(), init=init, steps=steps)

            for warmup in (None, *WARMUPS):  # None: the whole clip in one run
                job = Job(Path(tmp) / f"job{width}-{warmup}", FRAMES, {})
                for start, stop in [(0, FRAMES)] if warmup is None else plan_segments(FRAMES, 2):
                    dream_span(partial(iter_frames, clip), job, dream_frame, video, start, stop, warmup=warmup or 0)
                flicker = pair_flicker(raws, [to_tensor(job.load(i)) for i in range(FRAMES)])
                cut = FRAMES // 2 - 1  # the pair (11, 12)
                others = statistics.median(f for i, f in enumerate(flicker) if i != cut)
                rows.append(
                    {
                        "width": width,
                        "warm-up": "whole clip" if warmup is None else warmup,
                        "cut flicker": flicker[cut],
                        "median other": others,
                        "ratio": flicker[cut] / others,
                        "max other": float(np.max([f for i, f in enumerate(flicker) if i != cut])),
                    }
                )
                print(rows[-1], flush=True)
    write_results(
        "scale",
        rows,
        "Flicker at the cut between two 12-frame segments (pair 11→12) over the median of the other pairs; "
        "'whole clip' is the same pair dreamed in one run.",
    )


if __name__ == "__main__":
    main()
