"""Photosphere files: read a panorama onto its full 2:1 canvas, write it back with Photo Sphere metadata.

Reading gives float RGB on the *full* equirectangular canvas (conventions.md:
row 0 is up, column 0 is yaw -180°) and a mask of where pixels are real. A
partial photosphere (the usual phone case) is placed on the canvas by its GPano
``CroppedArea*`` fields; an image without GPano must be 2:1, or be given its
field of view (``fov``). Writing crops back to the input's rectangle (or writes
the full sphere) at any resolution, with GPano scaled to match and the input's
EXIF, ICC profile and pose fields kept, so that Google Photos, Facebook and
panorama viewers show the output as a 360° photo.

Pillow is used only at the file edge; placement and conversion are numpy.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageFile, PngImagePlugin, UnidentifiedImageError

from .atomic import atomic_path, check_output
from .errors import InputError, VrdreamError
from .gpano import GPano, build_xmp, parse_xmp
from .quantize import to_uint8
from .settings import MAX_PIXELS

READ_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP")
"""Pillow formats :func:`read_photosphere` accepts (Pillow's JPEG opener also gives the MPO JPEGs of many phones)."""
WRITE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}
WEBP_MAX_SIDE = 16383  # the WebP bitstream stores sides in 14 bits

_ORIENTATION = 0x0112
_EXIF_IFD = 0x8769
_PIXEL_X, _PIXEL_Y = 0xA002, 0xA003


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


@dataclass
class Photosphere:
    """A panorama on its full 2:1 equirectangular canvas.

    ``pixels`` (H, W, 3) float32 in [0, 1], zeros where unknown; ``mask`` (H, W)
    float32, 1 where pixels are real (alpha and/or crop). ``gpano`` describes
    the canvas: ``full_*`` = (W, H), ``cropped_*`` = the real rectangle (the
    whole canvas for a full sphere), with the file's pose/initial-view fields.
    ``crop`` is ``(left, top, width, height)`` in canvas pixels for a partial
    input, else ``None``. ``exif`` is the file's EXIF with Orientation reset
    to 1 (the pixels are upright); ``icc`` the file's RGB ICC profile.
    ``flat`` marks an ordinary picture read with ``flat=True`` (written without GPano).
    """

    pixels: np.ndarray
    mask: np.ndarray
    gpano: GPano
    crop: tuple[int, int, int, int] | None
    exif: bytes | None
    icc: bytes | None
    vrdream: dict[str, str] = field(default_factory=dict)
    source: Path | None = None
    flat: bool = False
    file: SourceInfo | None = None

    @property
    def is_partial(self) -> bool:
        return self.crop is not None

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def height(self) -> int:
        return self.pixels.shape[0]


# ---------------------------------------------------------------------------- reading


@contextmanager
def _pillow_cap_lifted() -> Iterator[None]:
    # Pillow's decompression-bomb cap is one process-wide number (refusing above
    # ~179 M pixels); vrdream checks its own per-call ``max_pixels`` right after
    # the header is read, so Pillow's is lifted while this file is opened and decoded.
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _open(path: Path) -> ImageFile.ImageFile:
    if not path.exists():
        raise InputError(path, "no such file")
    if not path.is_file():
        raise InputError(path, "not a file")
    if path.stat().st_size == 0:
        raise InputError(path, "file is empty")
    try:
        return Image.open(path, formats=READ_FORMATS)
    except UnidentifiedImageError:
        raise InputError(path, "not a JPEG, PNG, TIFF or WebP image") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(path, f"unreadable image header ({exc})") from None


def _find_xmp(info: dict, path: Path) -> bytes | None:
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


def _icc_colour_space(icc: bytes, path: Path) -> str | None:
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


def _to_rgb_image(im: Image.Image, icc: bytes | None, path: Path) -> tuple[Image.Image, bytes | None]:
    """Convert modes numpy cannot take as they are; returns the image and the ICC profile still valid for it."""
    space = _icc_colour_space(icc, path) if icc else None
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


def _is_16bit_colour(im: ImageFile.ImageFile) -> bool:
    # Pillow decodes 16-bit RGB(A)/LA PNG and TIFF to 8 bits; their tile's raw mode says so.
    return im.mode in ("RGB", "RGBA", "LA") and any(";16" in str(t.args) for t in im.tile)


def _decode_16bit(path: Path, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray | None]:
    """(colour (H, W, 3) or (H, W), alpha (H, W) or None) uint16 views, via OpenCV, which keeps 16 bits."""
    import cv2  # only this path needs it

    arr = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)  # BGR(A), no EXIF rotation
    if arr is None or arr.shape[:2] != (size[1], size[0]):
        raise InputError(path, "truncated or corrupt 16-bit image data")
    if arr.ndim == 2:
        return arr, None
    channels = arr.shape[2]
    if channels == 2:
        return arr[..., 0], arr[..., 1]
    return arr[..., 2::-1], (arr[..., 3] if channels == 4 else None)


def _split(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Colour (H, W, 3) or grey (H, W), and alpha (H, W) or None, as views of a Pillow array."""
    if arr.ndim == 2:
        return arr, None
    if arr.shape[2] == 2:
        return arr[..., 0], arr[..., 1]
    return arr[..., :3], (arr[..., 3] if arr.shape[2] == 4 else None)


def orient(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply EXIF ``orientation`` (1..8) to an (H, W, ...) array as a view; the same as Pillow's ``exif_transpose``."""
    if orientation in (5, 6, 7, 8):
        a = a.swapaxes(0, 1)  # transpose, then flip as the remaining table says
    flip_rows, flip_cols = {1: (0, 0), 2: (0, 1), 3: (1, 1), 4: (1, 0), 5: (0, 0), 6: (0, 1), 7: (1, 1), 8: (1, 0)}.get(
        orientation, (0, 0)
    )
    return a[:: -1 if flip_rows else 1, :: -1 if flip_cols else 1]


def _scale_of(dtype: np.dtype) -> float:
    if dtype.kind == "u":  # uint8, uint16 of either byte order
        return 1 / (2 ** (8 * dtype.itemsize) - 1)
    if dtype.kind == "i":  # Pillow's "I" mode: 16-bit grey from older writers
        return 1 / 65535
    return 1.0  # "F": already in [0, 1] by convention


def _to_float(a: np.ndarray, out: np.ndarray) -> None:
    """Write ``a`` (h, w, 3) or grey (h, w), any integer/float dtype, as float32 [0, 1]
    into ``out`` (h, w, 3) or (h, w)."""
    src = a[..., None] if a.ndim == 2 and out.ndim == 3 else a
    np.multiply(src, np.float32(_scale_of(a.dtype)), out=out, casting="unsafe")
    if a.dtype.kind != "u":
        np.clip(out, 0.0, 1.0, out=out)


def resize(a: np.ndarray, *, height: int, width: int) -> np.ndarray:
    """Resize (H, W, C) or (H, W) float32 to ``height`` x ``width`` with antialiased Lanczos.

    Pillow's float ("F") resampling widens the kernel when shrinking, unlike
    OpenCV's fixed-support LANCZOS4, so downsizing does not alias. Values are
    clipped to [0, 1] (Lanczos overshoots at edges).
    """
    if a.ndim == 2:
        return resize(a[..., None], height=height, width=width)[..., 0]
    out = np.empty((height, width, a.shape[2]), np.float32)
    for c in range(a.shape[2]):
        ch = Image.fromarray(np.ascontiguousarray(a[..., c], dtype=np.float32), mode="F")
        out[..., c] = np.asarray(ch.resize((width, height), Image.Resampling.LANCZOS))  # Pillow: (w, h)
    return np.clip(out, 0.0, 1.0, out=out)


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


def _clean_exif(im: Image.Image, path: Path) -> tuple[bytes | None, int]:
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
class _Decoded:
    colour: np.ndarray  # (h, w, 3) or grey (h, w), upright, integer or float dtype (views)
    alpha: np.ndarray | None  # (h, w) or None
    xmp: bytes | None
    exif: bytes | None
    icc: bytes | None
    info: SourceInfo


def _decode(path: Path, max_pixels: int) -> _Decoded:
    """Decode a file's pixels and metadata; the Pillow image is gone when this returns (one copy less)."""
    with _pillow_cap_lifted():
        im = _open(path)
        with im:
            sw, sh = im.size
            if sw * sh > max_pixels:
                raise InputError(
                    path,
                    f"{sw}×{sh} is {sw * sh} pixels, over the limit of {max_pixels} (a decompression "
                    "bomb?); pass --max-pixels N (max_pixels= in Python) to allow it",
                )
            wide = _is_16bit_colour(im)  # before anything loads the image and drops its tiles
            try:
                if not wide:
                    im.load()
                exif, orientation = _clean_exif(im, path)
                xmp = _find_xmp(im.info, path)  # after load: PNG text chunks after the pixels come in then
                if wide:
                    colour, alpha = _decode_16bit(path, im.size)
                    icc = im.info.get("icc_profile")
                    icc = icc if icc and colour.ndim == 3 and _icc_colour_space(icc, path) == "RGB" else None
                else:
                    rgb_im, icc = _to_rgb_image(im, im.info.get("icc_profile"), path)
                    colour, alpha = _split(np.asarray(rgb_im))
            except (OSError, SyntaxError, ValueError, EOFError, ImageCms.PyCMSError) as exc:
                raise InputError(path, f"truncated or corrupt image data ({exc})") from None
            info = SourceInfo(im.format or "?", im.mode, sw, sh, 8 * colour.dtype.itemsize, orientation)
    return _Decoded(
        orient(colour, orientation), None if alpha is None else orient(alpha, orientation), xmp, exif, icc, info
    )


def read_photosphere(
    path: str | Path, *, fov: tuple[float, float] | None = None, max_pixels: int = MAX_PIXELS, flat: bool = False
) -> Photosphere:
    """Read a JPEG, PNG, TIFF or WebP panorama onto its full 2:1 canvas.

    ``fov`` = (horizontal, vertical) degrees places an image without GPano as a
    partial panorama centred on yaw 0, pitch 0. ``flat=True`` reads an ordinary
    picture: no 2:1 or GPano checks, canvas = image, ``crop`` None.
    Images over ``max_pixels`` (width × height) are refused. Any problem with
    the file raises :class:`InputError` naming it.
    """
    path = Path(path)
    d = _decode(path, max_pixels)
    gp, ours = parse_xmp(d.xmp, path) if d.xmp else (None, {})
    h, w = d.colour.shape[:2]
    info = replace(d.info, has_gpano=gp is not None)
    if flat:
        W, H, rect = w, h, (0, 0, w, h)
        gp = GPano(use_panorama_viewer=False)
    else:
        W, H, rect = _placement(w, h, gp, fov, path)
        gp = gp or GPano()
    x, y, cw, ch = rect
    full = rect == (0, 0, W, H)
    pixels = np.empty((H, W, 3), np.float32) if full else np.zeros((H, W, 3), np.float32)
    mask = np.zeros((H, W), np.float32)
    if (cw, ch) == (w, h):
        _to_float(d.colour, pixels[y : y + ch, x : x + cw])
        if d.alpha is not None:
            _to_float(d.alpha, mask[y : y + ch, x : x + cw])
    else:  # the image's size differs from its rectangle on the canvas: resample to fit
        tmp = np.empty((h, w, 3), np.float32)
        _to_float(d.colour, tmp)
        pixels[y : y + ch, x : x + cw] = resize(tmp, height=ch, width=cw)
        if d.alpha is not None:
            a = np.empty((h, w), np.float32)
            _to_float(d.alpha, a)
            mask[y : y + ch, x : x + cw] = resize(a, height=ch, width=cw)
    if d.alpha is None:
        mask[y : y + ch, x : x + cw] = 1.0
    gp = replace(gp, full_width=W, full_height=H, cropped_left=x, cropped_top=y, cropped_width=cw, cropped_height=ch)
    return Photosphere(
        pixels=pixels,
        mask=mask,
        gpano=gp,
        crop=None if full else rect,
        exif=d.exif,
        icc=d.icc,
        vrdream=ours,
        source=path,
        flat=flat,
        file=info,
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
        """:func:`read_photosphere` with these options."""
        return read_photosphere(path, fov=self.fov_deg, max_pixels=self.max_pixels, flat=self.flat)


# ---------------------------------------------------------------------------- writing


def _to_uint8(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """(h, w, 3) float [0, 1] (and (h, w) alpha) → (h, w, 3 or 4) uint8, written straight into the output
    (:func:`~vrdream.quantize.to_uint8` works in row blocks, so no full-size temporary is made)."""
    h, w = rgb.shape[:2]
    out = np.empty((h, w, 3 if alpha is None else 4), np.uint8)
    to_uint8(rgb, out=out[..., :3])
    if alpha is not None:
        to_uint8(alpha, out=out[..., 3])
    return out


def _exif_for(exif: bytes, size: tuple[int, int]) -> bytes:
    """The source's EXIF with its pixel-dimension tags (when present) set to the output's ``size``."""
    ex = Image.Exif()
    ex.load(exif)
    ifd = ex.get_ifd(_EXIF_IFD)
    for tag, value in ((_PIXEL_X, size[0]), (_PIXEL_Y, size[1])):
        if tag in ifd:
            ifd[tag] = value
    return ex.tobytes()


def check_quality(quality: int) -> None:
    """JPEG/WebP quality must be 1-100: checked up front by every command that writes images."""
    if not 1 <= quality <= 100:
        raise VrdreamError(f"--quality {quality}: must be 1 to 100")


def write_format(path: Path) -> str:
    """The Pillow format :func:`write_photosphere` writes ``path`` in; one line naming the choices when none
    (called up front by every command, so a long job never ends on an unwritable suffix)."""
    fmt = WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise VrdreamError(f"{path}: cannot write {path.suffix or 'files without a suffix'}; use .jpg, .png or .webp")
    return fmt


def write_photosphere(
    path: str | Path,
    pixels: np.ndarray,
    like: Photosphere,
    *,
    mask: np.ndarray | None = None,
    crop: bool = True,
    quality: int = 95,
    vrdream: Mapping[str, str] = {},  # noqa: B006
    overwrite: bool = False,
    inputs: Iterable[str | Path] = (),
) -> Path:
    """Write ``pixels`` (H', W', 3) float [0, 1] (or uint8, already quantised by :func:`vrdream.quantize.to_uint8`)
    on ``like``'s full canvas at any resolution, with GPano.

    The format follows the suffix (.jpg/.jpeg, .png, .webp). A partial ``like``
    is written in its crop (scaled to this resolution) unless ``crop=False``,
    which writes the full sphere. ``mask`` (H', W') becomes the alpha channel of
    PNG/WebP outputs (JPEG has none). GPano pixel fields are scaled and made
    consistent with what is written; ``like``'s pose fields, EXIF and ICC
    profile are kept; ``vrdream`` updates ``like.vrdream`` in the vrdream XMP
    namespace. Written atomically; refuses to replace an input (``like.source``
    always counts as one), or an existing file without ``overwrite``.
    """
    path = Path(path)
    fmt = write_format(path)
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"pixels must be (H, W, 3), got {pixels.shape}")
    H, W = pixels.shape[:2]
    factor = W / like.width
    if abs(H - like.height * factor) > 1:
        raise ValueError(f"pixels are {W}×{H}, not the shape of the {like.width}×{like.height} canvas")
    if mask is not None and mask.shape != (H, W):
        raise ValueError(f"mask must be {(H, W)}, got {mask.shape}")
    # ``like.crop`` and ``like``'s canvas are the truth (a ``like`` built in code may carry a bare GPano()).
    cl, ct, ccw, cch = like.crop or (0, 0, like.width, like.height)
    gp = replace(
        like.gpano,
        full_width=like.width,
        full_height=like.height,
        cropped_left=cl,
        cropped_top=ct,
        cropped_width=ccw,
        cropped_height=cch,
    )
    gp = replace(gp.scaled(factor), full_width=W, full_height=H)
    if not (crop and like.is_partial):
        gp = replace(gp, cropped_left=0, cropped_top=0, cropped_width=W, cropped_height=H)
    x, y, cw, ch = gp.cropped_left, gp.cropped_top, gp.cropped_width, gp.cropped_height
    assert x is not None and y is not None and cw is not None and ch is not None  # all set above; scaled() keeps them
    if fmt == "WEBP" and max(cw, ch) > WEBP_MAX_SIDE:
        raise VrdreamError(
            f"{path}: WebP holds at most {WEBP_MAX_SIDE} pixels a side, this is {cw}×{ch}; write .jpg or .png"
        )
    check_output(path, inputs=[*inputs, *([like.source] if like.source else [])], overwrite=overwrite)
    alpha = None if mask is None or fmt == "JPEG" else mask[y : y + ch, x : x + cw]
    image = Image.fromarray(_to_uint8(pixels[y : y + ch, x : x + cw], alpha))
    xmp = build_xmp(None if like.flat else gp, {**like.vrdream, **vrdream})
    kw: dict = {}
    if like.exif:
        kw["exif"] = _exif_for(like.exif, (cw, ch))
    if like.icc:
        kw["icc_profile"] = like.icc
    if fmt == "JPEG":
        # 4:4:4: dreamed detail is high-frequency colour that 4:2:0 chroma subsampling smears.
        kw.update(quality=quality, subsampling=0, optimize=True, xmp=xmp)
    elif fmt == "WEBP":
        kw.update(quality=quality, xmp=xmp)
    else:  # Pillow 13 has no xmp= for PNG: the XMP spec's uncompressed iTXt chunk, placed before IDAT
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8"), zip=False)
        kw["pnginfo"] = info
    with atomic_path(path) as tmp:
        image.save(tmp, format=fmt, **kw)
    return path


# ---------------------------------------------------------------------------- describing


def coverage(ps: Photosphere) -> dict[str, float]:
    """Yaw/pitch ranges (degrees) of the real rectangle and the fraction of the sphere it covers."""
    x, y, w, h = ps.crop or (0, 0, ps.width, ps.height)
    yaw0, yaw1 = (x / ps.width - 0.5) * 360, ((x + w) / ps.width - 0.5) * 360
    pitch1, pitch0 = (0.5 - y / ps.height) * 180, (0.5 - (y + h) / ps.height) * 180
    area = (yaw1 - yaw0) / 360 * (math.sin(math.radians(pitch1)) - math.sin(math.radians(pitch0))) / 2
    return {"yaw_min": yaw0, "yaw_max": yaw1, "pitch_min": pitch0, "pitch_max": pitch1, "sphere_fraction": area}


def summary(ps: Photosphere) -> dict:
    """Everything ``vrdream info`` shows, as JSON-able data."""
    gp = {k: v for k, v in vars(ps.gpano).items() if v is not None}
    real = float(ps.mask.mean())
    kind = "flat" if ps.flat else ("partial" if ps.is_partial else "full")
    if ps.flat:
        plan = "flat picture: dreamed as an ordinary image"
    elif ps.is_partial:
        plan = "partial: dreamed only where pixels are real, written back in its crop"
    else:
        face = ps.width // 4
        plan = f"full sphere: dreamed on a 6×{face}² cubemap (face = W/4)"
    if real < 0.999 and not (ps.flat or ps.is_partial):
        plan += f"; {real:.0%} of the canvas is real (alpha/crop), dreamed only there"
    f = ps.file
    return {
        "path": str(ps.source) if ps.source else None,
        "format": f.format if f else None,
        "mode": f.mode if f else None,
        "bits": f.bits if f else None,
        "file_size": [f.width, f.height] if f else None,
        "exif_orientation": f.orientation if f else None,
        "gpano_in_file": f.has_gpano if f else None,
        "canvas_size": [ps.width, ps.height],
        "kind": kind,
        "crop": list(ps.crop) if ps.crop else None,
        "coverage": None if ps.flat else coverage(ps),
        "real_fraction": real,
        "gpano": gp,
        "vrdream": ps.vrdream,
        "exif": ps.exif is not None,
        "icc": ps.icc is not None,
        "plan": plan,
    }


def describe(ps: Photosphere) -> str:
    """A human summary of a read panorama: file, placement, GPano fields and what the pipeline would do."""
    s = summary(ps)
    lines = [f"{s['path']}"]
    if s["format"]:
        w, h = s["file_size"]
        lines.append(
            f"  file:        {s['format']} {w}×{h}, mode {s['mode']} ({s['bits']}-bit), "
            f"EXIF orientation {s['exif_orientation']}"
        )
    lines.append(
        f"  canvas:      {ps.width}×{ps.height} equirectangular"
        if not ps.flat
        else f"  canvas:      {ps.width}×{ps.height} flat"
    )
    if s["coverage"]:
        c = s["coverage"]
        extent = (
            f"yaw {c['yaw_min']:.1f}°..{c['yaw_max']:.1f}°, pitch {c['pitch_min']:.1f}°..{c['pitch_max']:.1f}°, "
            f"{c['sphere_fraction']:.0%} of the sphere"
        )
        where = f" at {tuple(ps.crop)}" if ps.crop else ""
        lines.append(f"  {s['kind']:<12} {extent}{where}")
    lines.append(f"  metadata:    EXIF {'yes' if s['exif'] else 'no'}, ICC {'yes' if s['icc'] else 'no'}")
    if not ps.flat:
        origin = "" if s["gpano_in_file"] else " (synthesised: the file has none)"
        fields = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in s["gpano"].items())
        lines.append(f"  GPano:       {fields}{origin}")
    if ps.vrdream:
        lines.append("  vrdream:     " + ", ".join(f"{k}={v}" for k, v in ps.vrdream.items()))
    lines.append(f"  pipeline:    {s['plan']}")
    return "\n".join(lines)
