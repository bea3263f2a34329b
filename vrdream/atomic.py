"""Atomic outputs: write to a temporary file beside the target, then rename.

A crash never leaves a half-written output, and an input is never overwritten.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import VrdreamError


def check_output(path: str | Path, *, inputs: Iterable[str | Path] = (), overwrite: bool = False) -> Path:
    """Refuse an output that is one of the inputs, or that exists without ``overwrite``."""
    out = Path(path)
    for src in inputs:
        if out.exists() and Path(src).exists() and out.resolve() == Path(src).resolve():
            raise VrdreamError(f"{out}: refusing to overwrite an input; choose another output path")
    if out.exists() and not overwrite:
        raise VrdreamError(f"{out}: already exists; pass --overwrite to replace it")
    return out


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path with the same suffix in the target's folder; rename on success.

    The temporary file lives in the same folder so that ``os.replace`` is a
    rename on one filesystem (atomic), and keeps the suffix so that writers
    that pick a format from the extension (Pillow, PyAV) still work.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.stem}.", suffix=f".part{dest.suffix}", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes files readable by the owner alone; an output is an ordinary file
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, dest)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
