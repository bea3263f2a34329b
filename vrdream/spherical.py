"""Spherical Video metadata in MP4/MOV files: V1 (``uuid`` box with GSpherical XML) and V2 (``st3d``/``sv3d``).

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
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

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
    """Parse the V1 and V2 spherical metadata of an MP4/MOV file's video track."""
    p = Path(path)
    with open(p, "rb") as f:
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
