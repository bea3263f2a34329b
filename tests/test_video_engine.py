"""Video with the real dream engine: temporal stability, and the `video` and `zoom` commands end to end."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
import torch
from conftest import SAMPLE_SIZE
from videos import dream_sequence, load_panorama, make_video, need_codec

from vrdream.cli import main
from vrdream.dream import Dreamer, DreamSettings
from vrdream.sphere import SphereOptions, dream_sphere
from vrdream.spherical import read_spherical
from vrdream.tensors import to_tensor
from vrdream.video import VideoSettings, warped_difference
from vrdream.videoio import iter_frames, probe
from vrdream.zoom import mobius_zoom

ENGINE = DreamSettings(objective="blocks.3", octaves=2, steps=4, precision="fp32", device="cpu")
FLAGS = ["--objective", "blocks.3", "--octaves", "1", "--steps", "2", "--precision", "fp32", "-q"]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, sample_pano: Path) -> Path:
    folder = tmp_path_factory.mktemp("engine-video")
    return make_video(folder / "in.mp4", load_panorama(sample_pano, 256), frames=6)


@pytest.mark.slow
def test_coherent_video_is_at_least_twice_as_stable_as_independent_frames(source: Path, lite0) -> None:
    dreamer = Dreamer(ENGINE, backbone=lite0)

    def dream_frame(raw, init, steps):
        return dream_sphere(raw, dreamer, SphereOptions(), init=init, steps=steps)

    raws = [to_tensor(f) for f in iter_frames(source)]
    flicker = {}
    for settings in (VideoSettings(steps_first=8, steps_next=2), VideoSettings(steps_first=8, coherent=False)):
        dreams = dream_sequence(dream_frame, raws, settings)
        flicker[settings.coherent] = warped_difference(raws, dreams)
        assert float((dreams[-1] - raws[-1]).abs().mean()) > 0.01  # still a dream
    assert flicker[True] * 2 <= flicker[False], flicker


@pytest.mark.slow
def test_video_command(tmp_path: Path, source: Path) -> None:
    out = tmp_path / "dream.mp4"
    assert main(["video", str(source), "-o", str(out), *FLAGS]) == 0
    info = probe(out)
    assert (info.frames, info.fps, info.width) == (6, Fraction(24), 256)
    assert [a.codec for a in info.audio] == ["aac"]
    meta = read_spherical(out)
    assert meta.has_v1 and meta.projection == "equirectangular"


def test_mobius_zoom_is_a_zoom_toward_its_direction() -> None:
    h, w = 64, 128
    img = torch.zeros(1, 1, h, w)
    img[..., 28:36, 60:68] = 1  # a blob at yaw 0, pitch 0
    zoomed = mobius_zoom(img, 2.0, (0.0, 0.0))
    assert zoomed.sum() > 2.5 * img.sum()  # it grew
    assert zoomed[..., 32, 64] > 0.9  # around the same centre
    assert torch.allclose(mobius_zoom(img, 1.0, (30.0, 10.0)), img, atol=0.05)  # factor 1: identity


@pytest.mark.slow
def test_zoom_command(tmp_path: Path, sample_pano: Path) -> None:
    need_codec("libvpx-vp9")
    out = tmp_path / "zoom.webm"  # WebM: the MP4 path is the same writer, tested with `video` above
    argv = ["zoom", str(sample_pano), "-o", str(out), "--frames", "3", "--zoom", "1.1", "--dream-width", "256"]
    assert main([*argv, "--codec", "libvpx-vp9", *FLAGS]) == 0
    info = probe(out)
    assert info.frames == 3 and info.width == SAMPLE_SIZE[0]
    assert read_spherical(out).projection == "equirectangular"
