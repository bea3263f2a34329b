"""What a panorama file is and where it lies on the sphere, read without turning its pixels into arrays.

Opening a file with Pillow, its metadata (EXIF orientation, ICC profile, XMP with GPano), the
placement of the image on its full 2:1 canvas, and ``vrdream info``'s description of it.
:mod:`vrdream.photosphere` reads the pixels through the same functions; :func:`probe` stops before
them, so ``vrdream info`` imports no numpy and holds no float canvas (tests/test_cli_startup.py,
bench/cli.py). It still decodes the image, at 1/8 scale for a JPEG, so that a truncated or corrupt
file is refused here as it is by every other command.
"""

from __future__ import annotations

import io
import math
import struct
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageCms, ImageFile, UnidentifiedImageError

from .errors import InputError, VrdreamError
from .gpano import GPano, parse_xmp
from .settings import MAX_PIXELS

if TYPE_CHECKING:
    from .photosphere import Photosphere

READ_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP")
"""Pillow formats :func:`vrdream.photosphere.read_photosphere` accepts (Pillow's JPEG opener also gives the
MPO JPEGs of many phones)."""

_ORIENTATION = 0x0112

#: What decoding a file's pixels can raise for a truncated or corrupt file (beside :class:`InputError`).
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, ImageCms.PyCMSError)


@dataclass(frozen=True)
class SourceInfo:
    """What the file itself was, before placement (for ``vrdream info``)."""

    format: str  # Pillow's format name: JPEG, MPO, PNG, TIFF, WEBP
    mode: str  # Pillow's pixel mode of the file (L, LA, RGB, RGBA, P, CMYK, I;16, ...)
    width: int  # stored pixel size, before EXIF orientation
    height: int
    bits: int  # bits per channel decoded: 8 or 16 (32 for I/F modes)
    orientation: int  # EXIF orientation of the file (1 = upright), already applied to ``pixels``
    has_gpano: bool = False  # whether the file carried GPano fields (else ``Photosphere.gpano`` is synthesised)


# ---------------------------------------------------------------------------- opening and metadata


@contextmanager
def opened(path: Path, max_pixels: int) -> Iterator[ImageFile.ImageFile]:
    """The file opened by Pillow (header read, pixels not yet decoded), refused in one line when it is
    missing, empty, not an image or over ``max_pixels``; closed on exit.

    Pillow's decompression-bomb cap is one process-wide number (refusing above ~179 M pixels); this
    checks the per-call ``max_pixels`` right after the header is read instead, so Pillow's is lifted
    while the file is open.
    """
    if not path.exists():
        raise InputError(path, "no such file")
    if not path.is_file():
        raise InputError(path, "not a file")
    if path.stat().st_size == 0:
        raise InputError(path, "file is empty")
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        try:
            im = Image.open(path, formats=READ_FORMATS)
        except UnidentifiedImageError:
            raise InputError(path, "not a JPEG, PNG, TIFF or WebP image") from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise InputError(path, f"unreadable image header ({exc})") from None
        with im:
            sw, sh = im.size
            if sw * sh > max_pixels:
                raise InputError(
                    path,
                    f"{sw}×{sh} is {sw * sh} pixels, over the limit of {max_pixels} (a decompression "
                    "bomb?); pass --max-pixels N (max_pixels= in Python) to allow it",
                )
            yield im
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def find_xmp(info: dict, path: Path) -> bytes | None:
    """The XMP packet Pillow found: JPEG/WebP/TIFF and PNG iTXt give ``info['xmp']``; PNG tEXt/zTXt
    from other writers give the same key's text; ImageMagick writes a hex "Raw profile type xmp"."""
    if isinstance(xmp := info.get("xmp"), bytes):
        return xmp
    if isinstance(text := info.get("XML:com.adobe.xmp"), str):
        return text.encode("utf-8")
    if isinstance(raw := info.get("Raw profile type xmp"), str):
        # "\nxmp\n    <length>\n<hex lines>"
        parts = raw.split(None, 2)
        if len(parts) == 3:
            try:
                return bytes.fromhex("".join(parts[2].split()))
            except ValueError:
                raise InputError(path, "its ImageMagick XMP profile is not hexadecimal") from None
    return None


def icc_colour_space(icc: bytes, path: Path) -> str | None:
    """The profile's colour space ('RGB', 'CMYK', 'GRAY', ...), or ``None`` with a warning when it is corrupt.

    Decision: a corrupt profile is metadata, not pixels, so it is dropped with a
    warning rather than refusing a readable image (pixels are then taken as sRGB).
    """
    try:
        ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (OSError, ImageCms.PyCMSError, ValueError, TypeError):
        warnings.warn(f"{path}: ignoring its corrupt ICC profile; colours are taken as sRGB", stacklevel=3)
        return None
    return icc[16:20].decode("latin-1").strip()


def to_rgb_image(im: Image.Image, icc: bytes | None, path: Path) -> tuple[Image.Image, bytes | None]:
    """Convert modes numpy cannot take as they are; returns the image and the ICC profile still valid for it."""
    space = icc_colour_space(icc, path) if icc else None
    if im.mode == "CMYK":
        if space == "CMYK" and icc is not None:
            cmyk = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            im = ImageCms.buildTransform(cmyk, ImageCms.createProfile("sRGB"), "CMYK", "RGB").apply(im)
        else:  # no usable profile: Pillow's naive inversion, the best guess without one
            im = im.convert("RGB")
        return im, None  # pixels are now sRGB
    if im.mode in ("P", "PA"):
        im = im.convert("RGBA" if im.mode == "PA" or "transparency" in im.info else "RGB")
    elif im.mode == "1":
        im = im.convert("L")
    elif im.mode in ("RGBa", "La"):
        im = im.convert("RGBA" if im.mode == "RGBa" else "LA")
    elif im.mode not in ("L", "LA", "RGB", "RGBA", "I", "F") and not im.mode.startswith("I;16"):
        im = im.convert("RGB")
    # The profile travels to the output only where it describes RGB pixels; a GRAY profile
    # on grey pixels replicated to RGB would mislabel them (grey profiles are ~sRGB tone curves).
    return im, icc if space == "RGB" and im.mode in ("RGB", "RGBA") else None


def bits_of(mode: str) -> int:
    """Bits per channel of the array numpy makes of a :func:`to_rgb_image` result of ``mode``."""
    if mode in ("I", "F"):
        return 32
    return 16 if mode.startswith("I;16") else 8


def is_16bit_colour(im: ImageFile.ImageFile) -> bool:
    # Pillow decodes 16-bit RGB(A)/LA PNG and TIFF to 8 bits; their tile's raw mode says so.
    return im.mode in ("RGB", "RGBA", "LA") and any(";16" in str(t.args) for t in im.tile)


def clean_exif(im: Image.Image, path: Path) -> tuple[bytes | None, int]:
    """(EXIF bytes with Orientation reset to 1, the file's orientation). TIFF tags are not EXIF to carry over."""
    try:
        exif = im.getexif()
        orientation = int(exif.get(_ORIENTATION, 1))
    except (OSError, SyntaxError, ValueError, TypeError, KeyError) as exc:
        warnings.warn(f"{path}: ignoring its unreadable EXIF ({exc})", stacklevel=3)
        return None, 1
    if orientation not in range(1, 9):
        orientation = 1
    if "exif" not in im.info:
        return None, orientation
    exif[_ORIENTATION] = 1
    return exif.tobytes(), orientation


@dataclass(frozen=True)
class Loaded:
    """An 8-bit-or-wider file decoded by Pillow, with its metadata (see :func:`load`)."""

    image: Image.Image  # :func:`to_rgb_image`'s result, not yet oriented
    icc: bytes | None
    exif: bytes | None
    xmp: bytes | None
    info: SourceInfo


def load(im: ImageFile.ImageFile, path: Path, *, draft: bool = False) -> Loaded:
    """Decode an :func:`opened` file that is not :func:`is_16bit_colour` and read its metadata.

    ``draft``: a JPEG is decoded at 1/8 scale (its whole data is still read, so a truncated or
    corrupt file is refused as in a full decode), for callers that need everything but the pixels.
    """
    sw, sh = im.size
    try:
        if draft and im.format in ("JPEG", "MPO"):
            im.draft(None, (max(1, sw // 8), max(1, sh // 8)))
        im.load()
        exif, orientation = clean_exif(im, path)
        xmp = find_xmp(im.info, path)  # after load: PNG text chunks after the pixels come in then
        rgb, icc = to_rgb_image(im, im.info.get("icc_profile"), path)
    except DECODE_ERRORS as exc:
        raise InputError(path, f"truncated or corrupt image data ({exc})") from None
    return Loaded(rgb, icc, exif, xmp, SourceInfo(im.format or "?", im.mode, sw, sh, bits_of(rgb.mode), orientation))


# ---------------------------------------------------------------------------- placement on the canvas


_NOT_PANORAMA = (
    "is {w}×{h}, not a 2:1 equirectangular panorama, and has no Photo Sphere (GPano) metadata; "
    "pass --fov H,V (its horizontal and vertical field of view in degrees, e.g. --fov 120,90; "
    "fov=(h, v) in Python) to place it as a partial panorama"
)


def _even_canvas(width: float) -> tuple[int, int]:
    """(W, H) of the 2:1 canvas closest to ``width`` wide."""
    h = max(1, round(width / 2))
    return 2 * h, h


def _gpano_placement(w: int, h: int, gp: GPano, path: Path) -> tuple[int, int, tuple[int, int, int, int]]:
    """Canvas (W, H) and crop (left, top, width, height) on it for a w×h image with GPano placement fields.

    The canvas keeps the image's horizontal resolution: a file smaller than its
    ``CroppedAreaImage*`` (e.g. downsized after tagging) gives a proportionally
    smaller canvas. A FullPano that is not 2:1 is accepted (its rows span 180°)
    and placed by resampling the rows.
    """
    fw, fh = gp.full_width, gp.full_height
    if not fw or not fh:
        raise InputError(
            path, "GPano has CroppedArea* fields but no (or zero) FullPanoWidthPixels/FullPanoHeightPixels"
        )
    cw = fw if gp.cropped_width is None else gp.cropped_width
    ch = fh if gp.cropped_height is None else gp.cropped_height
    if not cw or not ch:
        raise InputError(path, f"GPano cropped area is {cw}×{ch} pixels")
    if (gp.cropped_left is None or gp.cropped_top is None) and (cw, ch) != (fw, fh):
        raise InputError(path, "GPano gives a cropped size but no CroppedAreaLeftPixels/CroppedAreaTopPixels")
    cl, ct = gp.cropped_left or 0, gp.cropped_top or 0
    if cl + cw > fw or ct + ch > fh:
        raise InputError(path, f"GPano cropped area {cw}×{ch} at ({cl}, {ct}) lies outside the full {fw}×{fh} panorama")
    sx, sy = w / cw, h / ch
    if abs(sx / sy - 1) > 0.01:
        raise InputError(path, f"is {w}×{h} but its GPano cropped area is {cw}×{ch} (a different shape)")
    W, H = _even_canvas(fw * sx)
    x0, x1 = round(cl * W / fw), round((cl + cw) * W / fw)
    y0, y1 = round(ct * H / fh), round((ct + ch) * H / fh)
    return W, H, (x0, y0, max(1, x1 - x0), max(1, y1 - y0))


def _fov_placement(w: int, h: int, fov: tuple[float, float]) -> tuple[int, int, tuple[int, int, int, int]]:
    """Canvas and crop for a w×h image covering ``fov`` = (horizontal, vertical) degrees, centred on yaw 0, pitch 0."""
    hf, vf = fov
    if not (0 < hf <= 360 and 0 < vf <= 180):
        raise VrdreamError(
            f"--fov {hf:g},{vf:g}: the horizontal field of view must be in (0, 360] "
            "and the vertical in (0, 180] degrees"
        )
    W, H = _even_canvas(w * 360 / hf)
    cw, ch = max(1, min(W, round(hf / 360 * W))), max(1, min(H, round(vf / 180 * H)))
    return W, H, ((W - cw) // 2, (H - ch) // 2, cw, ch)


def _placement(
    w: int, h: int, gp: GPano | None, fov: tuple[float, float] | None, path: Path
) -> tuple[int, int, tuple[int, int, int, int]]:
    """Canvas (W, H) and the image's rectangle on it, from GPano, ``fov``, or a plain 2:1 image."""
    if gp is not None and gp.projection_type.strip().lower() != "equirectangular":
        raise InputError(path, f"GPano ProjectionType is {gp.projection_type!r}; only equirectangular is supported")
    if gp is not None and gp.has_placement:
        if fov is not None:
            raise InputError(
                path, "already carries its placement on the sphere (GPano); --fov is only for images without it"
            )
        return _gpano_placement(w, h, gp, path)
    if fov is not None:
        return _fov_placement(w, h, fov)
    if w != 2 * h:
        raise InputError(path, _NOT_PANORAMA.format(w=w, h=h))
    return w, h, (0, 0, w, h)


@dataclass(frozen=True)
class Placement:
    """Where an upright w×h image lies on its canvas (see :func:`place`)."""

    width: int  # the canvas, W = 2 H (or the image itself when flat)
    height: int
    rect: tuple[int, int, int, int]  # (left, top, width, height) of the image on the canvas
    gpano: GPano  # the file's (or a synthesised) GPano with the canvas and ``rect`` filled in
    vrdream: dict[str, str]  # vrdream's own XMP fields in the file
    has_gpano: bool  # whether the file carried GPano

    @property
    def full(self) -> bool:
        return self.rect == (0, 0, self.width, self.height)


def place(w: int, h: int, xmp: bytes | None, path: Path, *, fov: tuple[float, float] | None, flat: bool) -> Placement:
    """The canvas of an upright w×h image with the XMP packet ``xmp``: from its GPano, ``fov``, or as a
    plain 2:1 panorama; ``flat``: an ordinary picture, its own canvas."""
    gp, ours = parse_xmp(xmp, path) if xmp else (None, {})
    has_gpano = gp is not None
    if flat:
        W, H, rect = w, h, (0, 0, w, h)
        gp = GPano(use_panorama_viewer=False)
    else:
        W, H, rect = _placement(w, h, gp, fov, path)
        gp = gp or GPano()
    x, y, cw, ch = rect
    gp = replace(gp, full_width=W, full_height=H, cropped_left=x, cropped_top=y, cropped_width=cw, cropped_height=ch)
    return Placement(W, H, rect, gp, ours, has_gpano)


# ---------------------------------------------------------------------------- describing


@dataclass(frozen=True)
class PanoramaInfo:
    """What ``vrdream info`` says of a panorama: a :class:`~vrdream.photosphere.Photosphere` without its pixels.

    ``real_fraction``: the mean of the canvas' validity mask (alpha and crop), as
    ``Photosphere.mask.mean()`` gives it (float32).
    """

    source: Path | None
    file: SourceInfo | None
    width: int
    height: int
    crop: tuple[int, int, int, int] | None
    gpano: GPano
    vrdream: Mapping[str, str]
    exif: bool
    icc: bool
    flat: bool
    real_fraction: float

    @property
    def is_partial(self) -> bool:
        return self.crop is not None

    def coverage(self) -> dict[str, float]:
        """Yaw/pitch ranges (degrees) of the real rectangle and the fraction of the sphere it covers."""
        x, y, w, h = self.crop or (0, 0, self.width, self.height)
        yaw0, yaw1 = (x / self.width - 0.5) * 360, ((x + w) / self.width - 0.5) * 360
        pitch1, pitch0 = (0.5 - y / self.height) * 180, (0.5 - (y + h) / self.height) * 180
        area = (yaw1 - yaw0) / 360 * (math.sin(math.radians(pitch1)) - math.sin(math.radians(pitch0))) / 2
        return {"yaw_min": yaw0, "yaw_max": yaw1, "pitch_min": pitch0, "pitch_max": pitch1, "sphere_fraction": area}

    def summary(self) -> dict:
        """Everything ``vrdream info`` shows, as JSON-able data."""
        gp = {k: v for k, v in vars(self.gpano).items() if v is not None}
        real = self.real_fraction
        kind = "flat" if self.flat else ("partial" if self.is_partial else "full")
        if self.flat:
            plan = "flat picture: dreamed as an ordinary image"
        elif self.is_partial:
            plan = "partial: dreamed only where pixels are real, written back in its crop"
        else:
            face = self.width // 4
            plan = f"full sphere: dreamed on a 6×{face}² cubemap (face = W/4)"
        if real < 0.999 and not (self.flat or self.is_partial):
            plan += f"; {real:.0%} of the canvas is real (alpha/crop), dreamed only there"
        f = self.file
        return {
            "path": str(self.source) if self.source else None,
            "format": f.format if f else None,
            "mode": f.mode if f else None,
            "bits": f.bits if f else None,
            "file_size": [f.width, f.height] if f else None,
            "exif_orientation": f.orientation if f else None,
            "gpano_in_file": f.has_gpano if f else None,
            "canvas_size": [self.width, self.height],
            "kind": kind,
            "crop": list(self.crop) if self.crop else None,
            "coverage": None if self.flat else self.coverage(),
            "real_fraction": real,
            "gpano": gp,
            "vrdream": dict(self.vrdream),
            "exif": self.exif,
            "icc": self.icc,
            "plan": plan,
        }

    def describe(self) -> str:
        """A human summary: file, placement, GPano fields and what the pipeline would do."""
        s = self.summary()
        lines = [f"{s['path']}"]
        if s["format"]:
            w, h = s["file_size"]
            lines.append(
                f"  file:        {s['format']} {w}×{h}, mode {s['mode']} ({s['bits']}-bit), "
                f"EXIF orientation {s['exif_orientation']}"
            )
        lines.append(f"  canvas:      {self.width}×{self.height} {'flat' if self.flat else 'equirectangular'}")
        if s["coverage"]:
            c = s["coverage"]
            extent = (
                f"yaw {c['yaw_min']:.1f}°..{c['yaw_max']:.1f}°, pitch {c['pitch_min']:.1f}°..{c['pitch_max']:.1f}°, "
                f"{c['sphere_fraction']:.0%} of the sphere"
            )
            where = f" at {tuple(self.crop)}" if self.crop else ""
            lines.append(f"  {s['kind']:<12} {extent}{where}")
        lines.append(f"  metadata:    EXIF {'yes' if s['exif'] else 'no'}, ICC {'yes' if s['icc'] else 'no'}")
        if not self.flat:
            origin = "" if s["gpano_in_file"] else " (synthesised: the file has none)"
            fields = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in s["gpano"].items())
            lines.append(f"  GPano:       {fields}{origin}")
        if self.vrdream:
            lines.append("  vrdream:     " + ", ".join(f"{k}={v}" for k, v in self.vrdream.items()))
        lines.append(f"  pipeline:    {s['plan']}")
        return "\n".join(lines)


def _float32(x: float) -> float:
    """``x`` rounded to float32, as numpy's cast rounds it (to nearest, ties to even)."""
    return struct.unpack("f", struct.pack("f", x))[0]


def probe(
    path: str | Path, *, fov: tuple[float, float] | None = None, max_pixels: int = MAX_PIXELS, flat: bool = False
) -> PanoramaInfo:
    """:func:`vrdream.photosphere.read_photosphere`'s answer for the file at ``path`` without its pixels:
    the same checks and errors, the same placement; the pixels are decoded (a JPEG at 1/8 scale) but
    never placed on a float canvas.

    A file with alpha (whose mean needs the pixels) or 16-bit colour (decoded by OpenCV) is read in full.
    """
    path = Path(path)
    with opened(path, max_pixels) as im:
        loaded = None if is_16bit_colour(im) else load(im, path, draft=True)
    if loaded is None or loaded.image.mode in ("RGBA", "LA"):
        from .photosphere import read_photosphere

        return panorama_info(read_photosphere(path, fov=fov, max_pixels=max_pixels, flat=flat))
    info = loaded.info
    w, h = (info.height, info.width) if info.orientation in (5, 6, 7, 8) else (info.width, info.height)
    p = place(w, h, loaded.xmp, path, fov=fov, flat=flat)
    # Without alpha the mask is 1 on the image's rectangle, 0 elsewhere: numpy's float32 sum of it is
    # exact (up to 2^24 pixels) and its mean divides that by the count in float64, then rounds to float32.
    real = _float32(p.rect[2] * p.rect[3] / (p.width * p.height))
    return PanoramaInfo(
        path,
        replace(info, has_gpano=p.has_gpano),
        p.width,
        p.height,
        None if p.full else p.rect,
        p.gpano,
        p.vrdream,
        loaded.exif is not None,
        loaded.icc is not None,
        flat,
        real,
    )


def panorama_info(ps: Photosphere) -> PanoramaInfo:
    """What ``vrdream info`` says of a photosphere already read."""
    return PanoramaInfo(
        ps.source,
        ps.file,
        ps.width,
        ps.height,
        ps.crop,
        ps.gpano,
        ps.vrdream,
        ps.exif is not None,
        ps.icc is not None,
        ps.flat,
        float(ps.mask.mean()),
    )


@dataclass(frozen=True)
class ReadOptions:
    """How to read an input image (the ``--flat``, ``--fov`` and ``--max-pixels`` flags of every command)."""

    #: An ordinary picture, not a panorama.
    flat: bool = False
    #: (horizontal, vertical) degrees of an image without Photo Sphere metadata that is not 2:1.
    fov_deg: tuple[float, float] | None = None
    #: Refuse images of more than this many pixels (decompression bombs).
    max_pixels: int = MAX_PIXELS

    def read(self, path: str | Path) -> Photosphere:
        """:func:`vrdream.photosphere.read_photosphere` with these options."""
        from .photosphere import read_photosphere  # numpy: imported by whoever reads pixels, not by probe

        return read_photosphere(path, fov=self.fov_deg, max_pixels=self.max_pixels, flat=self.flat)

    def probe(self, path: str | Path) -> PanoramaInfo:
        """:func:`probe` with these options."""
        return probe(path, fov=self.fov_deg, max_pixels=self.max_pixels, flat=self.flat)
