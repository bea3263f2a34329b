"""``vrdream batch --workers 2`` on a local Ray: the same outputs as single runs, pixel for pixel, failures
in their own jobs, finished jobs skipped, and a worker that cannot see an input says so.

One local Ray (2 CPUs) serves the whole module: starting one takes seconds and hundreds of MB.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from test_batch import (
    FEW,
    check_batch_result,
    check_second_run_does_nothing,
    dream_singly,
    few_request,
    make_inputs,
)
from videos import load_panorama, make_video

from vrdream.batch import BatchRequest, batch_files
from vrdream.cli import main
from vrdream.video import VideoSettings

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'vrdream[ray]'")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A local Ray of 2 CPUs for this module; ``vrdream batch`` uses a Ray already initialised as it is."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    yield
    ray.shutdown()


@pytest.mark.slow
def test_a_batch_on_two_workers(local_ray: None, tmp_path: Path, sample_pano: Path) -> None:
    inputs = make_inputs(tmp_path / "in", sample_pano)
    reference = dream_singly(inputs[:3], tmp_path / "single")
    out = tmp_path / "out"
    argv = ["batch", str(tmp_path / "in"), "-o", str(out), "--workers", "2", *FEW]
    assert main(argv) == 2
    rows = check_batch_result(out, reference, inputs[3])
    check_second_run_does_nothing(argv, out, rows, inputs[3])
    assert ray.is_initialized()  # the caller's Ray is left running


@pytest.mark.slow
def test_a_worker_that_cannot_read_an_input_fails_that_job(local_ray: None, tmp_path: Path) -> None:
    missing = tmp_path / "elsewhere" / "pano.jpg"  # as on a node that does not share the driver's disk
    result = batch_files([missing], tmp_path / "out", BatchRequest(), workers=2, quiet=True)
    (job,) = result.failed
    assert job.error is not None and job.error.startswith(f"{missing}: cannot be read on worker ")
    assert job.error.endswith("inputs and outputs must be on a path every node shares")


def _process_titled(title: str) -> int | None:
    """A process whose title starts with ``title`` (Ray titles a busy actor ``ray::CLASS.METHOD``), from /proc."""
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cmdline").read_bytes().startswith(title.encode()):
                return int(proc.name)
        except OSError:
            continue  # a process that ended meanwhile
    return None


class _Killer(threading.Thread):
    """Kills (SIGKILL, as a lost node) the process titled ``title`` once ``ready()``; ``pids``: whom it killed."""

    def __init__(self, ready: Callable[[], bool], title: str) -> None:
        super().__init__(daemon=True)
        self.ready, self.title, self.pids = ready, title, list[int]()

    def run(self) -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not self.pids:
            pid = _process_titled(self.title)
            if pid is not None and self.ready():
                os.kill(pid, signal.SIGKILL)
                self.pids.append(pid)
            time.sleep(0.05)


def _kill_when(ready: Callable[[], bool], title: str) -> _Killer:
    killer = _Killer(ready, title)
    killer.start()
    return killer


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds the worker's process in /proc (Linux)")
def test_a_killed_worker_s_job_runs_again_to_the_end(local_ray: None, tmp_path: Path, sample_pano: Path) -> None:
    from vrdream.videoio import probe

    video = make_video(tmp_path / "clip.mp4", load_panorama(sample_pano, 128), frames=6, audio=None)
    out = tmp_path / "out"
    # Two frames stored, four to go.
    killed = _kill_when(lambda: any(out.glob(".vrdream-*/000001.png")), "ray::RayWorker.run")
    result = batch_files([video], out, few_request(), workers=2, quiet=True)
    killed.join()
    assert killed.pids, "the worker was never seen running the video"
    (job,) = result.jobs
    assert job.status == "done", job.error
    assert probe(out / "clip.mp4").frames == 6


def _timestamps(path: Path) -> list[tuple[int | None, object]]:
    """Every video frame's presentation time (pts, time base), in order."""
    import av

    with av.open(str(path)) as container:
        return [(f.pts, f.time_base) for f in container.decode(video=0)]


@pytest.mark.slow
def test_a_video_on_two_workers_is_the_single_worker_s(local_ray: None, tmp_path: Path, sample_pano: Path) -> None:
    """12 frames in 2 segments on 2 workers: the single worker's frames (every one, the crossfade included),
    frame count and timestamps, audio, 360° metadata and provenance record. (The flicker at a join:
    tests/test_segments.py and bench/scale.py.)"""
    from vrdream.record import read_record, sidecar_path
    from vrdream.spherical import read_spherical
    from vrdream.videoio import iter_rgb24, probe

    clip = make_video(tmp_path / "clip.mp4", load_panorama(sample_pano, 128), frames=12)
    whole, split = tmp_path / "whole.mp4", tmp_path / "split.mp4"
    segments = ["--segment-frames", "6"]
    assert main(["video", str(clip), "-o", str(whole), *FEW, *segments]) == 0
    assert main(["video", str(clip), "-o", str(split), "--workers", "2", *FEW, *segments]) == 0
    assert _timestamps(split) == _timestamps(whole) and len(_timestamps(split)) == 12
    assert probe(split).audio == probe(whole).audio and probe(split).fps == probe(whole).fps
    assert read_spherical(split).has_v1 and read_spherical(split).projection == "equirectangular"
    assert list(tmp_path.glob(".vrdream-*")) == []  # checkpoints removed after the encode
    for a, b in zip(iter_rgb24(whole), iter_rgb24(split), strict=True):
        np.testing.assert_array_equal(a, b)
    assert (
        read_record(sidecar_path(split))["recipe"]["settings"] == read_record(sidecar_path(whole))["recipe"]["settings"]
    )


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds the worker's process in /proc (Linux)")
def test_a_killed_segment_worker_s_segment_runs_again(local_ray: None, tmp_path: Path, sample_pano: Path) -> None:
    from vrdream.segments import video_on_workers
    from vrdream.video import video_file
    from vrdream.videoio import iter_rgb24

    clip = make_video(tmp_path / "clip.mp4", load_panorama(sample_pano, 128), frames=8, audio=None)
    out = tmp_path / "out.mp4"
    killed = _kill_when(lambda: any(tmp_path.glob(".vrdream-*/000001.png")), "ray::SegmentWorker.run")
    video = dataclasses.replace(VideoSettings(), segment_frames=4, crossfade_frames=2, warmup_frames=1)
    video_on_workers(clip, out, few_request().dream.engine, video, workers=2, quiet=True)
    killed.join()
    assert killed.pids, "no segment worker was seen running"
    times = _timestamps(out)
    assert len(times) == 8 and len(set(times)) == 8  # every frame once
    single = video_file(clip, tmp_path / "single.mp4", few_request().dream.engine, video, quiet=True)
    for a, b in zip(iter_rgb24(single), iter_rgb24(out), strict=True):  # none doubled, none re-made otherwise
        np.testing.assert_array_equal(a, b)
