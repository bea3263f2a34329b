"""Spherical Video V1 + V2 metadata: written into the MP4, read back by our parser and by ffprobe."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
from videos import load_panorama, make_video

from vrdream.errors import InputError
from vrdream.spherical import V1_UUID, _top_level, inject_spherical, read_spherical
from vrdream.videoio import iter_frames


@pytest.fixture(scope="module")
def pano(sample_pano: Path) -> np.ndarray:
    return load_panorama(sample_pano, 128)


def box_order(path: Path) -> list[bytes]:
    with open(path, "rb") as f:
        return [kind for kind, _, _ in _top_level(f, path)]


def packets(path: Path) -> list[tuple[int, bytes]]:
    with av.open(str(path)) as c:
        return [(p.stream.index, bytes(p)) for p in c.demux() if p.size]


@pytest.mark.parametrize("faststart", [False, True], ids=["moov-last", "moov-first"])
def test_inject_and_read_back(tmp_path: Path, pano: np.ndarray, faststart: bool) -> None:
    src = make_video(tmp_path / "in.mp4", pano, frames=8, faststart=faststart)
    order = box_order(src)
    assert (order.index(b"moov") < order.index(b"mdat")) == faststart
    assert not read_spherical(src).has_v1 and not read_spherical(src).has_v2
    out = tmp_path / "out.mp4"
    inject_spherical(src, out)
    meta = read_spherical(out)
    assert meta.v1 == {
        "Spherical": "true",
        "Stitched": "true",
        "StitchingSoftware": "vrdream",
        "ProjectionType": "equirectangular",
    }
    assert (meta.stereo_mode, meta.projection, meta.pose, meta.bounds, meta.metadata_source) == (
        0,
        "equirectangular",
        (0.0, 0.0, 0.0),
        (0, 0, 0, 0),
        "vrdream",
    )
    assert V1_UUID in out.read_bytes()
    # Every sample is still where the (shifted, for moov-first) chunk offsets say: identical packets.
    assert box_order(out) == order
    assert packets(out) == packets(src)
    assert all(np.array_equal(a, b) for a, b in zip(iter_frames(out), iter_frames(src), strict=True))


def test_injecting_twice_replaces_the_boxes(tmp_path: Path, pano: np.ndarray) -> None:
    src = make_video(tmp_path / "in.mp4", pano, frames=4, faststart=True)
    once, twice = tmp_path / "once.mp4", tmp_path / "twice.mp4"
    inject_spherical(src, once)
    inject_spherical(once, twice)
    assert once.read_bytes() == twice.read_bytes()


def test_not_an_mp4(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x10ftypisom\x00\x00\x00\x00" + b"\x00\x00\x00\x08free")
    with pytest.raises(InputError, match="no moov"):
        read_spherical(bad)
    bad.write_bytes(b"\x00\x00\x10\x00junk")
    with pytest.raises(InputError, match="not an MP4"):
        inject_spherical(bad, tmp_path / "out.mp4")


def test_ffprobe_sees_a_360_video(tmp_path: Path, pano: np.ndarray) -> None:
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        pytest.skip("ffprobe is not installed (apt-get install ffmpeg); our own parser is tested above")
    src = make_video(tmp_path / "in.mp4", pano, frames=4)
    out = tmp_path / "out.mp4"
    inject_spherical(src, out)
    res = subprocess.run(
        [ffprobe, "-v", "error", "-select_streams", "v:0", "-show_streams", "-of", "json", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    (stream,) = json.loads(res.stdout)["streams"]
    side = {d["side_data_type"]: d for d in stream.get("side_data_list", [])}
    assert side["Spherical Mapping"]["projection"] == "equirectangular"
    assert side["Stereo 3D"]["type"] == "2D"
    assert int(stream["nb_frames"]) == 4
