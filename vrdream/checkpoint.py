"""Per-frame checkpoints of a video job, so an interrupted run resumes where it stopped.

A job folder sits beside the output (``.vrdream-<key>/``), named by a hash of
everything that determines the frames: the input file's identity (resolved path,
size, modification time) and the settings' ``repr``, not the output's name. Rerunning
the same command (or the same job with another output name or format) finds the same
folder and skips the frames already there; changing any setting or the input starts
a fresh job. The folder is made when the first frame is stored, so a run that fails
before that (a bad option, a bad file) leaves nothing behind.

Frames are stored as 8-bit lossless PNG (the final encode is 8-bit anyway), each
written atomically, so a frame file is either complete or absent. The video loop
carries forward exactly what was stored (:meth:`Job.save` returns the stored
frame), which is why a resumed run reproduces an uninterrupted one bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .atomic import atomic_path
from .errors import VrdreamError
from .quantize import to_uint8


def job_key(input_path: str | Path, settings: object) -> str:
    """A hex digest of the input file's identity and ``repr(settings)`` (frozen dataclasses repr stably)."""
    p = Path(input_path).resolve()
    st = p.stat()
    ident = {"input": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "settings": repr(settings)}
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()


class Interrupted(VrdreamError):
    """Ctrl-C during a resumable job: says how to resume and where the finished work is."""

    exit_code = 130


@dataclass(frozen=True)
class Job:
    """The checkpoint folder of one job with ``frames`` frames (video frames, or a dream's octaves)."""

    folder: Path
    frames: int
    #: What the folder's ``job.json`` says, for people wondering what the folder is (not read back).
    about: dict[str, object]

    def frame_path(self, i: int, *, lead: bool = False) -> Path:
        """Frame ``i``'s file; ``lead``: the lead-in version of frame ``i`` that the next segment of a video
        dreams to crossfade into (:mod:`vrdream.video`), stored beside the frame's own."""
        return self.folder / f"{i:06d}{'-lead' if lead else ''}.png"

    def first_missing(self) -> int:
        """The first frame index without a checkpoint (``frames`` when all are done).

        Frames are made in order, so everything before it is done.
        """
        i = 0
        while i < self.frames and self.frame_path(i).exists():
            i += 1
        return i

    @contextmanager
    def resumable(self) -> Iterator[Job]:
        """Turn Ctrl-C inside the block into :class:`Interrupted`, naming the kept checkpoints."""
        try:
            yield self
        except KeyboardInterrupt:
            kept = f"; finished work is kept in {self.folder}" if self.folder.exists() else ""
            raise Interrupted(f"interrupted: run the same command again to resume{kept}") from None

    def save(self, i: int, frame: np.ndarray, *, lead: bool = False) -> np.ndarray:
        """Store frame ``i`` ``(H, W, 3)`` float in [0, 1] (or uint8); return it as stored (rounded to 8 bits),
        float32."""
        self._create()
        q = to_uint8(frame)
        path = self.frame_path(i, lead=lead)
        with atomic_path(path) as tmp:
            if not cv2.imwrite(str(tmp), cv2.cvtColor(q, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1]):
                raise VrdreamError(f"{path}: cannot write checkpoint")
        return q.astype(np.float32) / 255.0

    def load_uint8(self, i: int, *, lead: bool = False) -> np.ndarray:
        """Checkpoint ``i`` (or its lead-in version) as ``(H, W, 3)`` uint8 RGB."""
        path = self.frame_path(i, lead=lead)
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise VrdreamError(f"{path}: checkpoint missing or unreadable; delete {self.folder} to restart")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def load(self, i: int, *, lead: bool = False) -> np.ndarray:
        """Checkpoint ``i`` (or its lead-in version) as ``(H, W, 3)`` float32 in [0, 1]."""
        return self.load_uint8(i, lead=lead).astype(np.float32) / 255.0

    def iter_frames(self) -> Iterator[np.ndarray]:
        """All frames in order, uint8 (for the final encode)."""
        for i in range(self.frames):
            yield self.load_uint8(i)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def _create(self) -> None:
        manifest = self.folder / "job.json"
        if not manifest.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_path(manifest) as tmp:
                tmp.write_text(json.dumps(self.about, indent=1))


def open_job(input_path: str | Path, output: str | Path, settings: object, frames: int) -> Job:
    """The job of making ``output`` from ``input_path`` with ``settings`` (its folder is made on first save)."""
    out = Path(output)
    about = {
        "input": str(Path(input_path).resolve()),
        "output": str(out.resolve()),
        "frames": frames,
        "settings": repr(settings),
    }
    return Job(out.parent / f".vrdream-{job_key(input_path, settings)[:16]}", frames, about)
