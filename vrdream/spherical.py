"""Spherical Video metadata: MP4/MOV boxes (V1 ``uuid`` with GSpherical XML, V2 ``st3d``/``sv3d``) and
Matroska/WebM's ``Projection`` element.

Players (YouTube, VLC, Android/headset players) treat a video as 360° only when
it says so. Google's spec defines two forms and players differ in which they
read, so vrdream writes both:

* V1 (spherical-video-rfc): a ``uuid`` box ``ffcc8263-f855-4a93-8814-587a02521fdd``
  in the video ``trak`` holding RDF/XML in the ``GSpherical`` namespace.
* V2 (spherical-video-v2-rfc): ``st3d`` (stereo mode) and ``sv3d`` (``svhd`` +
  ``proj``(``prhd``, ``equi``)) inside the video sample entry (``avc1``, ``hvc1``, ...).

Hand-written box surgery, because no maintained library does it: Google's
``spatial-media`` tool is a script, not on PyPI, and unmaintained; FFmpeg's mov
muxer can write V2 only, behind ``-strict unofficial``, from stream side data
that PyAV cannot set. The file is streamed (``mdat`` is copied in chunks, never
loaded); only ``moov`` is parsed and rebuilt, with every parent box size
recomputed. When ``moov`` precedes the media data (``faststart``), growing it
moves the samples, so every ``stco``/``co64`` chunk offset past ``moov`` is shifted.

Matroska (``.mkv``) and WebM (``.webm``) carry Spherical V2 as the video track's
``Video > Projection`` element (ProjectionType 1, equirectangular; ProjectionPrivate
the ``equi`` box's payload; pose 0). FFmpeg's Matroska muxer writes it from the
stream's spherical side data, which PyAV cannot set but does copy from a template
stream: so the video is encoded to MP4, given the V2 boxes above, and remuxed
(packets unchanged) into Matroska from FFmpeg's own reading of those boxes
(:func:`finish_container` picks by container; :func:`read_spherical` reads either).
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import av
from defusedxml import ElementTree

from .errors import InputError, VrdreamError

V1_UUID = bytes.fromhex("ffcc8263f8554a938814587a02521fdd")
_GSPHERICAL_NS = "http://ns.google.com/videos/1.0/spherical/"
_V1_XML = (
    '<?xml version="1.0"?>'
    '<rdf:SphericalVideo xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
    f'xmlns:GSpherical="{_GSPHERICAL_NS}">'
    "<GSpherical:Spherical>true</GSpherical:Spherical>"
    "<GSpherical:Stitched>true</GSpherical:Stitched>"
    "<GSpherical:StitchingSoftware>vrdream</GSpherical:StitchingSoftware>"
    "<GSpherical:ProjectionType>equirectangular</GSpherical:ProjectionType>"
    "</rdf:SphericalVideo>"
)

# Boxes that hold only other boxes (ISO/IEC 14496-12), plus the V2 ones we parse.
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"udta", b"sv3d", b"proj"}
# Visual sample entries: 8-byte box header, then 78 bytes of fields, then child boxes.
_VISUAL_ENTRIES = {b"avc1", b"avc3", b"hvc1", b"hev1", b"av01", b"vp08", b"vp09", b"mp4v", b"encv"}
_VISUAL_ENTRY_FIELDS = 78
_COPY_CHUNK = 1 << 20


@dataclass
class _Box:
    """A parsed box: ``head`` is the payload before any children (all of it for a leaf)."""

    kind: bytes
    head: bytes = b""
    children: list[_Box] | None = None  # None: a leaf

    def to_bytes(self) -> bytes:
        body = self.head + b"".join(c.to_bytes() for c in self.children or ())
        if 8 + len(body) < 1 << 32:
            return struct.pack(">I4s", 8 + len(body), self.kind) + body
        return struct.pack(">I4sQ", 1, self.kind, 16 + len(body)) + body

    def find(self, kind: bytes) -> list[_Box]:
        return [c for c in self.children or () if c.kind == kind]


def _box_header(data: bytes | BinaryIO, pos: int, end: int) -> tuple[bytes, int, int]:
    """(kind, header length, total size) of the box at ``pos``; size 0 means 'to ``end``'."""
    if isinstance(data, bytes):
        raw = data[pos : pos + 16]
    else:
        data.seek(pos)
        raw = data.read(16)
    if len(raw) < 8:
        raise ValueError(f"truncated box header at byte {pos}")
    size, kind = struct.unpack(">I4s", raw[:8])
    header = 8
    if size == 1:
        if len(raw) < 16:
            raise ValueError(f"truncated 64-bit box header at byte {pos}")
        size = struct.unpack(">Q", raw[8:16])[0]
        header = 16
    elif size == 0:
        size = end - pos
    if size < header or pos + size > end:
        raise ValueError(f"box {kind!r} at byte {pos} has a bad size {size}")
    return kind, header, size


def _parse(data: bytes, start: int, end: int) -> list[_Box]:
    boxes = []
    pos = start
    while pos + 8 <= end:
        kind, header, size = _box_header(data, pos, end)
        body = data[pos + header : pos + size]
        if kind in _CONTAINERS:
            boxes.append(_Box(kind, b"", _parse(body, 0, len(body))))
        elif kind == b"stsd":  # full box + entry count, then the sample entries
            boxes.append(_Box(kind, body[:8], _parse(body, 8, len(body))))
        elif kind in _VISUAL_ENTRIES:
            n = _VISUAL_ENTRY_FIELDS
            boxes.append(_Box(kind, body[:n], _parse(body, n, len(body))))
        else:
            boxes.append(_Box(kind, body))
        pos += size
    return boxes


def _top_level(f: BinaryIO, path: Path) -> list[tuple[bytes, int, int]]:
    """(kind, offset, size) of each top-level box, read from the headers only."""
    end = f.seek(0, 2)
    boxes, pos = [], 0
    try:
        while pos < end:
            kind, _, size = _box_header(f, pos, end)
            boxes.append((kind, pos, size))
            pos += size
    except ValueError as exc:
        raise InputError(path, f"not an MP4/MOV file ({exc})") from exc
    if not any(k == b"moov" for k, _, _ in boxes):
        raise InputError(path, "not an MP4/MOV file (no moov box)")
    return boxes


def _read_moov(f: BinaryIO, path: Path) -> tuple[_Box, int, int, list[tuple[bytes, int, int]]]:
    top = _top_level(f, path)
    kind, offset, size = next(b for b in top if b[0] == b"moov")
    f.seek(offset)
    data = f.read(size)
    try:
        (moov,) = _parse(data, 0, len(data))
    except ValueError as exc:
        raise InputError(path, f"damaged moov box ({exc})") from exc
    return moov, offset, size, top


def _handler(trak: _Box) -> bytes:
    for mdia in trak.find(b"mdia"):
        for hdlr in mdia.find(b"hdlr"):
            return hdlr.head[8:12]  # version/flags, pre_defined, then handler_type
    return b""


def _video_track(moov: _Box, path: Path) -> tuple[_Box, _Box]:
    """The first video ``trak`` and its visual sample entry."""
    for trak in moov.find(b"trak"):
        if _handler(trak) != b"vide":
            continue
        for mdia in trak.find(b"mdia"):
            for minf in mdia.find(b"minf"):
                for stbl in minf.find(b"stbl"):
                    for stsd in stbl.find(b"stsd"):
                        for entry in stsd.children or ():
                            if entry.kind in _VISUAL_ENTRIES:
                                return trak, entry
        raise InputError(path, "video track has a sample entry vrdream cannot extend")
    raise InputError(path, "has no video track")


def _full_box(kind: bytes, payload: bytes, children: list[_Box] | None = None) -> _Box:
    """A box with version 0, flags 0."""
    return _Box(kind, b"\0\0\0\0" + payload, children)


def _v2_boxes(source: str) -> list[_Box]:
    st3d = _full_box(b"st3d", bytes([0]))  # 0 = monoscopic
    svhd = _full_box(b"svhd", source.encode() + b"\0")
    prhd = _full_box(b"prhd", struct.pack(">iii", 0, 0, 0))  # pose yaw, pitch, roll (16.16 degrees)
    equi = _full_box(b"equi", struct.pack(">IIII", 0, 0, 0, 0))  # no cropping: full sphere
    return [st3d, _Box(b"sv3d", b"", [svhd, _Box(b"proj", b"", [prhd, equi])])]


def _is_v1(box: _Box) -> bool:
    return box.kind == b"uuid" and box.head[:16] == V1_UUID


def _chunk_offset_boxes(box: _Box) -> list[_Box]:
    found = [box] if box.kind in (b"stco", b"co64") else []
    for c in box.children or ():
        found += _chunk_offset_boxes(c)
    return found


def _shift_chunk_offsets(moov: _Box, after: int, delta: int, path: Path) -> None:
    """Add ``delta`` to every chunk offset ``>= after`` (samples stored past a grown moov)."""
    for box in _chunk_offset_boxes(moov):
        fmt = ">I" if box.kind == b"stco" else ">Q"
        width = struct.calcsize(fmt)
        (count,) = struct.unpack(">I", box.head[4:8])
        offsets = [struct.unpack_from(fmt, box.head, 8 + i * width)[0] for i in range(count)]
        shifted = [o + delta if o >= after else o for o in offsets]
        if box.kind == b"stco" and shifted and max(shifted) >= 1 << 32:
            raise VrdreamError(
                f"{path}: chunk offsets overflow 32 bits after adding 360° metadata; write the file without faststart"
            )
        box.head = box.head[:8] + b"".join(struct.pack(fmt, o) for o in shifted)


def _copy_range(src: BinaryIO, dst: BinaryIO, offset: int, length: int) -> None:
    src.seek(offset)
    while length > 0:
        chunk = src.read(min(_COPY_CHUNK, length))
        if not chunk:
            raise VrdreamError(f"{getattr(src, 'name', 'input')}: file ended while copying")
        dst.write(chunk)
        length -= len(chunk)


def inject_spherical(src: str | Path, dst: str | Path, source: str = "vrdream") -> None:
    """Copy MP4/MOV ``src`` to ``dst`` with V1 and V2 equirectangular mono metadata on its video track.

    Existing spherical boxes are replaced, so injecting twice gives the same file.
    ``dst`` must differ from ``src`` (callers write to a temporary file; see
    :func:`vrdream.videoio.write_video`).
    """
    src, dst = Path(src), Path(dst)
    with open(src, "rb") as fin:
        moov, moov_off, moov_size, top = _read_moov(fin, src)
        trak, entry = _video_track(moov, src)
        trak.children = [c for c in trak.children or () if not _is_v1(c)] + [_Box(b"uuid", V1_UUID + _V1_XML.encode())]
        entry.children = [c for c in entry.children or () if c.kind not in (b"st3d", b"sv3d")] + _v2_boxes(source)
        delta = len(moov.to_bytes()) - moov_size
        if any(kind == b"mdat" and off > moov_off for kind, off, _ in top):
            _shift_chunk_offsets(moov, moov_off + moov_size, delta, src)
        new_moov = moov.to_bytes()
        with open(dst, "wb") as fout:
            for _kind, off, size in top:
                if off == moov_off:
                    fout.write(new_moov)
                else:
                    _copy_range(fin, fout, off, size)


#: Output containers whose 360° metadata is the MP4 boxes above.
MP4_SUFFIXES = (".mp4", ".mov", ".m4v")
#: Output containers whose 360° metadata is the Projection element (Spherical V2 for Matroska).
MATROSKA_SUFFIXES = (".mkv", ".webm")


def encoding_suffix(path: str | Path) -> str:
    """The container to encode ``path``'s video into before :func:`finish_container`: MP4 for Matroska outputs."""
    suffix = Path(path).suffix.lower()
    return ".mp4" if suffix in MATROSKA_SUFFIXES else suffix


#: Tags FFmpeg's MP4 demuxer reports that describe the MP4 file itself, not what it holds.
MP4_BRAND_TAGS = ("major_brand", "minor_version", "compatible_brands", "encoder")


def _remux(src: Path, dst: Path) -> None:
    """Copy ``src``'s video and audio packets unchanged into ``dst``, in the container its suffix names.

    ``add_stream_from_template`` copies each stream's codec parameters, coded side data included: that
    is how the spherical mapping FFmpeg's MP4 demuxer reads off ``sv3d`` reaches its Matroska muxer.
    """
    with av.open(str(src)) as fin, av.open(str(dst), "w") as fout:
        streams = [s for s in fin.streams if s.type in ("video", "audio")]
        copies = {s.index: fout.add_stream_from_template(s, opaque=True) for s in streams}
        # The container's tags (vrdream.record's recipe tag among them), without MP4's own brand fields.
        fout.metadata.update({k: v for k, v in fin.metadata.items() if k not in MP4_BRAND_TAGS})
        for s in fin.streams.video:
            copy = copies[s.index]
            if isinstance(copy, av.VideoStream) and s.average_rate:
                # The rate becomes Matroska's DefaultDuration; FFmpeg leaves it unset for VP9/AV1 read from MP4.
                copy.codec_context.framerate = s.average_rate
        for packet in fin.demux(streams):
            if packet.dts is None:  # the demuxer's flush packet
                continue
            packet.stream = copies[packet.stream.index]
            fout.mux(packet)


def finish_container(src: str | Path, dst: str | Path, *, spherical: bool = True) -> None:
    """Put the encoded MP4/MOV ``src`` into ``dst``, in the container ``dst``'s suffix names, with equirectangular
    mono 360° metadata when ``spherical``: V1 and V2 boxes in MP4/MOV, the Projection element in MKV/WebM.

    ``src`` is the encoder's file, written in :func:`encoding_suffix`'s container; it may be moved or left
    behind (callers write both in temporary files; see :func:`vrdream.videoio.write_video`).
    """
    src, dst = Path(src), Path(dst)
    suffix = dst.suffix.lower()
    if suffix in MP4_SUFFIXES:
        if spherical:
            inject_spherical(src, dst)
        else:
            os.replace(src, dst)
        return
    if suffix not in MATROSKA_SUFFIXES:
        raise VrdreamError(f"{dst}: no 360° video container; use {', '.join(MP4_SUFFIXES + MATROSKA_SUFFIXES)}")
    if not spherical:
        _remux(src, dst)
        return
    fd, boxed = tempfile.mkstemp(prefix=f".{dst.stem}.", suffix=".sv3d.mp4", dir=dst.parent)
    os.close(fd)
    try:
        inject_spherical(src, boxed)
        _remux(Path(boxed), dst)
    finally:
        os.unlink(boxed)
    # An FFmpeg whose muxer dropped the side data would leave a flat-looking file: never pass that off as 360°.
    if read_spherical(dst).projection != "equirectangular":
        raise VrdreamError(
            f"{suffix}: PyAV's FFmpeg (libavformat {'.'.join(map(str, av.library_versions['libavformat']))}) "
            "did not write the Matroska Projection element; write .mp4, or upgrade av"
        )


@dataclass(frozen=True)
class SphericalMetadata:
    """What :func:`read_spherical` finds on the first video track (None/empty where absent)."""

    v1: dict[str, str] = field(
        default_factory=dict
    )  # GSpherical tag → text, e.g. {"ProjectionType": "equirectangular"}
    stereo_mode: int | None = None  # st3d: 0 mono, 1 top-bottom, 2 left-right
    projection: str | None = None  # sv3d/proj: "equirectangular" or "cubemap"
    pose: tuple[float, float, float] | None = None  # prhd yaw, pitch, roll in degrees
    bounds: tuple[int, int, int, int] | None = None  # equi top, bottom, left, right (0.32 fixed point)
    metadata_source: str | None = None  # svhd

    @property
    def has_v1(self) -> bool:
        return self.v1.get("Spherical", "").lower() == "true"

    @property
    def has_v2(self) -> bool:
        return self.projection is not None


def read_spherical(path: str | Path) -> SphericalMetadata:
    """Parse the spherical metadata of the first video track: V1 and V2 boxes of an MP4/MOV file, or the
    Projection element of a Matroska/WebM file (told apart by the file's first bytes)."""
    p = Path(path)
    with open(p, "rb") as f:
        if f.read(4) == _EBML.to_bytes(4, "big"):
            return _read_projection(f, p)
        moov, *_ = _read_moov(f, p)
    trak, entry = _video_track(moov, p)
    v1: dict[str, str] = {}
    for box in trak.find(b"uuid"):
        if _is_v1(box):
            root = ElementTree.fromstring(box.head[16:])
            v1 = {
                el.tag.split("}", 1)[1]: (el.text or "")
                for el in root.iter()
                if el.tag.startswith(f"{{{_GSPHERICAL_NS}}}")
            }
    kw: dict = {}
    for st3d in entry.find(b"st3d"):
        kw["stereo_mode"] = st3d.head[4]
    for sv3d in entry.find(b"sv3d"):
        for svhd in sv3d.find(b"svhd"):
            kw["metadata_source"] = svhd.head[4:].split(b"\0", 1)[0].decode(errors="replace")
        for proj in sv3d.find(b"proj"):
            for prhd in proj.find(b"prhd"):
                kw["pose"] = tuple(v / 65536 for v in struct.unpack(">iii", prhd.head[4:16]))
            for equi in proj.find(b"equi"):
                kw["projection"] = "equirectangular"
                kw["bounds"] = struct.unpack(">IIII", equi.head[4:20])
            if proj.find(b"cbmp"):
                kw["projection"] = "cubemap"
    return SphericalMetadata(v1=v1, **kw)


# Matroska/WebM. Hand-written EBML reading, because the one maintained Python EBML library (ebmlite 3.4)
# ships a Matroska schema that predates Projection and reads it as an unknown element; walking the
# handful of elements on the way to it takes less code than a schema of our own.
# Element IDs (RFC 9559) keep their length-marker bits, as written in the file.
_EBML, _SEGMENT, _TRACKS = 0x1A45DFA3, 0x18538067, 0x1654AE6B
_TRACK_ENTRY, _TRACK_TYPE, _VIDEO = 0xAE, 0x83, 0xE0
_PROJECTION, _PROJECTION_TYPE, _PROJECTION_PRIVATE = 0x7670, 0x7671, 0x7672
_PROJECTION_POSE = (0x7673, 0x7674, 0x7675)  # yaw, pitch, roll: float degrees, default 0
_PROJECTION_TYPES = {1: "equirectangular", 2: "cubemap", 3: "mesh"}  # 0 (rectangular): not 360°
_VIDEO_TRACK = 1


def _ebml_vint(f: BinaryIO, *, marker: bool) -> tuple[int, int]:
    """(value, length in bytes) of the variable-length integer at ``f``: an ID keeps its length marker, a size not."""
    first = f.read(1)
    if not first or not first[0]:
        raise ValueError(f"bad EBML number at byte {f.tell()}")
    length = 9 - first[0].bit_length()
    rest = f.read(length - 1)
    if len(rest) != length - 1:
        raise ValueError("truncated EBML number")
    head = first[0] if marker else first[0] & (0xFF >> length)
    return int.from_bytes(bytes([head]) + rest, "big"), length


def _ebml_element(f: BinaryIO) -> tuple[int, int | None]:
    """(ID, payload size or None when 'unknown') of the element at ``f``, which is left at its payload."""
    ident, _ = _ebml_vint(f, marker=True)
    size, length = _ebml_vint(f, marker=False)
    return ident, None if size == (1 << 7 * length) - 1 else size


def _ebml_children(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(ID, payload) of each element in a master element's payload."""
    f = io.BytesIO(data)
    while f.tell() < len(data):
        ident, size = _ebml_element(f)
        payload = f.read(size if size is not None else -1)
        if size is None or len(payload) != size:
            raise ValueError(f"element {ident:#x} runs past its parent")
        yield ident, payload


def _matroska_tracks(f: BinaryIO, path: Path) -> bytes:
    """The Segment's Tracks payload, found by skipping its siblings (clusters are never read)."""
    end = f.seek(0, 2)
    f.seek(0)
    try:
        ident, size = _ebml_element(f)
        if size is None:
            raise ValueError("EBML header of unknown size")
        f.seek(size, 1)
        ident, size = _ebml_element(f)
        if ident != _SEGMENT:
            raise ValueError("no Segment after the EBML header")
        stop = end if size is None else min(end, f.tell() + size)
        while f.tell() < stop:
            ident, size = _ebml_element(f)
            if ident == _TRACKS and size is not None:
                return f.read(size)
            if size is None:  # a live-written cluster: Tracks always comes before the clusters
                break
            f.seek(size, 1)
    except ValueError as exc:
        raise InputError(path, f"not a Matroska/WebM file ({exc})") from exc
    raise InputError(path, "has no Matroska Tracks element")


def _ebml_uint(data: bytes | None) -> int | None:
    return None if data is None else int.from_bytes(data, "big")


def _ebml_float(data: bytes | None) -> float:
    """An EBML float (4 or 8 bytes; absent or empty: the default 0)."""
    return struct.unpack(">f" if len(data) == 4 else ">d", data)[0] if data else 0.0


def _read_projection(f: BinaryIO, path: Path) -> SphericalMetadata:
    """The Projection element of the first video track (RFC 9559 5.1.4.1.28.41)."""
    tracks = _matroska_tracks(f, path)
    try:
        for ident, entry in _ebml_children(tracks):
            fields = dict(_ebml_children(entry)) if ident == _TRACK_ENTRY else {}
            if _ebml_uint(fields.get(_TRACK_TYPE)) != _VIDEO_TRACK:
                continue
            video = dict(_ebml_children(fields.get(_VIDEO, b"")))
            if _PROJECTION not in video:
                return SphericalMetadata()
            proj = dict(_ebml_children(video[_PROJECTION]))
            kind = _PROJECTION_TYPES.get(_ebml_uint(proj.get(_PROJECTION_TYPE)) or 0)
            if kind is None:
                return SphericalMetadata()
            # ProjectionPrivate of an equirect is the equi box's payload: version/flags, then the four bounds.
            private = proj.get(_PROJECTION_PRIVATE, b"")
            bounds = struct.unpack(">IIII", private[4:20]) if kind == "equirectangular" and len(private) >= 20 else None
            yaw, pitch, roll = (_ebml_float(proj.get(i)) for i in _PROJECTION_POSE)
            return SphericalMetadata(projection=kind, pose=(yaw, pitch, roll), bounds=bounds)
    except (ValueError, struct.error) as exc:
        raise InputError(path, f"damaged Matroska Tracks element ({exc})") from exc
    raise InputError(path, "has no video track")
