"""Google Photo Sphere (GPano) XMP metadata, and vrdream's own XMP fields.

Reference: https://developers.google.com/streetview/spherical-metadata. A
panorama is a ``FullPanoWidthPixels`` × ``FullPanoHeightPixels`` equirectangular
canvas (360° × 180°) of which the file holds the ``CroppedAreaImage*`` rectangle
whose top-left corner is at ``(CroppedAreaLeftPixels, CroppedAreaTopPixels)``.

Writers put GPano either as attributes of ``rdf:Description`` or as child
elements of it; :func:`parse_xmp` reads both. XMP comes from untrusted files, so
it is parsed with defusedxml (no DTDs, no entity expansion) and size-capped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from .errors import InputError

GPANO_NS = "http://ns.google.com/photos/1.0/panorama/"
VRDREAM_NS = "http://ns.vrdream.dev/1.0/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

MAX_XMP_BYTES = 1 << 20
"""XMP packets larger than this (1 MiB) are refused: a JPEG's XMP segment holds at most 64 KiB,
so anything much bigger is not a camera's metadata."""

_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class GPano:
    """The GPano fields vrdream reads and writes; ``None`` where a file leaves one out.

    Pixel fields are whole pixels of the full canvas (``full_*``) and of the
    cropped rectangle the file holds (``cropped_*``); angles are degrees.
    """

    projection_type: str = "equirectangular"
    use_panorama_viewer: bool = True
    full_width: int | None = None
    full_height: int | None = None
    cropped_width: int | None = None
    cropped_height: int | None = None
    cropped_left: int | None = None
    cropped_top: int | None = None
    pose_heading: float | None = None
    pose_pitch: float | None = None
    pose_roll: float | None = None
    initial_heading: float | None = None
    initial_pitch: float | None = None
    initial_roll: float | None = None
    initial_hfov: float | None = None

    @property
    def has_placement(self) -> bool:
        """Whether any FullPano*/CroppedArea* field is present (the file says where it lies on the sphere)."""
        return any(getattr(self, f) is not None for f in _PIXEL_FIELDS)

    def scaled(self, factor: float) -> GPano:
        """Pixel fields × ``factor``, for an output ``factor`` times the size of the input.

        The crop's *edges* are rounded, and its size is the difference of the
        rounded edges, so the scaled crop tiles the scaled canvas exactly as
        slicing ``[round(l*f):round((l+w)*f)]`` does.
        """

        def edge(v: int | None) -> int | None:
            return None if v is None else int(round(v * factor))

        def span(start: int | None, size: int | None) -> int | None:
            if size is None:
                return None
            s = start or 0
            return int(round((s + size) * factor)) - int(round(s * factor))

        return replace(
            self,
            full_width=edge(self.full_width),
            full_height=edge(self.full_height),
            cropped_left=edge(self.cropped_left),
            cropped_top=edge(self.cropped_top),
            cropped_width=span(self.cropped_left, self.cropped_width),
            cropped_height=span(self.cropped_top, self.cropped_height),
        )


# (GPano XMP name, GPano field, parser kind) for every field, in the order they are written.
_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("ProjectionType", "projection_type", "str"),
    ("UsePanoramaViewer", "use_panorama_viewer", "bool"),
    ("FullPanoWidthPixels", "full_width", "int"),
    ("FullPanoHeightPixels", "full_height", "int"),
    ("CroppedAreaImageWidthPixels", "cropped_width", "int"),
    ("CroppedAreaImageHeightPixels", "cropped_height", "int"),
    ("CroppedAreaLeftPixels", "cropped_left", "int"),
    ("CroppedAreaTopPixels", "cropped_top", "int"),
    ("PoseHeadingDegrees", "pose_heading", "float"),
    ("PosePitchDegrees", "pose_pitch", "float"),
    ("PoseRollDegrees", "pose_roll", "float"),
    ("InitialViewHeadingDegrees", "initial_heading", "float"),
    ("InitialViewPitchDegrees", "initial_pitch", "float"),
    ("InitialViewRollDegrees", "initial_roll", "float"),
    ("InitialHorizontalFOVDegrees", "initial_hfov", "float"),
)
_PIXEL_FIELDS = tuple(f for _, f, kind in _FIELDS if kind == "int")


def _parse_value(name: str, kind: str, text: str, source: Path) -> str | bool | int | float:
    text = text.strip()
    if kind == "str":
        return text
    if kind == "bool":
        if text.lower() not in ("true", "false"):
            raise InputError(source, f"GPano:{name} is {text!r}, not True or False")
        return text.lower() == "true"
    try:
        value = float(text)
    except ValueError:
        raise InputError(source, f"GPano:{name} is {text!r}, not a number") from None
    if not math.isfinite(value):
        raise InputError(source, f"GPano:{name} is {text!r}, not a finite number")
    if kind == "float":
        return value
    # Some writers put "4000.0" for pixel counts; accept whole numbers in any spelling.
    if not value.is_integer() or value < 0:
        raise InputError(source, f"GPano:{name} is {text!r}, not a whole number of pixels")
    return int(value)


def _descriptions(root: Element) -> list[Element]:
    # An x:xmpmeta wrapper, a bare rdf:RDF, or (rarely) a lone rdf:Description.
    return list(root.iter(f"{{{RDF_NS}}}Description"))


def _fields_in(desc: Element, ns: str) -> dict[str, str]:
    """Local name → text of every field of namespace ``ns``, written as attribute or as simple child element."""
    prefix = f"{{{ns}}}"
    out = {k[len(prefix) :]: v for k, v in desc.attrib.items() if k.startswith(prefix)}
    for child in desc:
        if child.tag.startswith(prefix) and len(child) == 0:
            out[child.tag[len(prefix) :]] = child.text or ""
    return out


def parse_xmp(data: bytes, source: Path) -> tuple[GPano | None, dict[str, str]]:
    """The GPano fields (``None`` when the packet has none) and vrdream's fields of an XMP packet.

    Raises :class:`InputError` naming ``source`` for an oversized, unsafe or
    malformed packet and for GPano values that are not numbers where numbers are due.
    """
    if len(data) > MAX_XMP_BYTES:
        raise InputError(source, f"XMP metadata is {len(data)} bytes, over the {MAX_XMP_BYTES} byte limit")
    # Padding after the packet (spaces, and NULs from some writers) is not XML.
    data = data.rstrip(b"\x00 \t\r\n")
    try:
        root = DET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise InputError(source, f"XMP metadata refused for safety ({type(exc).__name__})") from None
    except DET.ParseError as exc:
        raise InputError(source, f"XMP metadata is not well-formed XML ({exc})") from None
    gp: dict[str, str] = {}
    ours: dict[str, str] = {}
    for desc in _descriptions(root):
        gp.update(_fields_in(desc, GPANO_NS))
        ours.update(_fields_in(desc, VRDREAM_NS))
    known = {name: (attr, kind) for name, attr, kind in _FIELDS}
    # Any: each field's type is its kind's, which _parse_value checks (mypy cannot follow the table).
    values: dict[str, Any] = {known[k][0]: _parse_value(k, known[k][1], v, source) for k, v in gp.items() if k in known}
    return (GPano(**values) if values else None), ours


def _fmt(value: str | bool | int | float) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return str(value)


def build_xmp(gpano: GPano | None, vrdream: Mapping[str, str] = {}) -> bytes:  # noqa: B006 (read-only default)
    """An XMP packet (UTF-8) holding ``gpano``'s non-``None`` fields and ``vrdream`` as ``vrdream:KEY`` fields.

    ``gpano=None`` writes vrdream's fields only (a flat picture must not claim to be a panorama).

    Fields are written as attributes of one ``rdf:Description``, the form Google's
    own writers use and every panorama viewer reads.
    """
    # Imported here: xml.sax.saxutils loads urllib.request, http.client and email, a third of what
    # `vrdream info` (which only reads) would otherwise spend starting up.
    from xml.sax.saxutils import quoteattr

    attrs = [
        f"GPano:{name}={quoteattr(_fmt(getattr(gpano, attr)))}"
        for name, attr, _ in _FIELDS
        if gpano is not None and getattr(gpano, attr) is not None
    ]
    for key, value in vrdream.items():
        if not _NCNAME.match(key):
            raise ValueError(f"vrdream XMP field name {key!r} is not a valid XML name")
        attrs.append(f"vrdream:{key}={quoteattr(str(value))}")
    sep = "\n    "
    ns = ([f'xmlns:GPano="{GPANO_NS}"'] if gpano is not None else []) + [f'xmlns:vrdream="{VRDREAM_NS}"']
    text = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="vrdream">\n'
        f' <rdf:RDF xmlns:rdf="{RDF_NS}">\n'
        f'  <rdf:Description rdf:about=""{sep}{sep.join(ns + attrs)}/>\n'
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )
    return text.encode("utf-8")
