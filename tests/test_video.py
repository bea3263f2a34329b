"""The video loop: every frame dreamed, 360° output with audio, resumable, and temporally coherent.

The dream engine is replaced by ``attractor_dream`` (tests/videos.py), a cheap deterministic stand-in
with DeepDream's traits that matter here; the check of temporal stability with the real engine
belongs with the engine's tests.
"""

from __future__ import annotations

import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from videos import attractor_dream, dream_sequence, load_panorama, make_video, need_codec

from vrdream.checkpoint import job_key
from vrdream.errors import VrdreamError
from vrdream.spherical import read_spherical
from vrdream.tensors import to_tensor
from vrdream.video import (
    HALLUCINATION_MACHINE,
    VideoSettings,
    dream_video,
    warped_difference,
)
from vrdream.videoio import EncodeSettings, iter_frames, probe

FRAMES = 10


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, sample_pano: Path) -> Path:
    """A 256×128 rotating panorama with a moving disc and a sine track, 10 frames at 24 fps."""
    folder = tmp_path_factory.mktemp("video")
    return make_video(folder / "in.mp4", load_panorama(sample_pano, 256), frames=FRAMES)


class Counting:
    """``attractor_dream`` that counts its calls, and can crash on call ``crash_at`` (an injected failure)."""

    def __init__(self, crash_at: int | None = None) -> None:
        self.calls: list[int] = []
        self.crash_at = crash_at

    def __call__(self, raw: torch.Tensor, init: torch.Tensor | None, steps: int) -> torch.Tensor:
        if self.crash_at is not None and len(self.calls) == self.crash_at:
            raise RuntimeError("injected crash")
        self.calls.append(steps)
        return attractor_dream(raw, init, steps)


def job_folders(folder: Path, out: Path) -> list[Path]:
    return sorted(folder.glob(".vrdream-*"))


def test_dream_video_makes_a_360_video_with_audio(tmp_path: Path, source: Path) -> None:
    dream = Counting()
    out = dream_video(source, tmp_path / "out.mp4", dream, quiet=True)
    info = probe(out)
    assert (info.frames, info.fps, info.width, info.height) == (FRAMES, Fraction(24), 256, 128)
    assert [a.codec for a in info.audio] == ["aac"]
    meta = read_spherical(out)
    assert meta.has_v1 and meta.projection == "equirectangular"
    # A full dream first, then short dreams on the carried detail.
    s = VideoSettings()
    assert dream.calls == [s.steps_first] + [s.steps_next] * (FRAMES - 1)
    # The frames are dreamed (not the raw video), and the checkpoints are gone after the encode.
    raw, dreamed = next(iter_frames(source)), next(iter_frames(out))
    assert np.abs(raw - dreamed).mean() > 0.05
    assert job_folders(tmp_path, out) == []


def test_resume_after_a_crash_is_identical(tmp_path: Path, source: Path) -> None:
    # Two folders: checkpoints are keyed by the job, so the same job in one folder would share them.
    whole = dream_video(source, tmp_path / "a" / "whole.mp4", Counting(), quiet=True, keep_checkpoints=True)
    out = tmp_path / "b" / "resumed.mp4"
    with pytest.raises(RuntimeError, match="injected crash"):
        dream_video(source, out, Counting(crash_at=4), quiet=True, keep_checkpoints=True)
    assert not out.exists()
    again = Counting()
    dream_video(source, out, again, quiet=True, keep_checkpoints=True)
    assert len(again.calls) == FRAMES - 4  # only the frames not yet stored were dreamed
    (a,), (b,) = job_folders(whole.parent, whole), job_folders(out.parent, out)
    for i in range(FRAMES):
        assert (a / f"{i:06d}.png").read_bytes() == (b / f"{i:06d}.png").read_bytes(), i
    assert all(np.array_equal(x, y) for x, y in zip(iter_frames(whole), iter_frames(out), strict=True))


def test_resume_is_keyed_by_the_job_not_the_output_name(tmp_path: Path, source: Path) -> None:
    with pytest.raises(RuntimeError, match="injected crash"):
        dream_video(source, tmp_path / "first try.mp4", Counting(crash_at=4), quiet=True)
    again = Counting()
    out = dream_video(source, tmp_path / "second try.mov", again, quiet=True)
    assert len(again.calls) == FRAMES - 4 and probe(out).frames == FRAMES
    assert job_folders(tmp_path, out) == []


@pytest.mark.slow
def test_resume_after_the_process_is_killed(tmp_path: Path, source: Path) -> None:
    out = tmp_path / "killed.mp4"
    script = (
        "import sys, time\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from videos import attractor_dream\n"
        "from vrdream.video import dream_video\n"
        "def slow(raw, init, steps):\n"
        "    time.sleep(0.4)\n"
        "    return attractor_dream(raw, init, steps)\n"
        f"dream_video({str(source)!r}, {str(out)!r}, slow, quiet=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob(".vrdream-*/[0-9]*.png"))) < 3:
            assert proc.poll() is None, "the job ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoints appeared"
            time.sleep(0.05)
    finally:
        proc.kill()  # SIGKILL: no cleanup runs, as in a power loss
        proc.wait()
    stored = len(list(tmp_path.glob(".vrdream-*/[0-9]*.png")))
    assert 3 <= stored < FRAMES and not out.exists()
    again = Counting()
    dream_video(source, out, again, quiet=True)
    assert len(again.calls) == FRAMES - stored
    whole = dream_video(source, tmp_path / "whole.mp4", Counting(), quiet=True)
    assert all(np.array_equal(x, y) for x, y in zip(iter_frames(whole), iter_frames(out), strict=True))


def test_a_bad_encoder_is_refused_before_any_frame_is_dreamed(tmp_path: Path, source: Path) -> None:
    dream = Counting()
    with pytest.raises(VrdreamError, match="--pix-fmt yuv9000p: libx264 takes yuv420p"):
        dream_video(source, tmp_path / "out.mp4", dream, encode=EncodeSettings(pix_fmt="yuv9000p"), quiet=True)
    assert dream.calls == [] and list(tmp_path.iterdir()) == []


def test_a_webm_dream_video_is_vp9_opus_and_360(tmp_path: Path, source: Path) -> None:
    need_codec("libvpx-vp9")
    webm = dream_video(source, tmp_path / "out.webm", Counting(), encode=EncodeSettings("libvpx-vp9"), quiet=True)
    info = probe(webm)
    assert (info.frames, info.fps, info.codec, [a.codec for a in info.audio]) == (FRAMES, Fraction(24), "vp9", ["opus"])
    assert read_spherical(webm).projection == "equirectangular"
    with pytest.raises(VrdreamError, match=r"--codec libx264: \.webm takes vp9, av1"):
        dream_video(source, tmp_path / "x264.webm", Counting(), quiet=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.webm"]  # refused before a frame or checkpoint


def test_changed_settings_start_a_new_job(source: Path) -> None:
    assert job_key(source, (VideoSettings(), "")) == job_key(source, (VideoSettings(), ""))
    assert job_key(source, (VideoSettings(), "")) != job_key(source, (VideoSettings(steps_next=5), ""))
    assert job_key(source, (VideoSettings(), "")) != job_key(source, (VideoSettings(), "seed=1"))


@pytest.mark.slow
def test_coherent_dreams_flicker_less_than_independent_ones(source: Path) -> None:
    raws = [to_tensor(f) for f in iter_frames(source)]
    scores = {}
    for settings in (VideoSettings(), VideoSettings(coherent=False)):
        scores[settings.coherent] = warped_difference(raws, dream_sequence(attractor_dream, raws, settings))
    assert scores[True] * 2 <= scores[False], scores


def test_hallucination_machine_preset() -> None:
    hm = HALLUCINATION_MACHINE
    assert (hm.steps_first, hm.steps_next, hm.blend_moving, hm.blend_static) == (16, 16, 0.9, 0.05)
    assert hm.flow_threshold == pytest.approx(6 / 255)
    f = hm.flow
    assert (f.pyr_scale, f.levels, f.winsize, f.iterations, f.poly_n, f.poly_sigma) == (0.5, 3, 15, 3, 5, 1.2)
