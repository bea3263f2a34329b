"""Cube-map files: six face images, a dice cross or a horizontal strip, written and read back (numpy).

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

Arrays are ``(6, N, N, C)`` float32 in [0, 1] (C = 3, or 4 with alpha); the arrangement itself is
py360convert's code (``cube_h2dice`` and friends), not re-written here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from py360convert.utils import cube_dice2list, cube_h2dice, cube_h2list, cube_list2h

from .atomic import atomic_path, check_output
from .cubemap import FACES
from .errors import InputError, VrdreamError

LAYOUTS = ("faces", "dice", "horizon")
#: Formats face images are written in (face images carry no panorama metadata).
FACE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}


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


def detect_layout(width: int, height: int) -> str | None:
    """``"dice"`` for a 4:3 image of whole faces, ``"horizon"`` for 6:1, else ``None``."""
    if height % 3 == 0 and width == 4 * height // 3:
        return "dice"
    if width == 6 * height:
        return "horizon"
    return None


def face_paths(output: str | Path) -> list[Path]:
    """The six face files for ``output`` = ``<stem><suffix>``: ``<stem>_F<suffix>`` ... ``<stem>_D<suffix>``."""
    out = Path(output)
    suffix = out.suffix or ".png"
    return [out.with_name(f"{out.stem}_{k}{suffix}") for k in FACES]


def _to_uint8(a: np.ndarray) -> np.ndarray:
    return np.clip(a * np.float32(255) + np.float32(0.5), 0, 255).astype(np.uint8)


def _save(path: Path, image: np.ndarray, *, icc: bytes | None, quality: int) -> None:
    fmt = FACE_FORMATS[path.suffix.lower()]
    pixels = image if fmt != "JPEG" or image.shape[-1] == 3 else image[..., :3]  # JPEG has no alpha
    kw: dict = {"icc_profile": icc} if icc else {}
    if fmt in ("JPEG", "WEBP"):
        kw["quality"] = quality
    with atomic_path(path) as tmp:
        Image.fromarray(_to_uint8(pixels)).save(tmp, format=fmt, **kw)


def write_cubemap(
    output: str | Path,
    faces: np.ndarray,
    layout: str = "faces",
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
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if faces.ndim != 4 or faces.shape[0] != 6 or faces.shape[1] != faces.shape[2]:
        raise ValueError(f"faces must be (6, N, N, C), got {faces.shape}")
    inputs = list(inputs)
    if layout == "faces":
        paths, images = face_paths(output), list(faces)
    else:
        paths, images = [Path(output)], [to_dice(faces) if layout == "dice" else to_horizon(faces)]
    for path in paths:
        if path.suffix.lower() not in FACE_FORMATS:
            raise VrdreamError(
                f"{path}: cannot write {path.suffix or 'files without a suffix'}; "
                f"use one of {', '.join(sorted(FACE_FORMATS))}"
            )
        check_output(path, inputs=inputs, overwrite=overwrite)
    for path, image in zip(paths, images):
        _save(path, image, icc=icc, quality=quality)
    return paths


def read_image(path: str | Path) -> np.ndarray:
    """An ordinary image file -> (H, W, 3) float32 in [0, 1] (via the photosphere reader, ``flat=True``)."""
    from .photosphere import read_photosphere

    return read_photosphere(path, flat=True).pixels


def read_cubemap(paths: Sequence[str | Path]) -> np.ndarray:
    """Six face files in F R B L U D order, or one dice (4:3) / horizon (6:1) image -> (6, N, N, 3) float32."""
    if len(paths) == 1:
        image = read_image(paths[0])
        h, w = image.shape[:2]
        layout = detect_layout(w, h)
        if layout is None:
            raise InputError(
                paths[0],
                f"a {w}×{h} image is neither a dice cross (4:3, e.g. {4 * (h // 3)}×"
                f"{3 * (h // 3)}) nor a horizon strip (6:1); or give six face files (F R B L U D)",
            )
        return from_dice(image) if layout == "dice" else from_horizon(image)
    if len(paths) != 6:
        raise VrdreamError(f"give six face files (F R B L U D) or one dice/horizon image, not {len(paths)} files")
    faces = [read_image(p) for p in paths]
    n = faces[0].shape[0]
    for path, face in zip(paths, faces):
        if face.shape[:2] != (n, n):
            raise InputError(
                path,
                f"face is {face.shape[1]}×{face.shape[0]}; every face must be {n}×{n} "
                f"(square, the size of {Path(paths[0]).name})",
            )
    return np.stack(faces)
