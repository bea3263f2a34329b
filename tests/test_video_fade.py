"""``vrdream fade``: raw → dream → raw crossfade video with 360° metadata."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from vrdream.cli import main
from vrdream.fade import fade_weights
from vrdream.spherical import read_spherical
from vrdream.videoio import iter_frames, probe


@pytest.fixture
def pair(tmp_path: Path, sample_pano: Path) -> tuple[Path, Path]:
    """A 256×128 raw panorama and a stand-in 'dream' of it at twice the size (as an upscaled dream would be)."""
    with Image.open(sample_pano) as im:
        raw = im.convert("RGB").resize((256, 128), Image.LANCZOS)
        dream = im.convert("RGB").resize((512, 256), Image.LANCZOS).filter(ImageFilter.FIND_EDGES)
    raw.save(tmp_path / "raw.png")
    dream.save(tmp_path / "dream.png")
    return tmp_path / "raw.png", tmp_path / "dream.png"


def test_fade_weights() -> None:
    w = fade_weights(30)
    assert w[0] == 0 and w[15] == pytest.approx(1) and np.all((0 <= w) & (w <= 1))
    assert np.allclose(w[1:], w[1:][::-1])  # symmetric: the fade back mirrors the fade in
    assert np.all(np.diff(w[:16]) > 0)
    held = fade_weights(100, hold=0.4)
    assert np.sum(held > 1 - 1e-9) == pytest.approx(41, abs=1) and held[0] == 0


def test_fade_video(pair: tuple[Path, Path], tmp_path: Path) -> None:
    raw, dream = pair
    out = tmp_path / "fade.mp4"
    assert main(["fade", str(raw), str(dream), "-o", str(out), "--seconds", "2", "--fps", "30000/1001", "-q"]) == 0
    info = probe(out)
    assert (info.frames, info.fps, info.width, info.height, info.audio) == (60, Fraction(30000, 1001), 512, 256, ())
    meta = read_spherical(out)
    assert meta.has_v1 and meta.has_v2 and meta.projection == "equirectangular"
    frames = list(iter_frames(out))
    raw_px = np.asarray(Image.open(raw).resize((512, 256), Image.LANCZOS), np.float32) / 255
    dream_px = np.asarray(Image.open(dream), np.float32) / 255
    assert np.abs(frames[0] - raw_px).mean() < 0.03  # starts on the raw panorama
    assert np.abs(frames[30] - dream_px).mean() < 0.03  # the dream mid-cycle
    assert np.abs(frames[15] - raw_px).mean() > 0.05 and np.abs(frames[15] - dream_px).mean() > 0.05


@pytest.mark.parametrize(("name", "codec"), [("fade.mkv", "libx264"), ("fade.webm", "libvpx-vp9")])
def test_fade_to_matroska(
    pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture, name: str, codec: str
) -> None:
    raw, dream = pair
    out = tmp_path / name
    assert main(["fade", str(raw), str(dream), "-o", str(out), "--seconds", "0.2", "--codec", codec]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"wrote {out}"
    info = probe(out)
    assert (info.frames, info.width, info.height) == (6, 512, 256)
    assert len(list(iter_frames(out))) == 6
    assert read_spherical(out).projection == "equirectangular"


def test_fade_refuses(pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    raw, dream = pair
    assert main(["fade", str(raw), str(dream), "-o", str(raw), "--overwrite", "-q"]) == 2
    assert "refusing to overwrite an input" in capsys.readouterr().err
    Image.new("RGB", (300, 100)).save(tmp_path / "wide.png")
    assert main(["fade", str(raw), str(tmp_path / "wide.png"), "-o", str(tmp_path / "x.mp4"), "-q"]) == 2
    assert "wide.png" in capsys.readouterr().err
