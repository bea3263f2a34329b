"""Scale-out: throughput on 1 and 2 local workers, and the flicker where one segment of a video hands over
to the next (``vrdream video``'s segments, what ``--workers N`` shares out) against the crossfade and
warm-up lengths.

A 24-frame synthetic 360° clip (the sample turning, a moving disc) is dreamed whole (one segment), and in
segments of 12 frames, the second led in by ``warmup`` frames dreamed and dropped and ``crossfade`` frames
faded over the first's last ones (:func:`vrdream.video.plan_segments`). Flicker per frame pair is
mean |dream_t - warp(dream_t-1)| (as bench/video.py measures it); the join's flicker is the largest over the
pairs from the crossfade's first frame to the second segment's first own frame, reported as a ratio to the
median flicker of the other pairs of the same run (the baseline, measured in the same run). The segments
run one after the other in this process: on Ray each is the same computation
(:func:`vrdream.video.dream_segment`), only elsewhere, and the frames are the same.

Throughput: ``vrdream batch`` of 4 stills and ``vrdream video`` of one 48-frame clip (segments of 12), each
on 1 worker (this process, no Ray) and on 2 local Ray workers (Ray's start-up included: what a user waits
for), as frames/s and photospheres/min with their ratio. This machine has 2 cores: with 2 workers each
runs the command's own thread count (see :func:`vrdream.workers.run_on_actors`), so they share the same
cores and little gain is expected here; the rows show what Ray's overhead costs.

The costs of one 4K (3840x1920) frame besides the network, which a GPU does not take away (docs/scale-out.md
builds its cluster model on them): the sphere's optical flow (OpenCV's Farneback on the CPU), a checkpoint
written and read (PNG), and the final encode's rate (libx264, the default settings, one process); and the
network's work for a video frame of the hallucination-machine preset in megapixels x steps.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from bench.common import best_of, write_results
from vrdream.batch import BatchRequest, batch_files
from vrdream.checkpoint import Job
from vrdream.engine import EngineOptions, build_dreamer
from vrdream.pipeline import DreamRequest
from vrdream.presets import DEFAULT_PRESET, get_preset, video_settings
from vrdream.quantize import to_uint8
from vrdream.segments import video_on_workers
from vrdream.sphere import SphereOptions
from vrdream.tensors import to_tensor
from vrdream.video import fill_job, job_frame, pair_flicker, sphere_dream_frame, video_file
from vrdream.videoio import iter_frames

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from videos import load_panorama, make_video  # noqa: E402  (the tests' synthetic 360° clip maker)

SAMPLE = Path(__file__).resolve().parent.parent / "vrdream" / "samples" / "mars.jpg"
FRAMES = 24
SEGMENT = 12
#: (crossfade, warm-up) pairs; None: the whole clip as one segment.
JOINS = (None, (0, 0), (0, 4), (4, 0), (8, 0), (8, 4))
#: (width, settings changes): the tests' cheap dream, and a fuller one (2 octaves, 4 steps) where there is time.
CASES = ((128, {"steps": 1, "octaves": 1, "detail_steps": 0}), (256, {"steps": 4, "octaves": 2}))


def throughput(tmp: Path) -> list[dict]:
    """Stills per minute and video frames per second on 1 worker and on 2 local Ray workers."""
    settings = get_preset(DEFAULT_PRESET).settings.replace(device="cpu", steps=4, octaves=2)
    engine = EngineOptions(settings)
    pano = load_panorama(SAMPLE, 256)
    stills = [tmp / f"still{i}.png" for i in range(4)]
    for i, path in enumerate(stills):  # the sample turned in yaw: four different photospheres
        Image.fromarray(to_uint8(np.roll(pano, pano.shape[1] * i // 4, axis=1))).save(path)
    clip = make_video(tmp / "long.mp4", pano, frames=48, audio=None)
    video = dataclasses.replace(video_settings(DEFAULT_PRESET, settings), segment_frames=12)
    rows = []
    for workers in (1, 2):
        t = time.perf_counter()
        batch_files(
            stills, tmp / f"batch{workers}", BatchRequest(DreamRequest(engine=engine)), workers=workers, quiet=True
        )
        stills_s = time.perf_counter() - t
        t = time.perf_counter()
        if workers == 1:
            video_file(clip, tmp / "v1.mp4", engine, video, quiet=True)
        else:
            video_on_workers(clip, tmp / "v2.mp4", engine, video, workers=workers, quiet=True)
        video_s = time.perf_counter() - t
        rows.append({"workers": workers, "photospheres/min": 4 * 60 / stills_s, "frames/s": 48 / video_s})
        print(rows[-1], flush=True)
    for row in rows:
        row["photospheres vs 1"] = row["photospheres/min"] / rows[0]["photospheres/min"]
        row["frames vs 1"] = row["frames/s"] / rows[0]["frames/s"]
    return rows


def frame_costs_4k(tmp: Path) -> list[dict]:
    """Seconds per 4K frame of the work around the network, and the network's pixels x steps per frame."""
    from vrdream.flow import FlowSettings, sphere_flow
    from vrdream.sphere import VIEW_PAD, step_pixels
    from vrdream.videoio import write_video

    h, w = 1920, 3840
    pano = np.asarray(Image.open(SAMPLE).convert("RGB").resize((w, h), Image.Resampling.BICUBIC), np.float32) / 255.0
    a, b = to_tensor(pano), to_tensor(np.roll(pano, 8, axis=1))
    rows = [{"stage": "optical flow (CPU)", "s/frame": best_of(lambda: sphere_flow(a, b, FlowSettings()), 2, 0)}]
    job = Job(tmp / "job4k", 1, {})

    def checkpoint() -> None:
        job.save(0, pano)
        job.load(0)

    rows.append({"stage": "checkpoint write + read (PNG)", "s/frame": best_of(checkpoint, 2, 0)})
    frames = 24
    t = time.perf_counter()
    write_video(tmp / "enc.mp4", (to_uint8(np.roll(pano, 8 * i, axis=1)) for i in range(frames)), Fraction(30))
    rows.append({"stage": "encode (libx264 crf 18 medium)", "s/frame": (time.perf_counter() - t) / frames})
    # The network's work of a video frame with the hallucination-machine preset (vrdream.video): a segment's
    # first frame is a full dream (octaves x steps_first), every later one steps_next on the finest face only.
    preset = get_preset("hallucination-machine").settings
    video = video_settings("hallucination-machine", preset)
    face = SphereOptions().face_for(w)
    faces = [round(face * preset.octave_scale**-i) for i in range(preset.octaves)]
    rows.append(
        {"stage": "network: later frame", "megapixel-steps": video.steps_next * step_pixels(face, VIEW_PAD) / 1e6}
    )
    first = video.steps_first * sum(step_pixels(n, VIEW_PAD) for n in faces) / 1e6
    rows.append({"stage": "network: a segment's first frame", "megapixel-steps": first})
    return rows


def join_flicker(tmp: Path) -> list[dict]:
    """The flicker at a join against the crossfade and warm-up lengths (the module's description)."""
    rows = []
    for width, changes in CASES:
        clip = make_video(tmp / f"clip{width}.mp4", load_panorama(SAMPLE, width), frames=FRAMES, audio=None)
        raws = [to_tensor(f) for f in iter_frames(clip)]
        settings = get_preset(DEFAULT_PRESET).settings.replace(device="cpu", **changes)
        dream_frame = sphere_dream_frame(build_dreamer(EngineOptions(settings)), SphereOptions())
        for join in JOINS:
            crossfade, warmup = join or (0, 0)
            video = dataclasses.replace(
                video_settings(DEFAULT_PRESET, settings),
                segment_frames=0 if join is None else SEGMENT,
                crossfade_frames=crossfade,
                warmup_frames=warmup,
            )
            job = Job(tmp / f"job{width}-{join}", FRAMES, {})
            fill_job(job, partial(iter_frames, clip), dream_frame, video, source=clip, quiet=True)
            flicker = pair_flicker(raws, [to_tensor(job_frame(job, video, i) / 255.0) for i in range(FRAMES)])
            at_join = range(SEGMENT - crossfade - 1, SEGMENT)  # pairs (t-1, t), t = first crossfade .. SEGMENT
            others = statistics.median(f for i, f in enumerate(flicker) if i not in at_join)
            rows.append(
                {
                    "width": width,
                    "crossfade": "whole clip" if join is None else crossfade,
                    "warm-up": "" if join is None else warmup,
                    "join flicker": max(flicker[i] for i in at_join),
                    "median other": others,
                    "ratio": max(flicker[i] for i in at_join) / others,
                    "frames dreamed": FRAMES + (0 if join is None else crossfade + warmup),
                }
            )
            print(rows[-1], flush=True)
    return rows


#: ``--part``: (results name, rows maker, note).
PARTS = {
    "4k": (
        "scale_4k",
        frame_costs_4k,
        "One 3840x1920 frame on this CPU: the work around the network (best of 2; the encode: 24 frames), "
        "and the network's work for a video frame of the hallucination-machine preset in megapixel-steps "
        "(forward + backward of inception_v3 to mixed5: bench/results/dream.md gives its GFLOP per 1024x1024 "
        "step).",
    ),
    "workers": (
        "scale_workers",
        throughput,
        "Whole calls: batch_files of 4 stills (256x128, 2 octaves, 4 steps) and one 48-frame 256x128 clip in "
        "segments of 12, on 1 worker (no Ray) and 2 local Ray workers (Ray's start-up included). Ratios are "
        "against 1 worker in the same run.",
    ),
    "joins": (
        "scale",
        join_flicker,
        f"Flicker where a {SEGMENT}-frame segment hands over to the next in a {FRAMES}-frame clip: the largest "
        "of the pairs from the crossfade's first frame to the next segment's first own frame, over the median "
        "of the other pairs ('whole clip': one segment, the same pairs). Target (issue 13): ratio <= 1.3. "
        "'frames dreamed': the lead-in's cost (a first frame costs steps_first, the others steps_next).",
    ),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale")
    parser.add_argument("--part", choices=("all", *PARTS), default="all", help="one part of the bench")
    part = parser.parse_args(argv).part
    with tempfile.TemporaryDirectory() as tmp:
        for name, (results, rows, note) in PARTS.items():
            if part in ("all", name):
                write_results(results, rows(Path(tmp)), note)


if __name__ == "__main__":
    main()
