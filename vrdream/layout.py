"""Cube-map files: a panorama cut into six face images, a dice cross or a horizontal strip, and joined back.

Layouts are py360convert's (1.0.x), so files round-trip with it, and faces are oriented as
:mod:`vrdream.cubemap` (F R B L U D, as ``py360convert.e2c(cube_format="list")``):

* ``faces``: six images ``<stem>_F<suffix>``, ``<stem>_R``, ``_B``, ``_L``, ``_U``, ``_D`` beside the
  output path ``<stem><suffix>`` (``-o out/cube.png`` writes ``out/cube_F.png`` ... ``out/cube_D.png``).
* ``dice`` (4:3)::

          U
        L F R B
          D

  which is also the horizontal cross Unity's cubemap importer ("6 Frames Layout") and Unreal's
  HDRI importer accept (their +Z is our F, +Y our U).
* ``horizon`` (6:1): F R B L U D side by side, no face flipped (py360convert's ``cube_format="horizon"``).
  Unity's 6:1 strip has another order (+X -X +Y -Y +Z -Z), so use ``dice`` for Unity.

Six face files are put in order by the face their names carry (:data:`vrdream.faces.FACE_NAMES`), so a shell
glob's alphabetical order (B D F L R U) joins correctly. The ``px nx py ny pz nz`` names are
OpenGL's cube-map faces (GL_TEXTURE_CUBE_MAP_POSITIVE_X ...) with rows stored top first, which are
exactly our faces, unflipped: OpenGL's cube-map frame is ours (x right, y up, z forward; its +Z
face has +x to the right and +y up). tests/test_layout.py checks this by sampling our faces as
an OpenGL cube texture.

A panorama with transparent or missing areas (a partial photosphere, an alpha channel) gives
RGBA faces, alpha = where the photo is real; joining such faces gives the covered rectangle back
as a partial photosphere (GPano crop) with that alpha.

Arrays are ``(6, N, N, C)`` float32 in [0, 1] (C = 3, or 4 with alpha); the arrangement itself is
py360convert's code (``cube_h2dice`` and friends), not re-written here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from PIL import Image
from py360convert.utils import cube_dice2list, cube_h2dice, cube_h2list, cube_list2h

from .atomic import atomic_path, check_output
from .cubemap import c2e, e2c
from .errors import InputError, VrdreamError
from .faces import FACES, face_axis, face_naming, face_of
from .gpano import GPano
from .photosphere import WRITE_FORMATS, Photosphere, check_quality, read_photosphere, write_photosphere
from .quantize import to_uint8
from .settings import INTERPOLATIONS, LAYOUTS, MAX_PIXELS, Interpolation, Layout

#: Formats face images are written in (face images carry no panorama metadata).
FACE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}
#: Alpha at which a joined pixel counts as covered: an edge of the photo, resampled, crosses it where it was.
COVERED = 0.5

_Choice = TypeVar("_Choice", bound=str)


def _checked(option: str, value: str, allowed: tuple[_Choice, ...]) -> _Choice:
    """``value`` as one of ``allowed`` (a Literal's values), or one line naming the option."""
    for choice in allowed:
        if value == choice:
            return choice
    raise VrdreamError(f"{option} {value!r}: must be one of {', '.join(allowed)}")


# ---------------------------------------------------------------------------- arrangements


def to_dice(faces: np.ndarray) -> np.ndarray:
    """(6, N, N, C) -> (3N, 4N, C) dice cross (empty cells are 0)."""
    return cube_h2dice(cube_list2h(list(faces)))


def from_dice(dice: np.ndarray) -> np.ndarray:
    """(3N, 4N, C) dice cross -> (6, N, N, C)."""
    return np.stack(cube_dice2list(dice))


def to_horizon(faces: np.ndarray) -> np.ndarray:
    """(6, N, N, C) -> (N, 6N, C) strip F R B L U D."""
    return cube_list2h(list(faces))


def from_horizon(strip: np.ndarray) -> np.ndarray:
    """(N, 6N, C) strip -> (6, N, N, C)."""
    return np.stack(cube_h2list(strip))


def detect_layout(width: int, height: int) -> Layout | None:
    """``"dice"`` for a 4:3 image of whole faces, ``"horizon"`` for 6:1, else ``None``."""
    if height % 3 == 0 and width == 4 * height // 3:
        return "dice"
    if width == 6 * height:
        return "horizon"
    return None


# ---------------------------------------------------------------------------- face names


def order_faces(paths: Sequence[str | Path]) -> list[Path]:
    """Six face files in F R B L U D order: by the face each name carries, whatever the argument order;
    names that carry no face keep the order given. A face missing or given twice is refused, naming it."""
    files = [Path(p) for p in paths]
    faces = [face_of(p) for p in files]
    if all(f is None for f in faces):
        if len(files) != 6:
            raise VrdreamError(f"give six face files (F R B L U D) or one dice/horizon image, not {len(files)} files")
        return files
    named = files[next(i for i, f in enumerate(faces) if f is not None)]
    by_face: dict[str, Path] = {}
    for path, face in zip(files, faces):
        if face is None:
            raise InputError(
                path,
                f"its name carries no face while {named.name}'s does; name all six faces "
                f"({face_naming()}) or none (then they are taken as F R B L U D in the order given)",
            )
        if face in by_face:
            raise InputError(path, f"is the {face} ({face_axis(face)}) face again, after {by_face[face]}")
        by_face[face] = path
    missing = [f for f in FACES if f not in by_face]
    if missing:
        listing = ", ".join(f"{f} ({face_axis(f)})" for f in missing)
        raise VrdreamError(
            f"the {listing} {'faces are' if len(missing) > 1 else 'face is'} missing among "
            f"{', '.join(p.name for p in files)} (face names: {face_naming()})"
        )
    return [by_face[f] for f in FACES]


# ---------------------------------------------------------------------------- writing faces


def face_paths(output: str | Path) -> list[Path]:
    """The six face files for ``output`` = ``<stem><suffix>``: ``<stem>_F<suffix>`` ... ``<stem>_D<suffix>``."""
    out = Path(output)
    suffix = out.suffix or ".png"
    return [out.with_name(f"{out.stem}_{k}{suffix}") for k in FACES]


def cubemap_paths(
    output: str | Path, layout: Layout, *, inputs: Iterable[str | Path] = (), overwrite: bool = False
) -> list[Path]:
    """The files ``layout`` writes for ``output``, each checked (format, exists, an input?) before any is written."""
    paths = face_paths(output) if layout == "faces" else [Path(output)]
    inputs = list(inputs)
    for path in paths:
        if path.suffix.lower() not in FACE_FORMATS:
            raise VrdreamError(
                f"{path}: cannot write {path.suffix or 'files without a suffix'}; "
                f"use one of {', '.join(sorted(FACE_FORMATS))}"
            )
        check_output(path, inputs=inputs, overwrite=overwrite)
    return paths


def _save(path: Path, image: np.ndarray, *, icc: bytes | None, quality: int) -> None:
    fmt = FACE_FORMATS[path.suffix.lower()]
    pixels = image if fmt != "JPEG" or image.shape[-1] == 3 else image[..., :3]  # JPEG has no alpha
    kw: dict = {"icc_profile": icc} if icc else {}
    if fmt in ("JPEG", "WEBP"):
        kw["quality"] = quality
    with atomic_path(path) as tmp:
        Image.fromarray(to_uint8(pixels)).save(tmp, format=fmt, **kw)


def _save_cubemap(paths: list[Path], faces: np.ndarray, layout: Layout, *, icc: bytes | None, quality: int) -> None:
    if faces.ndim != 4 or faces.shape[0] != 6 or faces.shape[1] != faces.shape[2]:
        raise ValueError(f"faces must be (6, N, N, C), got {faces.shape}")
    images = list(faces) if layout == "faces" else [to_dice(faces) if layout == "dice" else to_horizon(faces)]
    for path, image in zip(paths, images):
        _save(path, image, icc=icc, quality=quality)


def write_cubemap(
    output: str | Path,
    faces: np.ndarray,
    layout: Layout = "faces",
    *,
    overwrite: bool = False,
    inputs: Iterable[str | Path] = (),
    icc: bytes | None = None,
    quality: int = 95,
) -> list[Path]:
    """Write ``faces`` (6, N, N, 3 or 4) float [0, 1] as ``layout``; return the files written.

    Every output is checked (exists? an input?) before anything is written, then each is written
    atomically. ``icc``: an ICC profile to embed (the panorama's), ``quality`` for JPEG/WebP.
    """
    layout = _checked("layout", layout, LAYOUTS)
    check_quality(quality)
    paths = cubemap_paths(output, layout, inputs=inputs, overwrite=overwrite)
    _save_cubemap(paths, faces, layout, icc=icc, quality=quality)
    return paths


def cubemap_file(
    src: str | Path,
    dst: str | Path,
    *,
    layout: Layout = "faces",
    face_size: int | None = None,
    interpolation: Interpolation = "bicubic",
    fov_deg: tuple[float, float] | None = None,
    max_pixels: int = MAX_PIXELS,
    overwrite: bool = False,
    quality: int = 95,
) -> list[Path]:
    """Cut the panorama ``src`` into cube faces written as ``layout`` at ``dst``; return the files written.

    ``face_size``: face side in pixels (default: the panorama's canvas width / 4, its equator's
    density). ``fov_deg`` = (horizontal, vertical) places an untagged picture that is not 2:1, as
    :func:`vrdream.photosphere.read_photosphere`'s ``fov``. A panorama with unknown areas (partial,
    or with alpha) gives RGBA faces, alpha = where the photo is real, so it needs PNG, WebP or TIFF
    faces. Every option and output is checked before the panorama is read.
    """
    layout = _checked("layout", layout, LAYOUTS)
    mode = _checked("interpolation", interpolation, INTERPOLATIONS)
    check_quality(quality)
    if face_size is not None:
        _check_cube_size(face_size, max_pixels)
    paths = cubemap_paths(dst, layout, inputs=[src], overwrite=overwrite)
    ps = read_photosphere(src, fov=fov_deg, max_pixels=max_pixels)
    n = face_size or ps.width // 4
    if face_size is None:
        _check_cube_size(n, max_pixels)
    partial = bool(ps.mask.min() < 1)
    if partial and any(FACE_FORMATS[p.suffix.lower()] == "JPEG" for p in paths):
        raise InputError(
            src,
            "has areas with no photo (partial or transparent); its faces need alpha there: "
            f"write .png, .webp or .tif faces, not {paths[0].suffix}",
        )
    # Sample the mask with the colours, so a partial panorama's faces know where they are real.
    channels = np.concatenate([ps.pixels, ps.mask[..., None]], axis=-1) if partial else ps.pixels
    equi = torch.from_numpy(channels).permute(2, 0, 1)[None]
    with torch.inference_mode():
        faces = e2c(equi, n, mode=mode)[0].clamp(0, 1).permute(0, 2, 3, 1).numpy()
    _save_cubemap(paths, faces, layout, icc=ps.icc, quality=quality)
    return paths


def _check_cube_size(face_size: int, max_pixels: int) -> None:
    if face_size < 1:
        raise VrdreamError(f"--face-size {face_size}: must be at least 1 pixel")
    if 6 * face_size**2 > max_pixels:
        raise VrdreamError(
            f"--face-size {face_size}: six faces are {6 * face_size**2} pixels, over the limit of {max_pixels} "
            "(pass --max-pixels N to allow it)"
        )


# ---------------------------------------------------------------------------- reading faces


@dataclass(frozen=True)
class CubeFaces:
    """Faces read from files: ``pixels`` (6, N, N, 3), or 4 with alpha where any face has a transparent pixel;
    ``icc`` the first face's ICC profile (``vrdream cubemap`` writes the panorama's into every face)."""

    pixels: np.ndarray
    icc: bytes | None


def read_faces(paths: Sequence[str | Path], max_pixels: int = MAX_PIXELS) -> CubeFaces:
    """Six face files (ordered by :func:`order_faces` before any is read), or one dice (4:3) / horizon (6:1)
    image; each file read as an ordinary picture (``flat``), its alpha kept (:class:`CubeFaces`)."""
    if len(paths) == 1:
        ps = read_photosphere(paths[0], flat=True, max_pixels=max_pixels)
        layout = detect_layout(ps.width, ps.height)
        if layout is None:
            h = ps.height
            raise InputError(
                paths[0],
                f"a {ps.width}×{h} image is neither a dice cross (4:3, e.g. {4 * (h // 3)}×"
                f"{3 * (h // 3)}) nor a horizon strip (6:1); or give six face files (F R B L U D)",
            )
        faces, icc = (from_dice if layout == "dice" else from_horizon)(_rgba(ps)), ps.icc
    else:
        files = order_faces(paths)
        read = [read_photosphere(p, flat=True, max_pixels=max_pixels) for p in files]
        n = read[0].height
        for path, ps in zip(files, read):
            if (ps.height, ps.width) != (n, n):
                raise InputError(
                    path,
                    f"face is {ps.width}×{ps.height}; every face must be {n}×{n} (square, the size of {files[0].name})",
                )
        faces, icc = np.stack([_rgba(ps) for ps in read]), read[0].icc
    # Alpha only where it says something (a dice's empty cells are not part of any face).
    return CubeFaces(faces if faces[..., 3].min() < 1 else np.ascontiguousarray(faces[..., :3]), icc)


def _rgba(ps: Photosphere) -> np.ndarray:
    return np.concatenate([ps.pixels, ps.mask[..., None]], axis=-1)


def read_cubemap(paths: Sequence[str | Path]) -> np.ndarray:
    """Six face files (in any order when their names carry the face, else F R B L U D), or one dice (4:3) /
    horizon (6:1) image -> (6, N, N, 3) float32, or (6, N, N, 4) where a face has transparent pixels."""
    return read_faces(paths).pixels


# ---------------------------------------------------------------------------- joining


def covered_rect(alpha: np.ndarray) -> tuple[int, int, int, int] | None:
    """(left, top, width, height) around the pixels of ``alpha`` (H, W) at least :data:`COVERED`,
    ``None`` when that is the whole canvas. Raises when no pixel is covered."""
    rows, cols = np.flatnonzero((alpha >= COVERED).any(axis=1)), np.flatnonzero((alpha >= COVERED).any(axis=0))
    if rows.size == 0:
        raise VrdreamError("the faces are transparent everywhere: there is no photo to join")
    rect = (int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1))
    return None if rect == (0, 0, alpha.shape[1], alpha.shape[0]) else rect


def _check_width(width: int, max_pixels: int) -> None:
    if width < 2 or width % 2:
        raise VrdreamError(f"--width {width}: must be an even number of pixels (the panorama is W × W/2)")
    if width * (width // 2) > max_pixels:
        raise VrdreamError(
            f"--width {width}: the panorama is {width * (width // 2)} pixels, over the limit of {max_pixels} "
            "(pass --max-pixels N to allow it)"
        )


def equirect_file(
    faces: Sequence[str | Path],
    dst: str | Path,
    *,
    width: int | None = None,
    interpolation: Interpolation = "bicubic",
    quality: int = 95,
    overwrite: bool = False,
    max_pixels: int = MAX_PIXELS,
) -> Path:
    """Join cube faces (six files, ordered by their names where they carry a face, else F R B L U D; or one
    dice/horizon image) into an equirect panorama with Photo Sphere metadata at ``dst``; return it.

    ``width``: the panorama's (even; height W/2; default 4 × the face size). Faces with alpha
    (from a partial panorama) give a partial photosphere: the covered rectangle as its GPano
    crop, alpha in PNG/WebP. Every option, the output and the face names are checked before
    any face is read.
    """
    mode = _checked("interpolation", interpolation, INTERPOLATIONS)
    check_quality(quality)
    if width is not None:
        _check_width(width, max_pixels)
    out = Path(dst)
    if out.suffix.lower() not in WRITE_FORMATS:
        raise VrdreamError(
            f"{out}: cannot write {out.suffix or 'files without a suffix'}; use {', '.join(WRITE_FORMATS)}"
        )
    check_output(out, inputs=faces, overwrite=overwrite)
    cube = read_faces(faces, max_pixels)
    width = width or 4 * cube.pixels.shape[1]
    _check_width(width, max_pixels)
    with torch.inference_mode():
        equi = c2e(torch.from_numpy(cube.pixels).permute(0, 3, 1, 2)[None], width // 2, width, mode=mode)
    channels = np.ascontiguousarray(equi[0].clamp(0, 1).permute(1, 2, 0).numpy())
    pixels = channels[..., :3]
    mask = channels[..., 3] if channels.shape[-1] == 4 else None
    # Made here, not read: GPano says just what the canvas and crop are (the writer fills in the sizes).
    like = Photosphere(
        pixels=pixels,
        mask=np.ones(pixels.shape[:2], np.float32) if mask is None else mask,
        gpano=GPano(),
        crop=None if mask is None else covered_rect(mask),
        exif=None,
        icc=cube.icc,
    )
    return write_photosphere(out, pixels, like, mask=mask, quality=quality, overwrite=overwrite, inputs=faces)
