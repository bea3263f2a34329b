"""A video in segments (what ``vrdream video --workers N`` hands each worker): the cuts cover every frame once,
a segment's warm-up frames are dreamed and dropped, the first segment is the single run's frames, and a
segment resumes after its last stored frame. The dream is the tests' cheap stand-in; the Ray side is in
tests/test_batch_ray.py."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from videos import attractor_dream, load_panorama, make_video

from vrdream.checkpoint import Job
from vrdream.segments import plan_segments
from vrdream.video import VideoSettings, dream_span
from vrdream.videoio import iter_frames

FRAMES = 6


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory, sample_pano: Path) -> Path:
    return make_video(tmp_path_factory.mktemp("seg") / "clip.mp4", load_panorama(sample_pano, 128), FRAMES, audio=None)


class Counting:
    """``attractor_dream``, recording the steps of each call."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, raw: torch.Tensor, init: torch.Tensor | None, steps: int) -> torch.Tensor:
        self.calls.append(steps)
        return attractor_dream(raw, init, steps)


@pytest.mark.parametrize(("frames", "count"), [(24, 2), (10, 3), (5, 8), (1, 4)])
def test_segments_cover_every_frame_once(frames: int, count: int) -> None:
    segments = plan_segments(frames, count)
    assert len(segments) == min(frames, count)
    assert [f for start, stop in segments for f in range(start, stop)] == list(range(frames))
    sizes = [stop - start for start, stop in segments]
    assert max(sizes) - min(sizes) <= 1


def test_a_segment_warms_up_on_frames_it_does_not_keep(tmp_path: Path, clip: Path) -> None:
    s = VideoSettings()
    whole, split = Job(tmp_path / "whole", FRAMES, {}), Job(tmp_path / "split", FRAMES, {})
    assert dream_span(partial(iter_frames, clip), whole, Counting(), s, 0, FRAMES) == FRAMES
    first, second = Counting(), Counting()
    assert dream_span(partial(iter_frames, clip), split, first, s, 0, 3, warmup=2) == 3
    assert dream_span(partial(iter_frames, clip), split, second, s, 3, FRAMES, warmup=2) == FRAMES
    assert first.calls == [s.steps_first] + [s.steps_next] * 2  # no warm-up before frame 0
    assert second.calls == [s.steps_first] + [s.steps_next] * 4  # frames 1, 2 dropped; 3, 4, 5 kept
    assert split.first_missing() == FRAMES
    for i in range(3):  # the first segment is the single run
        np.testing.assert_array_equal(split.load_uint8(i), whole.load_uint8(i))
    assert np.abs(split.load(3) - whole.load(3)).mean() > 0  # the second grew from its own first dream


def test_a_segment_resumes_after_its_last_stored_frame(tmp_path: Path, clip: Path) -> None:
    s = VideoSettings()
    once, twice = Job(tmp_path / "once", FRAMES, {}), Job(tmp_path / "twice", FRAMES, {})
    dream_span(partial(iter_frames, clip), once, Counting(), s, 2, FRAMES, warmup=1)
    dream_span(partial(iter_frames, clip), twice, Counting(), s, 2, 4, warmup=1)  # stopped after frame 3
    again = Counting()
    assert dream_span(partial(iter_frames, clip), twice, again, s, 2, FRAMES, warmup=1) == FRAMES
    assert again.calls == [s.steps_next] * 2  # frames 4 and 5, carried on from the stored frame 3
    for i in range(2, FRAMES):
        np.testing.assert_array_equal(twice.load_uint8(i), once.load_uint8(i))
    assert not twice.frame_path(0).exists() and not twice.frame_path(1).exists()
