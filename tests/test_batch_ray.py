"""``vrdream batch --workers 2`` on a local Ray: the same outputs as single runs, pixel for pixel, failures
in their own jobs, finished jobs skipped, and a worker that cannot see an input says so.

One local Ray (2 CPUs) serves the whole module: starting one takes seconds and hundreds of MB.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

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


def _busy_worker_pid() -> int | None:
    """The process of a Ray worker actor running a job (Ray titles it ``ray::RayWorker.run``), from /proc."""
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cmdline").read_bytes().startswith(b"ray::RayWorker.run"):
                return int(proc.name)
        except OSError:
            continue  # a process that ended meanwhile
    return None


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds the worker's process in /proc (Linux)")
def test_a_killed_worker_s_job_runs_again_to_the_end(local_ray: None, tmp_path: Path, sample_pano: Path) -> None:
    from vrdream.videoio import probe

    video = make_video(tmp_path / "clip.mp4", load_panorama(sample_pano, 128), frames=6, audio=None)
    out = tmp_path / "out"
    killed: list[int] = []

    def kill_the_worker_mid_video() -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not killed:
            pid = _busy_worker_pid()
            if pid is not None and any(out.glob(".vrdream-*/000001.png")):  # two frames stored, four to go
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_worker_mid_video, daemon=True)
    killer.start()
    result = batch_files([video], out, few_request(), workers=2, quiet=True)
    killer.join()
    assert killed, "the worker was never seen running the video"
    (job,) = result.jobs
    assert job.status == "done", job.error
    assert probe(out / "clip.mp4").frames == 6
