"""Spherical Video metadata: V1 + V2 boxes in MP4, the Projection element in MKV/WebM; read back by our
parser and by ffprobe."""

from __future__ import annotations

import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from videos import load_panorama, make_video, need_codec

from vrdream.errors import InputError
from vrdream.spherical import V1_UUID, _top_level, inject_spherical, read_spherical
from vrdream.videoio import EncodeSettings, iter_frames, probe, write_video


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


def ffprobe_video(path: Path) -> tuple[dict, dict]:
    """ffprobe's first video stream of ``path`` and its side data by type (skips when ffprobe is missing)."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        pytest.skip("ffprobe is not installed (apt-get install ffmpeg); our own parser is tested beside")
    res = subprocess.run(
        [ffprobe, "-v", "error", "-select_streams", "v:0", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    (stream,) = json.loads(res.stdout)["streams"]
    return stream, {d["side_data_type"]: d for d in stream.get("side_data_list", [])}


def test_ffprobe_sees_a_360_video(tmp_path: Path, pano: np.ndarray) -> None:
    src = make_video(tmp_path / "in.mp4", pano, frames=4)
    out = tmp_path / "out.mp4"
    inject_spherical(src, out)
    stream, side = ffprobe_video(out)
    assert side["Spherical Mapping"]["projection"] == "equirectangular"
    assert side["Stereo 3D"]["type"] == "2D"
    assert int(stream["nb_frames"]) == 4


#: (output, encoder, a decoder it needs): every video codec each Matroska container takes, by the encoders
#: FFmpeg has for it (AV1 twice: SVT-AV1 and libaom; decoded by dav1d where present, else libaom).
MATROSKA_CASES = [
    ("o.mkv", "libx264", "h264"),
    ("o.mkv", "libx265", "hevc"),
    ("o.mkv", "libvpx-vp9", "vp9"),
    ("o.mkv", "libsvtav1", "av1"),
    ("o.webm", "libvpx-vp9", "vp9"),
    ("o.webm", "libsvtav1", "av1"),
    ("o.webm", "libaom-av1", "av1"),
]


@pytest.mark.parametrize(("name", "codec", "decoder"), MATROSKA_CASES, ids=[f"{n}-{c}" for n, c, _ in MATROSKA_CASES])
def test_matroska_carries_the_projection_element(
    tmp_path: Path, pano: np.ndarray, name: str, codec: str, decoder: str
) -> None:
    need_codec(codec)
    need_codec(decoder, "r")
    small = pano[::4, ::4]  # 32×16: the cheapest clip every encoder takes
    src = make_video(tmp_path / "in.mp4", small, frames=3)
    settings = EncodeSettings(codec=codec, crf=40, preset="ultrafast" if codec.startswith("libx26") else None)
    mp4 = write_video(tmp_path / "o.mp4", iter_frames(src), Fraction(24), settings=settings, audio_from=src)
    out = write_video(tmp_path / name, iter_frames(src), Fraction(24), settings=settings, audio_from=src)
    meta = read_spherical(out)
    assert (meta.projection, meta.pose, meta.bounds) == ("equirectangular", (0.0, 0.0, 0.0), (0, 0, 0, 0))
    assert not meta.has_v1  # V1 is an MP4 box; Matroska has Projection alone
    # Every frame decodes, as many as through MP4, at the same rate; WebM's audio is Opus.
    assert len(list(iter_frames(out))) == len(list(iter_frames(mp4))) == 3
    info = probe(out)
    assert (info.fps, info.width, info.height) == (Fraction(24), 32, 16)
    assert [a.codec for a in info.audio] == (["opus"] if name.endswith(".webm") else ["aac"])
    stream, side = ffprobe_video(out)
    assert side["Spherical Mapping"]["projection"] == "equirectangular"
    assert [side["Spherical Mapping"][k] for k in ("yaw", "pitch", "roll")] == [0, 0, 0]
    assert {p.name for p in tmp_path.iterdir()} == {"in.mp4", "o.mp4", name}  # no temporary file left


def test_a_flat_matroska_video_has_no_projection(tmp_path: Path, pano: np.ndarray) -> None:
    src = make_video(tmp_path / "in.mp4", pano[::4, ::4], frames=2, audio=None)
    out = write_video(tmp_path / "flat.mkv", iter_frames(src), Fraction(24), spherical=False)
    assert read_spherical(out).projection is None
    assert "Spherical Mapping" not in ffprobe_video(out)[1]


def test_not_a_matroska_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mkv"
    bad.write_bytes(bytes.fromhex("1a45dfa3") + b"\x80" + b"junk")
    with pytest.raises(InputError, match="not a Matroska/WebM file"):
        read_spherical(bad)
