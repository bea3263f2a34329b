"""Video decode/encode with PyAV: frame count and exact rate kept, audio copied through, atomic outputs."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from videos import load_panorama, make_video, need_codec, scene

from vrdream.errors import InputError, VrdreamError
from vrdream.spherical import MATROSKA_SUFFIXES, MP4_SUFFIXES, read_spherical
from vrdream.videoio import CONTAINERS, EncodeSettings, check_encoding, iter_frames, probe, write_video


@pytest.fixture(scope="module")
def pano(sample_pano: Path) -> np.ndarray:
    return load_panorama(sample_pano, 256)


def audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]


def audio_samples(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(f.samples for f in c.decode(c.streams.audio[0]))


def test_probe_and_decode(tmp_path: Path, pano: np.ndarray) -> None:
    src = make_video(tmp_path / "in.mp4", pano, frames=12)
    info = probe(src)
    assert (info.width, info.height, info.frames, info.fps, info.codec) == (256, 128, 12, Fraction(24), "h264")
    assert [(a.codec, a.sample_rate, a.channels) for a in info.audio] == [("aac", 48000, 2)]
    frames = list(iter_frames(src))
    assert len(frames) == 12
    assert frames[0].shape == (128, 256, 3) and frames[0].dtype == np.float32
    assert 0 <= frames[0].min() and frames[0].max() <= 1
    # What was encoded comes back (H.264 at CRF 10 in yuv420p: small chroma loss only).
    assert np.abs(frames[7] - scene(pano, 7)).mean() < 0.02
    later = list(iter_frames(src, start=5))
    assert len(later) == 7 and np.array_equal(later[0], frames[5])


def test_write_keeps_rate_frames_and_audio_packets(tmp_path: Path, pano: np.ndarray) -> None:
    ntsc = Fraction(30000, 1001)
    src = make_video(tmp_path / "in.mp4", pano, frames=15, fps=ntsc)
    out = write_video(tmp_path / "out.mp4", iter_frames(src), probe(src).fps, audio_from=src)
    info = probe(out)
    assert (info.frames, info.fps, info.codec, info.width, info.height) == (15, ntsc, "h264", 256, 128)
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p"
    # Remuxed, not re-encoded: the very same AAC packets.
    assert audio_packets(out) == audio_packets(src)
    assert read_spherical(out).has_v1 and read_spherical(out).has_v2


def test_audio_the_container_refuses_is_reencoded_to_aac(tmp_path: Path, pano: np.ndarray) -> None:
    src = make_video(tmp_path / "in.mov", pano, frames=12, audio="pcm_mulaw")  # µ-law: MOV yes, MP4 no
    out = write_video(tmp_path / "out.mp4", iter_frames(src), probe(src).fps, audio_from=src)
    assert [a.codec for a in probe(out).audio] == ["aac"]
    # The whole half second of sound survives (AAC adds priming samples and pads its last frame).
    assert abs(audio_samples(out) - audio_samples(src)) <= 2048 + 1024


def test_matroska_keeps_the_audio_as_mp4_does_and_webm_makes_it_opus(tmp_path: Path, pano: np.ndarray) -> None:
    small = pano[::8, ::8]  # 32×16
    src = make_video(tmp_path / "in.mp4", small, frames=12)
    mkv = write_video(tmp_path / "out.mkv", iter_frames(src), Fraction(24), audio_from=src)
    assert audio_packets(mkv) == audio_packets(src)  # remuxed, not re-encoded: the very same AAC packets
    need_codec("libvpx-vp9")
    # WebM takes Opus or Vorbis alone: 44.1 kHz AAC becomes 48 kHz Opus, the whole half second of it.
    src44 = make_video(tmp_path / "in44.mp4", small, frames=12, audio_rate=44100)
    vp9 = EncodeSettings(codec="libvpx-vp9", crf=40)
    webm = write_video(tmp_path / "out.webm", iter_frames(src44), Fraction(24), settings=vp9, audio_from=src44)
    assert [(a.codec, a.sample_rate) for a in probe(webm).audio] == [("opus", 48000)]
    assert audio_samples(webm) / 48000 == pytest.approx(audio_samples(src44) / 44100, abs=0.05)


def test_a_container_refuses_the_codecs_it_cannot_carry_up_front() -> None:
    assert tuple(CONTAINERS) == MP4_SUFFIXES + MATROSKA_SUFFIXES  # each one's metadata has a writer
    with pytest.raises(VrdreamError, match=r"^--codec libx264: \.webm takes vp9, av1 video \(--codec .*libvpx-vp9"):
        check_encoding("out.webm", EncodeSettings())
    with pytest.raises(VrdreamError, match=r"^--codec mpeg4: \.mkv takes h264, hevc, vp9, av1 video .*\.mp4"):
        check_encoding("out.mkv", EncodeSettings(codec="mpeg4", crf=None))
    with pytest.raises(VrdreamError, match=r"cannot write \.avi video; use \.mp4, \.mov, \.m4v, \.mkv, \.webm"):
        check_encoding("out.avi", EncodeSettings())
    check_encoding("out.mkv", EncodeSettings())  # H.264 goes in MKV


def test_other_codec_by_option(tmp_path: Path, pano: np.ndarray) -> None:
    frames = [scene(pano, t) for t in range(6)]
    out = write_video(
        tmp_path / "out.mp4",
        frames,
        Fraction(25),
        settings=EncodeSettings(codec="mpeg4", crf=None, options=(("qscale", "2"),)),
    )
    info = probe(out)
    assert (info.codec, info.frames, info.fps, info.audio) == ("mpeg4", 6, Fraction(25), ())
    assert read_spherical(out).projection == "equirectangular"  # mp4v sample entry gets V2 too


def test_refusals(tmp_path: Path, pano: np.ndarray) -> None:
    src = make_video(tmp_path / "in.mp4", pano, frames=3, audio=None)
    with pytest.raises(VrdreamError, match="refusing to overwrite an input"):
        write_video(src, iter_frames(src), Fraction(24), audio_from=src, overwrite=True)
    with pytest.raises(VrdreamError, match="already exists"):
        write_video(src, iter_frames(src), Fraction(24))
    with pytest.raises(VrdreamError, match="even width"):
        write_video(tmp_path / "odd.mp4", [np.zeros((5, 10, 3), np.float32)], Fraction(24))
    with pytest.raises(VrdreamError, match="no such video encoder"):
        write_video(
            tmp_path / "x.mp4",
            [np.zeros((4, 8, 3), np.float32)],
            Fraction(24),
            settings=EncodeSettings(codec="no-such-codec"),
        )
    with pytest.raises(VrdreamError, match=r"--pix-fmt rgb48le: mpeg4 takes yuv420p$"):
        write_video(
            tmp_path / "p.mp4",
            [np.zeros((4, 8, 3), np.float32)],
            Fraction(24),
            settings=EncodeSettings("mpeg4", "rgb48le"),
        )
    with pytest.raises(VrdreamError, match="--codec aac: not a video codec"):
        write_video(tmp_path / "a.mp4", [np.zeros((4, 8, 3), np.float32)], Fraction(24), settings=EncodeSettings("aac"))
    not_video = tmp_path / "not.mp4"
    not_video.write_bytes(b"hello, not a video")
    with pytest.raises(InputError, match="not a readable video"):
        probe(not_video)
    with pytest.raises(InputError, match="no such file"):
        probe(tmp_path / "missing.mp4")


def test_a_failed_write_leaves_nothing(tmp_path: Path, pano: np.ndarray) -> None:
    def frames():
        yield scene(pano, 0)
        yield scene(pano, 1)
        raise RuntimeError("dream engine crashed")

    with pytest.raises(RuntimeError, match="crashed"):
        write_video(tmp_path / "out.mp4", frames(), Fraction(24))
    assert list(tmp_path.iterdir()) == []  # no output, no temporary files


def test_colours_round_trip_and_are_tagged_bt709(tmp_path: Path) -> None:
    img = np.zeros((64, 64, 3), np.float32)
    img[:] = np.array([200, 50, 100]) / 255
    img[:32, :32] = np.array([20, 200, 60]) / 255
    out = write_video(tmp_path / "c.mp4", [img] * 3, Fraction(24))
    back = next(iter_frames(out))
    # Away from the colour edge (4:2:0 halves the chroma resolution), within 3 levels of 255.
    assert np.abs(back[48, 48] - img[48, 48]).max() < 3 / 255
    assert np.abs(back[8, 8] - img[8, 8]).max() < 3 / 255
    with av.open(str(out)) as c:
        cc = c.streams.video[0].codec_context
        assert (cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range) == (1, 1, 1, 1)
