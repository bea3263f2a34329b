"""One long 360° video dreamed by several Ray workers at once, in segments, joined into one video.

The clip is cut into as many consecutive segments as there are workers. A segment is dreamed like a
whole video (:func:`vrdream.video.dream_span`), optionally starting ``warmup`` frames early (dreamed
and dropped, so that the detail carried along the flow has built up by its first kept frame). The cut
still shows: each segment carries a hallucination of its own (:data:`WARMUP`). Every kept
frame is a checkpoint in the one job folder beside the output (on a path all workers share), which
is also what the encode reads: the joined video has the input's frame count, frame rate and audio,
and 360° metadata, exactly as one worker's. A segment is the unit of retry: a worker that dies is
restarted by Ray and its segment run again, resuming after its last stored frame.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from .checkpoint import Job, open_job
from .dream import Dreamer
from .engine import EngineOptions, build_dreamer
from .errors import InputError, VrdreamError
from .progress import progress
from .sphere import SphereOptions
from .video import VideoSettings, check_video_job, dream_span, encode_job, sphere_dream_frame
from .videoio import EncodeSettings, iter_frames
from .workers import actor_count, ray_session, run_on_actors, wants_ray

#: Frames dreamed and dropped before a segment's first kept frame. Measured (bench/scale.py): 0 to 8 leave
#: the cut's flicker alike, about 1.7x the clip's median, since the carried detail keeps each segment's own
#: hallucination rather than settling into its neighbour's; so none by default.
WARMUP = 0


def plan_segments(frames: int, count: int) -> list[tuple[int, int]]:
    """``count`` consecutive (start, stop) frame ranges covering ``0..frames``, as even as can be."""
    count = max(1, min(count, frames))
    cuts = [round(i * frames / count) for i in range(count + 1)]
    return list(zip(cuts[:-1], cuts[1:]))


class SegmentWorker:
    """A Ray actor: one worker's dream engine, built on its first segment and kept for the others."""

    def __init__(self, engine: EngineOptions, sphere: SphereOptions, video: VideoSettings, frames: Any) -> None:
        self.engine, self.sphere, self.video = engine, sphere, video
        self.frames = frames  # a ray.util.queue.Queue: one item per stored frame, for the driver's bar
        self._dreamer: Dreamer | None = None

    def run(self, src: str, job: Job, start: int, stop: int, warmup: int) -> int:
        if self._dreamer is None:
            self._dreamer = build_dreamer(self.engine)
        return dream_span(
            functools.partial(iter_frames, src),
            job,
            sphere_dream_frame(self._dreamer, self.sphere),
            self.video,
            start,
            stop,
            warmup=warmup,
            device=self._dreamer.device,
            on_frame=lambda: self.frames.put(1),
        )


def video_on_workers(
    src: str | Path,
    dst: str | Path,
    engine: EngineOptions = EngineOptions(),
    video: VideoSettings | None = None,
    *,
    sphere: SphereOptions = SphereOptions(),
    encode: EncodeSettings = EncodeSettings(),
    workers: int = 2,
    ray_address: str | None = None,
    warmup: int = WARMUP,
    overwrite: bool = False,
    quiet: bool = False,
    keep_checkpoints: bool = False,
) -> Path:
    """``vrdream video --workers N`` (or ``--ray ADDRESS``): :func:`vrdream.video.video_file` in segments on Ray
    workers (:mod:`vrdream.workers`), joined into one video.

    The checkpoints are keyed by the segments too, so a rerun resumes with the same cuts (the same number of
    workers); another number starts afresh.
    """
    from .presets import video_settings

    wants_ray(max(workers, 2), ray_address)  # here workers always mean Ray
    src, dst = Path(src), Path(dst)
    info = check_video_job(src, dst, encode, overwrite=overwrite)
    video = video or video_settings(engine.preset, engine.settings)
    with ray_session(workers, ray_address) as ray:
        from ray.util.queue import Queue

        segments = plan_segments(info.frames, actor_count(ray, workers, info.frames))
        job = open_job(src, dst, (video, repr((engine, sphere)), segments, warmup), info.frames)
        frames = Queue(actor_options={"num_cpus": 0})
        stored = sum(job.frame_path(i).exists() for i in range(info.frames))
        failed: list[str] = []
        with job.resumable(), progress(info.frames, "dreaming frames", quiet, unit="frame", initial=stored) as bar:

            def ended(segment: tuple[int, int], done: int | None, error: str | None, started: float) -> None:
                if error is not None:
                    failed.append(f"{src}: frames {segment[0]}-{segment[1] - 1}: worker failed: {error}")

            run_on_actors(
                ray,
                SegmentWorker,
                (engine, sphere, video, frames),
                segments,
                lambda actor, seg: actor.run.remote(str(src), job, seg[0], seg[1], warmup),
                ended,
                actors=len(segments),
                poll=lambda: bar.update(len(frames.get_nowait_batch(frames.qsize()))),
            )
    if failed:
        raise VrdreamError(failed[0])
    done = job.first_missing()
    if done < info.frames:
        raise InputError(src, f"video ended after {done} of {info.frames} frames")
    return encode_job(job, dst, src, info, encode, overwrite=overwrite, keep_checkpoints=keep_checkpoints)
