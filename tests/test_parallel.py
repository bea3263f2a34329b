"""Items side by side (vrdream.parallel): each runs once, on its share of torch's threads; a failure stops the rest."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import torch

from vrdream.parallel import run_side_by_side


@pytest.fixture
def two_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_every_item_runs_once_on_its_share_of_the_threads(two_threads: None) -> None:
    seen: dict[int, tuple[str, int]] = {}

    def one(item: int) -> None:
        time.sleep(0.01)
        seen[item] = (threading.current_thread().name, torch.get_num_threads())

    run_side_by_side(one, range(6), concurrent=2)
    assert sorted(seen) == list(range(6))
    assert {threads for _, threads in seen.values()} == {1}  # two workers share the two threads
    assert len({name for name, _ in seen.values()}) == 2 and torch.get_num_threads() == 2


def test_one_at_a_time_runs_in_this_thread() -> None:
    names: list[str] = []
    run_side_by_side(lambda item: names.append(threading.current_thread().name), [1, 2, 3], concurrent=1)
    assert names == [threading.current_thread().name] * 3


def test_a_failure_is_raised_after_the_running_items_end_and_the_rest_never_start(two_threads: None) -> None:
    started: set[int] = set()
    ended: set[int] = set()

    def one(item: int) -> None:
        started.add(item)
        if item == 1:
            raise ValueError("item 1 is bad")
        time.sleep(0.05)
        ended.add(item)

    with pytest.raises(ValueError, match="item 1 is bad"):
        run_side_by_side(one, range(20), concurrent=2)
    at_raise = (set(started), set(ended))
    time.sleep(0.2)  # anything still running or queued would show now
    assert (started, ended) == at_raise
    assert started - ended == {1} and len(started) < 20
