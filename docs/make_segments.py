"""docs/segments.png: one segment of a video handing over to the next (what ``--workers`` shares out).

    python docs/make_segments.py [--width 384]

The test video is tests/videos.py's (the sample turning in yaw, a moving disc), 20 frames in segments of 12
with the default crossfade of 8, dreamed with the real engine (the default preset, 2 octaves, 4 steps). Rows:
the first segment's own dream at frames 3-12, the second segment's (led in from frame 4; its first frame
a full dream), and the video: the crossfade from one to the other (the middle half of each equirect, so
the detail shows). Printed: the flicker of each pair.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from functools import partial
from pathlib import Path

import numpy as np

DOCS = Path(__file__).parent
sys.path.insert(0, str(DOCS.parent / "tests"))
from videos import load_panorama, make_video  # noqa: E402  (the tests' synthetic 360° video)

from vrdream.checkpoint import Job  # noqa: E402
from vrdream.engine import EngineOptions, build_dreamer  # noqa: E402
from vrdream.presets import DEFAULT_PRESET, get_preset, video_settings  # noqa: E402
from vrdream.sheet import contact_sheet, save_sheet  # noqa: E402
from vrdream.sphere import SphereOptions  # noqa: E402
from vrdream.tensors import to_tensor  # noqa: E402
from vrdream.video import crossfade_weight, fill_job, job_frame, pair_flicker, sphere_dream_frame  # noqa: E402
from vrdream.videoio import iter_frames  # noqa: E402

SAMPLE = DOCS.parent / "vrdream" / "samples" / "mars.jpg"
FRAMES, SEGMENT = 20, 12


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=384)
    args = parser.parse_args()
    settings = get_preset(DEFAULT_PRESET).settings.replace(device="cpu", steps=4, octaves=2)
    video = dataclasses.replace(video_settings(DEFAULT_PRESET, settings), segment_frames=SEGMENT)
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_video(Path(tmp) / "clip.mp4", load_panorama(SAMPLE, args.width), FRAMES, audio=None)
        job = Job(Path(tmp) / "job", FRAMES, {})
        dream_frame = sphere_dream_frame(build_dreamer(EngineOptions(settings)), SphereOptions())
        fill_job(job, partial(iter_frames, clip), dream_frame, video, source=clip)
        shown = (3, 5, 7, 9, 11, 12)
        w = args.width

        def front(frame: np.ndarray) -> np.ndarray:  # the middle half of the equirect: detail large enough to see
            return frame[:, w // 4 : 3 * w // 4]

        blank = np.full_like(front(job.load_uint8(0)), 255)
        tiles = [(f"first segment · {i}", front(job.load_uint8(i))) if i < SEGMENT else ("", blank) for i in shown]
        tiles += [
            (f"second segment · {i}{' (lead-in)' if i < SEGMENT else ''}", front(job.load_uint8(i, lead=i < SEGMENT)))
            if i >= SEGMENT - video.crossfade_frames
            else ("", blank)
            for i in shown
        ]
        tiles += [
            (f"video · {i} · weight {crossfade_weight(i, FRAMES, video):.2f}", front(job_frame(job, video, i)))
            for i in shown
        ]
        raws = [to_tensor(f) for f in iter_frames(clip)]
        flicker = pair_flicker(raws, [to_tensor(job_frame(job, video, i) / 255.0) for i in range(FRAMES)])
        print("flicker per pair (t-1, t):", {t: round(f, 4) for t, f in enumerate(flicker, start=1)})
    sheet = contact_sheet(
        tiles,
        columns=len(shown),
        width=320,
        title=f"segments of {SEGMENT} frames: the second fades in over {video.crossfade_frames} (weight after ·)",
    )
    save_sheet(sheet, DOCS / "segments.png")
    print("wrote", DOCS / "segments.png")


if __name__ == "__main__":
    main()
