"""``vrdream batch --workers 2`` on a local Ray: the same outputs as single runs, pixel for pixel, failures
in their own jobs, finished jobs skipped, and a worker that cannot see an input says so.

One local Ray (2 CPUs) serves the whole module: starting one takes seconds and hundreds of MB.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_batch import FEW, check_batch_result, check_second_run_does_nothing, dream_singly, make_inputs

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
