"""Progress bars with ETA on the terminal, silent when asked (``--quiet``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from tqdm.auto import tqdm


def progress(total: float | None = None, desc: str = "", quiet: bool = False, unit: str = "it", **kw: Any) -> tqdm:
    """A tqdm bar writing to stderr; ``quiet`` disables it entirely."""
    return tqdm(total=total, desc=desc, disable=quiet, unit=unit, dynamic_ncols=True, leave=False, **kw)


def weighted_steps(bar: tqdm, stages: Sequence[tuple[int, float]]) -> Callable[[], None]:
    """An ``on_step`` callback for a dream run in ``stages`` of (steps, work per step), in order:
    each call advances ``bar`` by its step's work, so the ETA holds when later steps cost more
    (an 8K dream's finest octave costs 16 times a step at 2K). ``bar.total`` should be the summed work."""
    work = iter([w for steps, w in stages for _ in range(steps)])
    return lambda: bar.update(next(work))


@contextmanager
def work_progress(
    stages: Sequence[tuple[int, float]], desc: str = "", quiet: bool = False, unit: str = "px"
) -> Iterator[Callable[[], None]]:
    """A bar over a dream's ``stages`` of (steps, work per step); yields the ``on_step`` callback
    (:func:`weighted_steps`). The rate is averaged since the start (no smoothing): once work is
    what is counted, the rate is steady, and its long average gives the steadiest ETA."""
    with progress(sum(n * w for n, w in stages), desc, quiet, unit=unit, unit_scale=True, smoothing=0) as bar:
        yield weighted_steps(bar, stages)
