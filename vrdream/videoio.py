"""Video files in and out with PyAV: frames as ``(H, W, 3)`` float32 in [0, 1], audio copied through.

PyAV wraps FFmpeg's own libraries (its wheels bundle FFmpeg with libx264), so
decoding, encoding and remuxing need no ``ffmpeg`` binary. Outputs are written
to a temporary file, given Spherical Video metadata in the container they are
(MP4/MOV, or remuxed into MKV/WebM: :mod:`vrdream.spherical`) and then renamed
into place (:mod:`vrdream.atomic`), so a crash never leaves a half-written video.

Timing: the output keeps the source's average frame rate (as an exact
:class:`~fractions.Fraction`) and numbers frames ``0, 1, 2, ...`` in a time base
of ``1 / fps``; variable-frame-rate sources come out constant-rate.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .atomic import atomic_path, check_output
from .errors import InputError, VrdreamError
from .quantize import to_uint8
from .settings import EncodeSettings
from .spherical import MATROSKA_SUFFIXES, MP4_SUFFIXES, encoding_suffix, finish_container


@dataclass(frozen=True)
class AudioInfo:
    """One audio stream of a video file."""

    index: int  # stream index in the container
    codec: str  # FFmpeg codec name, e.g. "aac"
    sample_rate: int
    channels: int


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` learns about a video file."""

    path: Path
    width: int
    height: int
    fps: Fraction  # average frame rate, exact
    frames: int  # number of video frames (counted by demuxing when the header does not say)
    codec: str  # video codec name, e.g. "h264"
    audio: tuple[AudioInfo, ...] = ()


@dataclass(frozen=True)
class ContainerRules:
    """What an output container takes: video codecs (FFmpeg codec names, e.g. ``"h264"``; None: any its
    muxer takes), audio codecs kept as they are (None: any the MP4 it is encoded into takes), and the
    audio encoder for the rest."""

    video: tuple[str, ...] | None = None
    audio: tuple[str, ...] | None = None
    audio_encoder: str = "aac"


_MP4 = ContainerRules()
#: Output containers that carry 360° metadata (:mod:`vrdream.spherical`), by suffix. WebM takes VP9/AV1
#: with Opus or Vorbis by its spec; vrdream keeps Opus and transcodes any other audio to Opus.
CONTAINERS = {
    **dict.fromkeys(MP4_SUFFIXES, _MP4),
    ".mkv": ContainerRules(video=("h264", "hevc", "vp9", "av1")),
    ".webm": ContainerRules(video=("vp9", "av1"), audio=("opus",), audio_encoder="libopus"),
}
#: Encoders offered in messages when the one asked for is missing (those present in PyAV's FFmpeg are listed).
KNOWN_ENCODERS = ("libx264", "libx265", "libvpx-vp9", "libsvtav1", "libaom-av1", "mpeg4")


def encoder_options(settings: EncodeSettings) -> dict[str, object]:
    """The FFmpeg encoder options for ``settings`` (CRF for any encoder, the speed preset for x264/x265)."""
    opts: dict[str, object] = dict(settings.options)
    if settings.crf is not None:
        opts.setdefault("crf", str(settings.crf))
    if settings.preset is not None and settings.codec in ("libx264", "libx265"):
        opts.setdefault("preset", settings.preset)
    if settings.codec == "libx265":
        opts.setdefault("x265-params", "log-level=error")  # x265 logs every setting to stderr otherwise
    return opts


def container_rules(path: str | Path) -> ContainerRules:
    """What the container ``path``'s suffix names takes; one line refusing any other suffix."""
    out = Path(path)
    rules = CONTAINERS.get(out.suffix.lower())
    if rules is None:
        raise VrdreamError(
            f"{out}: cannot write {out.suffix or 'a file without a suffix'} video; use {', '.join(CONTAINERS)} "
            "(they carry the 360° metadata)"
        )
    return rules


def check_encoding(path: str | Path, settings: EncodeSettings) -> None:
    """Refuse, in one line and before any frame is made, an output that :func:`write_video` could not write:
    a container without 360° metadata, an encoder PyAV's FFmpeg lacks (:func:`check_encoder`) or the container
    does not take, or options it rejects (one tiny frame is encoded in memory with exactly the options the
    real encode will use)."""
    out = Path(path)
    rules = container_rules(out)
    check_encoder(settings)
    family = av.Codec(settings.codec, "w").canonical_name
    if rules.video is not None and family not in rules.video:
        fitting = [c for c in KNOWN_ENCODERS if _has_encoder(c) and av.Codec(c, "w").canonical_name in rules.video]
        elsewhere = [suffix for suffix, r in CONTAINERS.items() if r.video is None or family in r.video]
        raise VrdreamError(
            f"--codec {settings.codec}: {out.suffix} takes {', '.join(rules.video)} video "
            f"(--codec {', '.join(fitting)}); {family} goes in {', '.join(elsewhere)}"
        )
    # The encoder alone, no container: what is checked is the encoder's options, not a muxer.
    encoder = av.CodecContext.create(settings.codec, "w")
    assert isinstance(encoder, av.VideoCodecContext)  # a video codec's context (check_encoder)
    encoder.width = encoder.height = 64
    encoder.pix_fmt = settings.pix_fmt
    encoder.time_base = Fraction(1, 24)
    encoder.options = {k: str(v) for k, v in encoder_options(settings).items()}
    frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24").reformat(
        format=settings.pix_fmt
    )
    frame.pts = 0
    try:
        encoder.encode(frame)
        encoder.encode(None)
    except (av.error.FFmpegError, ValueError) as exc:
        raise VrdreamError(
            f"--encoder-preset {settings.preset} / --crf {settings.crf}: refused by the {settings.codec} encoder "
            f"({type(exc).__name__})"
        ) from None
    if out.suffix.lower() in MATROSKA_SUFFIXES:
        # Matroska's Projection element is written by FFmpeg's muxer from side data (spherical.finish_container),
        # which an older FFmpeg may drop: one 64x64 frame through the whole path finds that out before the work.
        with tempfile.TemporaryDirectory(prefix=".vrdream-check-") as tmp:
            write_video(
                Path(tmp) / f"check{out.suffix}", [np.zeros((64, 64, 3), np.uint8)], Fraction(24), settings=settings
            )


def _has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except (av.error.FFmpegError, ValueError):
        return False
    return True


def _open_input(path: str | Path) -> av.container.InputContainer:
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "no such file")
    try:
        container = av.open(str(p))
    except av.error.FFmpegError as exc:
        raise InputError(p, f"not a readable video ({exc.strerror or exc})") from exc
    if not container.streams.video:
        container.close()
        raise InputError(p, "has no video stream")
    return container


def probe(path: str | Path) -> VideoInfo:
    """Size, exact frame rate, frame count and audio streams of a video file."""
    with _open_input(path) as container:
        vs = container.streams.video[0]
        rate = vs.average_rate or vs.guessed_rate
        if not rate:
            raise InputError(path, "video stream has no frame rate")
        frames = vs.frames
        if not frames:
            # Some containers (e.g. Matroska) do not store a frame count: count packets instead.
            frames = sum(1 for pkt in container.demux(vs) if pkt.size)
        audio = tuple(
            AudioInfo(a.index, a.codec_context.name, a.codec_context.sample_rate, a.codec_context.channels)
            for a in container.streams.audio
        )
        return VideoInfo(
            Path(path),
            vs.codec_context.width,
            vs.codec_context.height,
            Fraction(rate),
            frames,
            vs.codec_context.name,
            audio,
        )


def iter_frames(path: str | Path, start: int = 0) -> Iterator[np.ndarray]:
    """Decoded frames ``(H, W, 3)`` float32 RGB in [0, 1], in presentation order, from frame ``start`` on."""
    for frame in iter_rgb24(path, start):
        yield frame.astype(np.float32) / 255.0


def iter_rgb24(path: str | Path, start: int = 0) -> Iterator[np.ndarray]:
    """Decoded frames ``(H, W, 3)`` uint8 RGB, in presentation order, from frame ``start`` on.

    Frames before ``start`` are decoded and dropped (not seeked) so that the
    frame numbering is exact for any codec; decoding is cheap next to dreaming.
    """
    with _open_input(path) as container:
        vs = container.streams.video[0]
        vs.thread_type = "AUTO"
        try:
            for i, frame in enumerate(container.decode(vs)):
                if i >= start:
                    yield frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as exc:
            raise InputError(path, f"cannot decode video ({exc.strerror or exc})") from exc


def check_encoder(settings: EncodeSettings) -> None:
    """Refuse, in one line, a codec PyAV's FFmpeg has no video encoder for, or a pixel format it does not take.

    :class:`VideoWriter` checks; commands that dream before they encode check first too, so that a
    mistyped ``--codec`` or ``--pix-fmt`` fails at once rather than after the dream.
    """
    try:
        codec = av.Codec(settings.codec, "w")
    except av.codec.codec.UnknownCodecError:
        have = [c for c in KNOWN_ENCODERS if c != settings.codec and _has_encoder(c)]
        raise VrdreamError(
            f"--codec {settings.codec}: no such video encoder in PyAV's FFmpeg; available: {', '.join(have)}"
        ) from None
    if codec.type != "video":
        raise VrdreamError(f"--codec {settings.codec}: not a video codec (it makes {codec.type} streams)")
    formats = [f.name for f in codec.video_formats or ()]
    if formats and settings.pix_fmt not in formats:
        raise VrdreamError(f"--pix-fmt {settings.pix_fmt}: {settings.codec} takes {', '.join(formats)}")


class _AudioCopier:
    """Moves the audio of ``source`` into ``out``, interleaved with the video by time.

    Packets are remuxed unchanged when the output container takes the codec
    (AAC, MP3, Opus, ... into MP4) and ``rules`` keep it (WebM: Opus only);
    otherwise (e.g. PCM into MP4) they are decoded and re-encoded with the
    rules' audio encoder (AAC; Opus for WebM).
    """

    def __init__(self, source: Path, out: av.container.OutputContainer, rules: ContainerRules) -> None:
        self._in = av.open(str(source))
        self._pairs: dict[int, tuple[av.AudioStream, bool]] = {}
        for a in self._in.streams.audio:
            name = a.codec_context.name
            if name in out.supported_codecs and (rules.audio is None or name in rules.audio):
                self._pairs[a.index] = (out.add_stream_from_template(a), True)
            else:
                rate = a.codec_context.sample_rate
                rates = av.Codec(rules.audio_encoder, "w").audio_rates
                if rates and rate not in rates:  # e.g. 44.1 kHz into Opus (48 kHz): PyAV resamples each frame
                    rate = max(rates)
                enc = out.add_stream(rules.audio_encoder, rate=rate)
                assert isinstance(enc, av.AudioStream)  # an audio encoder's stream (ContainerRules)
                enc.layout = a.codec_context.layout
                self._pairs[a.index] = (enc, False)
        self._out = out
        self._packets: Iterator[av.Packet[av.AudioStream]] = (
            self._in.demux(tuple(self._in.streams.audio)) if self._pairs else iter(())
        )
        self._pending: av.Packet[av.AudioStream] | None = None

    def _mux(self, packet: av.Packet[av.AudioStream]) -> None:
        stream, copy = self._pairs[packet.stream.index]
        if copy:
            if packet.dts is None:  # the demuxer's flush packet
                return
            packet.stream = stream
            self._out.mux(packet)
        else:
            for frame in packet.decode():
                frame.pts = None  # let the encoder number the samples
                self._out.mux(stream.encode(frame))

    def until(self, seconds: float | None) -> None:
        """Mux every audio packet that starts before ``seconds`` (all of them when None)."""
        while True:
            packet = self._pending or next(self._packets, None)
            self._pending = None
            if packet is None:
                return
            if seconds is not None and packet.pts is not None and float(packet.pts * packet.time_base) >= seconds:
                self._pending = packet
                return
            self._mux(packet)

    def close(self) -> None:
        self.until(None)
        for stream, copy in self._pairs.values():
            if not copy:
                self._out.mux(stream.encode(None))
        self._in.close()


class VideoWriter:
    """Encodes frames into a video file (no metadata injection, no atomic rename: see :func:`write_video`).

    ``with VideoWriter(path, width, height, fps, settings, audio_from=src) as w: w.write(frame)``;
    frames are ``(H, W, 3)`` float in [0, 1] or uint8. ``rules``: the audio rules of the container the file
    will be remuxed into (default: those of ``path``'s own).
    """

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: Fraction,
        settings: EncodeSettings = EncodeSettings(),
        audio_from: str | Path | None = None,
        container_options: dict[str, str] | None = None,
        rules: ContainerRules | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        if settings.pix_fmt in ("yuv420p", "nv12") and (width % 2 or height % 2):
            raise VrdreamError(f"{width}x{height}: {settings.pix_fmt} needs an even width and height")
        check_encoder(settings)
        self.fps = Fraction(fps)
        self._out = av.open(str(path), "w", options=container_options or {})
        self._out.metadata.update(metadata or {})
        stream = self._out.add_stream(settings.codec, rate=self.fps)
        assert isinstance(stream, av.VideoStream)  # a video codec's stream (check_encoder)
        self._stream = stream
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = settings.pix_fmt
        self._stream.options = encoder_options(settings)
        # Convert RGB with the BT.709 matrix and say so: untagged YUV leaves players guessing (601 or
        # 709 by frame size), which shifts colours; 709 is what HD/4K players and headsets assume.
        # The YUV format frames are converted to here (None: RGB frames go to the encoder as they are).
        self._yuv_format = settings.pix_fmt if settings.pix_fmt.startswith(("yuv", "nv")) else None
        if self._yuv_format is not None:
            cc = self._stream.codec_context
            cc.colorspace = cc.color_primaries = cc.color_trc = 1  # AVCOL_*_BT709
            cc.color_range = 1  # limited ("tv") range, the broadcast/player default
        if rules is None:
            rules = CONTAINERS.get(Path(path).suffix.lower(), _MP4)
        self._audio = _AudioCopier(Path(audio_from), self._out, rules) if audio_from is not None else None
        self._count = 0

    def write(self, frame: np.ndarray) -> None:
        """Append one frame ``(H, W, 3)``, float in [0, 1] or uint8."""
        arr = to_uint8(frame)
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")
        if self._yuv_format is not None:
            vf = vf.reformat(format=self._yuv_format, dst_colorspace="ITU709")
        vf.pts = self._count
        vf.time_base = 1 / self.fps
        self._out.mux(self._stream.encode(vf))
        self._count += 1
        if self._audio is not None:
            self._audio.until(float(self._count / self.fps))

    def close(self) -> None:
        try:
            self._out.mux(self._stream.encode(None))
            if self._audio is not None:
                self._audio.close()
        finally:
            self._out.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_video(
    output: str | Path,
    frames: Iterable[np.ndarray],
    fps: Fraction,
    *,
    settings: EncodeSettings = EncodeSettings(),
    audio_from: str | Path | None = None,
    spherical: bool = True,
    overwrite: bool = False,
    inputs: Iterable[str | Path] = (),
    container_options: dict[str, str] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Encode ``frames`` (each ``(H, W, 3)``) to ``output`` atomically, with 360° metadata when ``spherical``.

    ``output``: an MP4/MOV, MKV or WebM file (:data:`CONTAINERS`, by suffix).
    ``audio_from``: a video or audio file whose audio streams are copied through (transcoded where the
    container needs it: :class:`ContainerRules`).
    ``container_options``: options of the muxer that encodes (MP4 for every container, see
    :func:`vrdream.spherical.encoding_suffix`), e.g. ``{"movflags": "faststart"}`` (moov first).
    ``metadata``: container tags, e.g. ``{"comment": ...}`` (:func:`vrdream.record.container_tag`).
    Returns the output path. Refuses to overwrite an input, or an existing file without ``overwrite``.
    """
    out = check_output(output, inputs=[*inputs, *([audio_from] if audio_from else [])], overwrite=overwrite)
    rules = container_rules(out)
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise VrdreamError(f"{out}: no frames to write")
    h, w = first.shape[:2]
    with atomic_path(out) as final:
        # Encode beside the target, then inject the metadata into the final temporary file:
        # box surgery streams the file, so the encoded file must stay readable while it runs.
        fd, enc = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=f".enc{encoding_suffix(out)}", dir=out.parent)
        os.close(fd)
        try:
            with VideoWriter(enc, w, h, fps, settings, audio_from, container_options, rules, metadata) as writer:
                writer.write(first)
                for frame in it:
                    if frame.shape[:2] != (h, w):
                        raise VrdreamError(f"{out}: frame of size {frame.shape[1]}x{frame.shape[0]} after {w}x{h}")
                    writer.write(frame)
            finish_container(enc, final, spherical=spherical)
        finally:
            if os.path.exists(enc):
                os.unlink(enc)
    return out
