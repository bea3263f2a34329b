"""The provenance record: a JSON sidecar beside every output, enough to check the file and to make it again.

:mod:`vrdream.provenance` writes the few fields a viewer needs into a file's own XMP; this module
writes the whole record beside it, as ``OUT.vrdream.json`` (``dream.jpg`` → ``dream.jpg.vrdream.json``):

- ``recipe``: what made the file, known before it is written: ``kind`` (``dream``, ``video``, ``zoom``,
  ``fade``, ``upscale``, ``stimulus``, ``sheet``), the ``command`` line (``sys.argv``; a Python caller's
  own), every resolved ``settings`` dataclass as JSON, the ``seeds``, the ``weights`` files of the
  backbone and of the super-resolution model with their SHA-256, every ``inputs`` file with its SHA-256
  (path relative to the output's folder), the ``versions`` of vrdream, Python, torch, PyAV (and for a video
  its FFmpeg) and numpy, the ``device`` and the ``precision`` the network ran in, and torch's CPU ``threads``;
- ``recipe_sha256``: the SHA-256 of the recipe's canonical JSON. Videos carry it in their container
  metadata too (the MP4 ``comment`` tag ``vrdream-record sha256:<hash>``): the record's hash itself
  cannot be inside the file it describes, the recipe's can;
- ``output``: the file's name, size and SHA-256, and the SHA-256 of every decoded frame (a still: its
  decoded samples, as OpenCV reads them unchanged; a video: each frame as PyAV decodes it to rgb24),
  and ``made``: the SHA-256 of each frame as it was handed to the encoder (what ``vrdream verify
  --rerun`` re-makes and compares bit for bit).

The sidecar is written atomically after the output, so a record exists only for a finished file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import sys
import types
import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .atomic import atomic_path
from .errors import InputError
from .provenance import file_sha256, relative_to_folder

#: The record's format; a reader refuses others.
FORMAT = "vrdream-record/1"
SIDECAR_SUFFIX = ".vrdream.json"
#: The container tag's value starts with this, then the recipe's SHA-256.
TAG_PREFIX = "vrdream-record sha256:"
#: Video files (decoded frame by frame with PyAV); anything else is a still, decoded with OpenCV.
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm")

if TYPE_CHECKING:
    from .dream import Dreamer
    from .engine import EngineOptions

T = TypeVar("T")


def sidecar_path(output: str | Path) -> Path:
    """``OUT`` → ``OUT.vrdream.json`` (the full name kept: ``a.jpg`` and ``a.png`` get records of their own)."""
    out = Path(output)
    return out.with_name(out.name + SIDECAR_SUFFIX)


def to_json(value: object) -> Any:
    """Settings as JSON: dataclasses as objects of their fields, fractions as ``"N/D"``, paths as strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    if isinstance(value, (tuple, list)):
        return [to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)  # paths, torch devices


def from_json(cls: type[T], data: Any) -> T:
    """The inverse of :func:`to_json` for a settings dataclass ``cls``.

    Written here because the settings need only what their annotations say (nested frozen dataclasses,
    tuples, fractions, optional values); a library (dacite, cattrs) would be a new dependency for that.
    """
    return typing.cast(T, _from_json(cls, data))


def _from_json(tp: Any, data: Any) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = typing.get_type_hints(tp)
        fields = {f.name for f in dataclasses.fields(tp) if f.init}
        return tp(**{k: _from_json(hints[k], v) for k, v in data.items() if k in fields})
    if origin in (typing.Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        return _from_json(next(a for a in args if a is not type(None)), data)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_json(args[0], v) for v in data)
        return tuple(_from_json(a, v) for a, v in zip(args, data))
    if tp is Fraction:
        return Fraction(data)
    if tp is Path:
        return Path(data)
    if tp is float and isinstance(data, int):
        return float(data)
    return data  # str, int, bool, Literal values


def sha256_of(data: object) -> str:
    """SHA-256 of ``data``'s canonical JSON (sorted keys, no spaces)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def pixels_sha256(pixels: np.ndarray) -> str:
    """SHA-256 of an array's samples (C order)."""
    return hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest()


@dataclass(frozen=True)
class Weights:
    """A network's weight files: ``backbone`` or ``sr`` ``name`` reading ``weights`` (None: its default files)."""

    role: str  # "backbone" or "sr"
    name: str
    weights: str | None = None

    def files(self) -> tuple[Path, ...]:
        if self.role == "backbone":
            from .backbones import weights_files

            return weights_files(self.name, self.weights)
        from .srmodels import weights_files as sr_files

        return sr_files(self.name, self.weights)


@dataclass(frozen=True)
class Recipe:
    """What makes an output, before it is made: see the module's description."""

    kind: str
    settings: Mapping[str, object]
    inputs: Sequence[str | Path] = ()
    seeds: Mapping[str, int] = field(default_factory=dict)
    weights: Sequence[Weights] = ()
    device: str = "cpu"
    precision: str = "fp32"
    #: torch's CPU threads (None: no network ran): a CPU sum split over other threads may round differently.
    threads: int | None = None

    def to_json(self, output: str | Path) -> dict[str, Any]:
        """The recipe as it is recorded for ``output`` (inputs relative to its folder), hashes computed."""
        out = Path(output)
        return {
            "kind": self.kind,
            "command": command_line(),
            "settings": to_json(self.settings),
            "seeds": dict(self.seeds),
            "weights": [
                {
                    "role": w.role,
                    "name": w.name,
                    "files": [{"name": p.name, "sha256": file_sha256(p)} for p in w.files()],
                }
                for w in self.weights
            ],
            "inputs": [
                {"path": relative_to_folder(Path(p), out), "name": Path(p).name, "sha256": file_sha256(p)}
                for p in self.inputs
            ],
            "versions": versions(video=is_video(out)),
            "device": self.device,
            "precision": self.precision,
            "threads": self.threads,
        }


def dream_recipe(
    kind: str,
    settings: Mapping[str, object],
    inputs: Sequence[str | Path],
    engine: EngineOptions,
    dreamer: Dreamer,
    sr: Weights | None = None,
) -> Recipe:
    """The recipe of an output that ``dreamer`` (built from ``engine``) dreamed, super-resolved by ``sr``."""
    import torch

    return Recipe(
        kind,
        settings,
        inputs,
        seeds={"dream": engine.settings.seed},
        weights=[Weights("backbone", engine.settings.backbone, engine.weights), *([sr] if sr else [])],
        device=str(dreamer.device),
        precision=precision_name(dreamer.dtype, dreamer.backbone.reduced_precision_from),
        threads=torch.get_num_threads(),
    )


def precision_name(dtype: object, reduced_from: str | None = None) -> str:
    """``fp32`` for None (no autocast), else the torch dtype's short name (``bf16``, ``fp16``), followed by
    ``from STAGE`` when the network's stages before ``reduced_from`` ran in fp32."""
    name = {"torch.bfloat16": "bf16", "torch.float16": "fp16"}.get(str(dtype), "fp32")
    return f"{name} from {reduced_from}" if reduced_from and name != "fp32" else name


def command_line() -> list[str]:
    """This process's command line, the program as ``vrdream`` when it is vrdream's CLI."""
    argv = list(sys.argv) or [""]
    program = Path(argv[0])
    if program.name == "vrdream" or (program.name == "__main__.py" and program.parent.name == "vrdream"):
        argv[0] = "vrdream"
    return argv


def versions(*, video: bool) -> dict[str, str]:
    """The versions that decide the bits of an output: vrdream, Python, torch, PyAV, numpy ..., and for a
    ``video`` the FFmpeg that encoded it (a still never loads FFmpeg: importing PyAV for its version alone
    took 90 ms and 18 MB of every still command)."""
    from . import __version__

    found = {"vrdream": __version__, "python": platform.python_version(), "platform": platform.platform()}
    for dist in ("torch", "av", "numpy", "opencv-python-headless", "timm"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    if not video:
        return found
    try:
        import av

        found["ffmpeg"] = ".".join(map(str, av.library_versions["libavcodec"]))
    except (ImportError, KeyError):
        pass
    return found


def container_tag(recipe: Mapping[str, Any]) -> dict[str, str]:
    """The container metadata a video carries: ``comment`` = ``vrdream-record sha256:<recipe hash>``."""
    return {"comment": TAG_PREFIX + sha256_of(recipe)}


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def decoded_frames(path: str | Path) -> Iterator[np.ndarray]:
    """The output as a viewer gets it: a video's frames (PyAV, rgb24), a still's samples (OpenCV, unchanged)."""
    if is_video(path):
        from .videoio import iter_rgb24

        yield from iter_rgb24(path)
        return
    import cv2

    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise InputError(path, "cannot decode the image")
    yield pixels


def frame_hashes(path: str | Path) -> list[str]:
    return [pixels_sha256(f) for f in decoded_frames(path)]


def write_record(output: str | Path, recipe: Mapping[str, Any], made: Iterable[str] | None = None) -> Path:
    """Write ``output``'s sidecar (atomically, after the output): ``recipe`` (:meth:`Recipe.to_json`), its
    hash, the output's hashes, and ``made`` (each frame's hash as handed to the encoder) when given."""
    out = Path(output)
    record = {
        "format": FORMAT,
        "recipe": dict(recipe),
        "recipe_sha256": sha256_of(recipe),
        "output": {
            "name": out.name,
            "bytes": out.stat().st_size,
            "sha256": file_sha256(out),
            "frames": frame_hashes(out),
            **({"made": list(made)} if made is not None else {}),
        },
    }
    path = sidecar_path(out)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, indent=1) + "\n")
    return path


def read_record(path: str | Path) -> dict[str, Any]:
    """A sidecar's record; a file that is not one is an :class:`InputError`."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(path, f"not a readable vrdream record ({type(exc).__name__})") from exc
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise InputError(path, f"not a {FORMAT} record")
    return record


def write_recorded_video(
    output: str | Path, frames: Iterable[np.ndarray], fps: Fraction, recipe: Recipe | None, **options: Any
) -> Path:
    """:func:`vrdream.videoio.write_video` (``options`` are its keywords), then, with a ``recipe``, the
    record: the recipe's hash in the container's metadata, each encoded frame's hash in the sidecar."""
    from .videoio import write_video

    if recipe is None:
        return write_video(output, frames, fps, **options)
    data = recipe.to_json(output)
    hashed = HashingFrames(frames)
    out = write_video(output, hashed, fps, metadata=container_tag(data), **options)
    write_record(out, data, hashed.hashes)
    return out


class HashingFrames:
    """Frames passed through on their way to an encoder, each one's :func:`pixels_sha256` kept in ``hashes``."""

    def __init__(self, frames: Iterable[np.ndarray]) -> None:
        self._frames = frames
        self.hashes: list[str] = []

    def __iter__(self) -> Iterator[np.ndarray]:
        from .quantize import to_uint8

        for frame in self._frames:
            q = to_uint8(frame)
            self.hashes.append(pixels_sha256(q))
            yield q
