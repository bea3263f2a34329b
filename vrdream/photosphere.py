"""Photosphere files: read a panorama onto its full 2:1 canvas, write it back with Photo Sphere metadata.

Reading gives float RGB on the *full* equirectangular canvas (conventions.md:
row 0 is up, column 0 is yaw -180°) and a mask of where pixels are real. A
partial photosphere (the usual phone case) is placed on the canvas by its GPano
``CroppedArea*`` fields; an image without GPano must be 2:1, or be given its
field of view (``fov``). Writing crops back to the input's rectangle (or writes
the full sphere) at any resolution, with GPano scaled to match and the input's
EXIF, ICC profile and pose fields kept, so that Google Photos, Facebook and
panorama viewers show the output as a 360° photo.

Pillow is used only at the file edge (:mod:`vrdream.fileinfo`: opening, metadata, placement);
conversion is numpy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from .atomic import atomic_path, check_output
from .errors import InputError, VrdreamError
from .fileinfo import (
    DECODE_ERRORS,
    SourceInfo,
    clean_exif,
    find_xmp,
    icc_colour_space,
    is_16bit_colour,
    load,
    opened,
    panorama_info,
    place,
)
from .gpano import GPano, build_xmp
from .quantize import to_uint8
from .settings import MAX_PIXELS

WRITE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}
WEBP_MAX_SIDE = 16383  # the WebP bitstream stores sides in 14 bits

_EXIF_IFD = 0x8769
_PIXEL_X, _PIXEL_Y = 0xA002, 0xA003


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
    with opened(path, max_pixels) as im:
        if is_16bit_colour(im):  # before anything loads the image and drops its tiles
            try:
                exif, orientation = clean_exif(im, path)
                xmp = find_xmp(im.info, path)
                colour, alpha = _decode_16bit(path, im.size)
                icc = im.info.get("icc_profile")
                icc = icc if icc and colour.ndim == 3 and icc_colour_space(icc, path) == "RGB" else None
            except DECODE_ERRORS as exc:
                raise InputError(path, f"truncated or corrupt image data ({exc})") from None
            info = SourceInfo(im.format or "?", im.mode, *im.size, 16, orientation)
        else:
            loaded = load(im, path)
            colour, alpha = _split(np.asarray(loaded.image))
            xmp, exif, icc, info = loaded.xmp, loaded.exif, loaded.icc, loaded.info
    orientation = info.orientation
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
    the file raises :class:`InputError` naming it. :func:`vrdream.fileinfo.probe`
    answers the same without placing the pixels.
    """
    path = Path(path)
    d = _decode(path, max_pixels)
    h, w = d.colour.shape[:2]
    p = place(w, h, d.xmp, path, fov=fov, flat=flat)
    W, H, (x, y, cw, ch) = p.width, p.height, p.rect
    pixels = np.empty((H, W, 3), np.float32) if p.full else np.zeros((H, W, 3), np.float32)
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
    return Photosphere(
        pixels=pixels,
        mask=mask,
        gpano=p.gpano,
        crop=None if p.full else p.rect,
        exif=d.exif,
        icc=d.icc,
        vrdream=p.vrdream,
        source=path,
        flat=flat,
        file=replace(d.info, has_gpano=p.has_gpano),
    )


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
        # zlib's fastest level: a photo's noise leaves little for the slower ones to find (measured on an
        # 8192x4096 dream: 3.6 s and 39 MB at level 1, Pillow's default 6 took 19.5 s for 33 MB).
        kw.update(pnginfo=info, compress_level=1)
    with atomic_path(path) as tmp:
        image.save(tmp, format=fmt, **kw)
    return path


# ---------------------------------------------------------------------------- describing


def summary(ps: Photosphere) -> dict:
    """Everything ``vrdream info`` shows, as JSON-able data (:meth:`vrdream.fileinfo.PanoramaInfo.summary`)."""
    return panorama_info(ps).summary()


def describe(ps: Photosphere) -> str:
    """A human summary of a read panorama: file, placement, GPano fields and what the pipeline would do."""
    return panorama_info(ps).describe()
