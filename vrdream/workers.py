"""Work on Ray workers: a local Ray started for one command, or a running cluster joined by its address.

Ray (``pip install 'vrdream[ray]'``) does the scheduling, the retries and the transport; this module only
says how many workers, what each holds, and hands each worker its next task as it finishes one. Each
worker is a Ray actor that builds its dream engine once and keeps it for all its tasks. Nothing here
imports Ray until a command asks for workers, so a single-process command never loads it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from .errors import VrdreamError

T = TypeVar("T")


def wants_ray(workers: int, address: str | None) -> bool:
    """Whether ``--workers N`` / ``--ray ADDRESS`` ask for Ray; refuses a bad count, and says how to install Ray
    when it is missing (before any work)."""
    if workers < 1:
        raise VrdreamError(f"--workers {workers}: must be 1 or more")
    wanted = workers > 1 or address is not None
    if wanted and importlib.util.find_spec("ray") is None:
        flag = f"--ray {address}" if address else f"--workers {workers}"
        raise VrdreamError(f"{flag} needs Ray: pip install 'vrdream[ray]'")
    return wanted


@contextmanager
def ray_session(workers: int, address: str | None) -> Iterator[Any]:
    """The ``ray`` module, initialised: the Ray already running in this process (used as it is and left
    running), else the cluster at ``address``, else a local Ray with ``workers`` CPUs (this machine's, if
    more), shut down at the end and on Ctrl-C. Its logs stay quiet."""
    import ray

    if ray.is_initialized():
        yield ray
        return
    try:
        if address:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        else:
            cpus = max(workers, os.cpu_count() or 1)
            ray.init(num_cpus=cpus, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    except ConnectionError as exc:
        raise VrdreamError(f"--ray {address}: cannot join the cluster ({str(exc).splitlines()[0]})") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def actor_count(ray: Any, workers: int, tasks: int) -> int:
    """How many workers to start: ``workers``, or with 1 (``--ray`` alone) one per GPU of the cluster, else one
    per CPU; never more than there are ``tasks``."""
    resources = ray.cluster_resources()
    everyone = int(resources.get("GPU", 0)) or int(resources.get("CPU", 1))
    return max(1, min(tasks, workers if workers > 1 else everyone))


def run_on_actors(
    ray: Any,
    worker: type,
    args: tuple[Any, ...],
    tasks: Sequence[T],
    call: Callable[[Any, T], Any],
    ended: Callable[[T, Any, str | None, float], None],
    *,
    actors: int,
    threads: int,
    poll: Callable[[], None] = lambda: None,
) -> None:
    """Run ``tasks`` on ``actors`` Ray actors of class ``worker`` (made with ``args``), each given its next task
    as it finishes one: ``call(actor, task)`` starts a task (returns its ObjectRef), ``ended(task, result,
    error, started)`` is told each outcome (``error``: a one-line reason when the worker failed, else None;
    ``started``: :func:`time.monotonic` at its start), ``poll()`` runs twice a second meanwhile.

    ``threads``: torch's CPU threads in each worker. A CPU's floating-point sums depend on how many threads
    share them, so workers given the command's own count (``torch.get_num_threads()``, i.e. ``--threads``)
    make exactly what one process makes; on one machine that oversubscribes its cores (workers there buy
    nothing anyway: bench/results/scale.md).
    """
    resources = ray.cluster_resources()
    gpus, cpus = float(resources.get("GPU", 0)), int(resources.get("CPU", 1))
    # A GPU per actor where there are GPUs (a share of one when more workers are asked for than there are
    # GPUs: small models fit several to a GPU); else the CPUs shared out (Ray sets each actor's
    # OMP_NUM_THREADS to its CPUs, overridden here: see ``threads``).
    share: dict[str, Any] = {"num_gpus": min(1.0, gpus / actors)} if gpus else {"num_cpus": max(1, cpus // actors)}
    share["runtime_env"] = {"env_vars": {"OMP_NUM_THREADS": str(threads)}}
    # A worker that dies (a node lost, a killed process) is restarted and its task run again; the task
    # resumes from its checkpoints.
    remote = ray.remote(worker).options(max_restarts=1, max_task_retries=1, **share)
    pool = [remote.remote(*args) for _ in range(actors)]
    queue = list(tasks)
    running: dict[Any, tuple[T, Any, float]] = {}

    def give(actor: Any) -> None:
        if queue:
            task = queue.pop(0)
            running[call(actor, task)] = (task, actor, time.monotonic())

    for actor in pool:
        give(actor)
    while running:
        ready, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
        poll()
        for future in ready:
            task, actor, started = running.pop(future)
            try:
                result, error = ray.get(future), None
            except ray.exceptions.RayError as exc:
                cause = getattr(exc, "cause", None) or exc
                result, error = None, (str(cause).strip().splitlines() or [type(cause).__name__])[-1]
            ended(task, result, error, started)
            give(actor)
