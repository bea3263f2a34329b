"""Work items side by side on the CPU's cores, sharing torch's threads between them.

Used where one item keeps less than the machine busy: EfficientNet-Lite's network passes
(:func:`vrdream.gradient.input_gradient`) and OpenCV's Farneback flow on the six cube faces
(:func:`vrdream.flow.sphere_flow`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

import torch

T = TypeVar("T")


def run_side_by_side(fn: Callable[[T], None], items: Sequence[T], concurrent: int) -> None:
    """``fn`` on every item, ``concurrent`` at a time (no more than the items or torch's threads) in threads
    that share torch's CPU threads between them (each runs its ops on its share of them); in this thread
    when that is one.
    ``fn`` returns nothing: each item writes its own part of a result. An item's exception is raised here.

    Why: measured on this 2-core CPU, EfficientNet-Lite's passes scale poorly over torch's two threads
    (a dream used 1.0-1.4 cores), and on a busy machine each parallel op waits at its end for the thread
    that was descheduled. Two passes side by side, one thread each, keep both cores on their own work
    (torch's ops release the GIL). Each thread's pass holds its own activations: the memory budget is
    shared between them (:meth:`vrdream.dream.Dreamer.passes`). OpenCV's Farneback keeps about one core
    busy and releases the GIL: two faces at once took 0.55x the time of one after the other.
    """
    workers = min(concurrent, len(items), torch.get_num_threads())  # never more threads than torch is given
    if workers <= 1:
        for item in items:
            fn(item)
        return
    pool = _pool(workers, max(1, torch.get_num_threads() // workers))
    futures = [pool.submit(fn, item) for item in items]
    try:
        for future in futures:
            future.result()
    except BaseException:
        # no item starts after a failure, and the running ones end here rather than behind the caller's back
        for future in futures:
            future.cancel()
        wait(futures)
        raise


@functools.cache
def _pool(workers: int, threads: int) -> ThreadPoolExecutor:
    """Threads for :func:`run_side_by_side`, ``threads`` torch threads each, kept for the process (one pool
    per thread count asked for): made anew each step, every new thread could take another of jemalloc's
    arenas, each keeping the freed pages of a pass's activations."""
    return ThreadPoolExecutor(
        workers, thread_name_prefix="vrdream-side", initializer=torch.set_num_threads, initargs=(threads,)
    )
