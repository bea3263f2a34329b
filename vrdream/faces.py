"""Cube faces by name, with no heavy import: their order F R B L U D, the way each one looks, and the words
file names use for them.

Each face is oriented exactly as py360convert's ``e2c(cube_format="list")`` (see :mod:`vrdream.cubemap`,
which samples them, and :mod:`vrdream.layout`, which writes and reads them as files).
"""

from __future__ import annotations

import re
from pathlib import Path

FACES = ("F", "R", "B", "L", "U", "D")

#: Per face (F R B L U D), its (right, up, forward) unit vectors in the world (x right, y up, z forward):
#: py360convert's ``xyzcube``.
FACE_BASIS = (
    ((1, 0, 0), (0, 1, 0), (0, 0, 1)),  # F
    ((0, 0, -1), (0, 1, 0), (1, 0, 0)),  # R
    ((-1, 0, 0), (0, 1, 0), (0, 0, -1)),  # B
    ((0, 0, 1), (0, 1, 0), (-1, 0, 0)),  # L
    ((1, 0, 0), (0, 0, -1), (0, 1, 0)),  # U
    ((1, 0, 0), (0, 0, 1), (0, -1, 0)),  # D
)

#: Per face (F R B L U D), the words in file names that name it (matched ignoring case): vrdream's own
#: letter, the words skybox tools use, and OpenGL's cube-map faces (``px`` = GL_TEXTURE_CUBE_MAP_POSITIVE_X).
FACE_NAMES: dict[str, tuple[str, ...]] = {
    "F": ("F", "front", "pz", "posz"),
    "R": ("R", "right", "px", "posx"),
    "B": ("B", "back", "nz", "negz"),
    "L": ("L", "left", "nx", "negx"),
    "U": ("U", "up", "top", "py", "posy"),
    "D": ("D", "down", "bottom", "ny", "negy"),
}
_FACE_OF_WORD = {word.lower(): face for face, words in FACE_NAMES.items() for word in words}


def face_axis(face: str) -> str:
    """The axis a face looks along in vrdream's frame (x right, y up, z forward): ``"+z"`` for F ..."""
    forward = FACE_BASIS[FACES.index(face)][2]
    axis = next(i for i in range(3) if forward[i])
    return f"{'+' if forward[axis] > 0 else '-'}{'xyz'[axis]}"


def face_naming() -> str:
    """The names of each face and the axis it looks along, for ``--help`` and error messages:
    ``"F front pz posz (+z); R right px posx (+x); ..."``."""
    return "; ".join(f"{' '.join(FACE_NAMES[f])} ({face_axis(f)})" for f in FACES)


def face_of(path: str | Path) -> str | None:
    """The face (F R B L U D) a file's name names, or ``None``.

    The name's stem is split into words at anything not a letter or digit; the last word that
    names a face (:data:`FACE_NAMES`, ignoring case) decides: ``cube_F.png``, ``sky-px.jpg``,
    ``Front_4k.png``.
    """
    words = re.split(r"[^A-Za-z0-9]+", Path(path).stem)
    return next((_FACE_OF_WORD[w.lower()] for w in reversed(words) if w.lower() in _FACE_OF_WORD), None)
