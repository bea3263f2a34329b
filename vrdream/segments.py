"""One long 360° video dreamed by several Ray workers at once, segment by segment, joined into one video.

A video is dreamed in segments (:func:`vrdream.video.plan_segments`) whatever the number of workers: each segment
leads in on frames of its own and fades in over the previous segment's last frames, and needs nothing from it.
So the segments are the workers' tasks, handed out as workers come free, and the video is the one a single
process makes, frame for frame. Every frame is a checkpoint in the one job folder beside the output (on a
path all workers share: the same folder a single process uses, so a job can be resumed with any number of
workers), which is also what the encode reads: the joined video has the input's frame count, frame rate and
audio, and 360° metadata, exactly as one worker's. A segment is the unit of retry: a worker that dies is
restarted by Ray and its segment run again, resuming after its last stored frame.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch

from .checkpoint import Job, open_job
from .dream import Dreamer
from .engine import EngineOptions, build_dreamer
from .errors import InputError, VrdreamError
from .record import Recipe
from .sphere import SphereOptions
from .video import (
    Segment,
    VideoSettings,
    check_video_job,
    dream_segment,
    encode_job,
    plan_segments,
    segments_progress,
    sphere_dream_frame,
    video_recipe,
)
from .videoio import EncodeSettings, iter_frames
from .workers import actor_count, ray_session, run_on_actors, wants_ray


class SegmentWorker:
    """A Ray actor: one worker's dream engine, built on its first segment and kept for the others."""

    def __init__(
        self, engine: EngineOptions, sphere: SphereOptions, video: VideoSettings, encode: EncodeSettings, frames: Any
    ) -> None:
        self.engine, self.sphere, self.video, self.encode = engine, sphere, video, encode
        self.frames = frames  # a ray.util.queue.Queue: one item per stored frame, for the driver's bar
        self._dreamer: Dreamer | None = None

    def run(self, src: str, job: Job, segment: Segment) -> tuple[int, Recipe]:
        """Dream ``segment``; returns the index after its last frame stored, and the recipe of what was made."""
        if self._dreamer is None:
            self._dreamer = build_dreamer(self.engine)
        done = dream_segment(
            functools.partial(iter_frames, src),
            job,
            sphere_dream_frame(self._dreamer, self.sphere),
            self.video,
            segment,
            device=self._dreamer.device,
            on_frame=lambda: self.frames.put(1),
        )
        return done, video_recipe(src, self.engine, self.video, self.sphere, self.encode, self._dreamer)


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
    overwrite: bool = False,
    quiet: bool = False,
    keep_checkpoints: bool = False,
) -> Path:
    """``vrdream video --workers N`` (or ``--ray ADDRESS``): :func:`vrdream.video.video_file` with its segments
    dreamed on Ray workers (:mod:`vrdream.workers`), joined into one video: the same video, frame for frame.

    The job (its checkpoint folder) is :func:`~vrdream.video.video_file`'s, so either can resume the other's.
    """
    from .presets import video_settings

    wants_ray(max(workers, 2), ray_address)  # here workers always mean Ray
    src, dst = Path(src), Path(dst)
    info = check_video_job(src, dst, encode, overwrite=overwrite)
    video = video or video_settings(engine.preset, engine.settings)
    segments = plan_segments(info.frames, video)
    with ray_session(workers, ray_address) as ray:
        from ray.util.queue import Queue

        job = open_job(src, dst, (video, repr((engine, sphere))), info.frames)
        frames = Queue(actor_options={"num_cpus": 0})
        failed: list[str] = []
        short: list[int] = []  # where a segment's raw frames ran out
        recipes: list[Recipe] = []
        with job.resumable(), segments_progress(job, segments, quiet) as bar:

            def ended(segment: Segment, result: tuple[int, Recipe] | None, error: str | None, started: float) -> None:
                if error is not None:
                    failed.append(f"{src}: frames {segment.start}-{segment.stop - 1}: worker failed: {error}")
                elif result is not None:
                    short.extend([result[0]] if result[0] < segment.stop else [])
                    recipes.append(result[1])

            run_on_actors(
                ray,
                SegmentWorker,
                (engine, sphere, video, encode, frames),
                segments,
                lambda actor, segment: actor.run.remote(str(src), job, segment),
                ended,
                actors=actor_count(ray, workers, len(segments)),
                threads=torch.get_num_threads(),
                poll=lambda: bar.update(len(frames.get_nowait_batch(frames.qsize()))),
            )
    if failed:
        raise VrdreamError(failed[0])
    if short:
        raise InputError(src, f"video ended after {min(short)} of {info.frames} frames")
    return encode_job(
        job,
        video,
        dst,
        src,
        info,
        encode,
        recipe=recipes[0] if recipes else None,
        overwrite=overwrite,
        keep_checkpoints=keep_checkpoints,
    )
