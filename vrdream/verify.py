"""``vrdream verify``: check outputs against their provenance records, and optionally make frames again.

For each record (:mod:`vrdream.record`) the output beside it is checked: the record's own recipe hash,
the file's size and SHA-256, every decoded frame's SHA-256, and a video's container tag. With
``rerun`` N > 0, N frames picked at random (seeded, so the pick can be repeated) are made again from
the recorded settings and input, and each is compared with the hash of the frame that was handed to
the encoder: on the CPU they must be bit-identical. On CUDA, floating-point sums run in an order that
is not fixed, so a re-made frame may differ by rounding: it passes when its mean absolute difference
from the decoded output frame is at most :data:`CUDA_TOLERANCE` (docs/hallucination-machine.md).
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError, VrdreamError
from .provenance import file_sha256
from .record import (
    SIDECAR_SUFFIX,
    TAG_PREFIX,
    decoded_frames,
    is_video,
    pixels_sha256,
    read_record,
    sha256_of,
    sidecar_path,
)

#: Kinds whose frames can be made again, and the function that does it: ``(recipe, input, frames,
#: device) -> {frame: uint8 (H, W, 3)}``.
REMAKERS: Mapping[str, str] = {
    "video": "vrdream.video:remake_video_frames",
    "stimulus": "vrdream.stimuli:remake_stimulus_frames",
}
#: Largest mean absolute difference, in 8-bit levels, between a frame re-made on CUDA and the decoded
#: output frame (the codec's own error included) that still passes.
CUDA_TOLERANCE = 2.0

Remake = Callable[[Mapping[str, Any], Path, Sequence[int], str], dict[int, np.ndarray]]


@dataclass(frozen=True)
class Verdict:
    """The check of one output: ``problem`` None when it passes; ``rerun`` the frames made again."""

    output: Path
    problem: str | None = None
    rerun: tuple[int, ...] = ()
    note: str = ""


def find_records(paths: Iterable[str | Path]) -> list[Path]:
    """The records for ``paths``: a folder's (recursively), a record itself, or an output's sidecar."""
    found: list[Path] = []
    for given in map(Path, paths):
        if given.is_dir():
            found += sorted(p for p in given.rglob(f"*{SIDECAR_SUFFIX}") if not p.name.startswith("."))
        elif given.name.endswith(SIDECAR_SUFFIX):
            found.append(given)
        elif sidecar_path(given).exists():
            found.append(sidecar_path(given))
        else:
            raise InputError(given, "no such output or folder" if not given.exists() else "has no vrdream record")
    if not found:
        raise VrdreamError(f"{', '.join(map(str, paths))}: no vrdream records found")
    return found


def check_files(record: Mapping[str, Any], out: Path) -> str | None:
    """What is wrong with ``out`` against ``record`` (None: nothing)."""
    if record.get("recipe_sha256") != sha256_of(record.get("recipe")):
        return "the record's recipe does not match its recorded hash (the record was changed)"
    want = record["output"]
    if not out.exists():
        return "missing"
    problems = []
    if out.stat().st_size != want["bytes"] or file_sha256(out) != want["sha256"]:
        problems.append("file SHA-256 differs from its record")
    try:
        have = [pixels_sha256(f) for f in decoded_frames(out)]
    except (VrdreamError, ValueError) as exc:
        return "; ".join([*problems, f"does not decode ({exc})"])
    if len(have) != len(want["frames"]):
        problems.append(f"decodes to {len(have)} frames, recorded {len(want['frames'])}")
    else:
        bad = [i for i, (a, b) in enumerate(zip(have, want["frames"])) if a != b]
        if bad:
            problems.append(f"decoded frame{'s' if len(bad) > 1 else ''} {_frames(bad)} differ")
    if is_video(out):
        tag = _container_tag(out)
        if tag != TAG_PREFIX + record["recipe_sha256"]:
            problems.append(f"container tag {tag!r} does not name the record's recipe")
    return "; ".join(problems) or None


def _frames(indices: Sequence[int]) -> str:
    return ", ".join(map(str, indices[:8])) + (" ..." if len(indices) > 8 else "")


def _container_tag(path: Path) -> str | None:
    import av

    try:
        with av.open(str(path)) as container:
            # MP4 keeps the tag's name as written; Matroska stores tag names in capitals.
            return next((v for k, v in container.metadata.items() if k.lower() == "comment"), None)
    except av.error.FFmpegError:
        return None  # a file FFmpeg cannot open has no tag: reported as not naming the recipe


def pick_frames(count: int, frames: int, seed: int) -> list[int]:
    """``count`` distinct frame indices of ``frames``, at random from ``seed`` (sorted)."""
    return sorted(random.Random(seed).sample(range(frames), min(count, frames)))


def _remaker(kind: str) -> Remake | None:
    target = REMAKERS.get(kind)
    if target is None:
        return None
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def remake_with_threads(
    remake: Remake, recipe: Mapping[str, Any], src: Path, picks: list[int], device: str
) -> dict[int, np.ndarray]:
    """``remake(...)`` with torch's CPU threads set to the recorded count while it runs: on the CPU a sum
    split over another number of threads may round differently, and the dream amplifies that."""
    import torch

    before = torch.get_num_threads()
    if device == "cpu" and recipe.get("threads"):
        torch.set_num_threads(int(recipe["threads"]))
    try:
        return remake(recipe, src, picks, device)
    finally:
        torch.set_num_threads(before)


def rerun_frames(record: Mapping[str, Any], sidecar: Path, count: int, seed: int, device: str | None) -> Verdict:
    """Make ``count`` frames of the recorded output again and compare them (see the module's description)."""
    out = sidecar.parent / record["output"]["name"]
    recipe = record["recipe"]
    remake = _remaker(recipe["kind"])
    if remake is None:
        return Verdict(out, note=f"re-making {recipe['kind']} outputs is not supported: hashes checked only")
    source = recipe["inputs"][0]
    src = Path(source["path"]) if Path(source["path"]).is_absolute() else sidecar.parent / source["path"]
    if not src.exists() or file_sha256(src) != source["sha256"]:
        return Verdict(out, f"cannot re-make: its input {src} is missing or changed (SHA-256 differs)")
    made = record["output"]["made"]
    picks = pick_frames(count, len(made), seed)
    run_on = device or recipe["device"]
    remade = remake_with_threads(remake, recipe, src, picks, run_on)
    differ = [i for i in picks if pixels_sha256(remade[i]) != made[i]]
    if not differ:
        return Verdict(out, rerun=tuple(picks), note="bit-identical")
    decoded = dict(enumerate(decoded_frames(out)))
    error = max(float(np.abs(remade[i].astype(np.float32) - decoded[i]).mean()) for i in differ)
    if run_on.startswith("cuda") and error <= CUDA_TOLERANCE:
        return Verdict(out, rerun=tuple(picks), note=f"within the CUDA tolerance (mean |diff| {error:.2f} of 255)")
    return Verdict(out, f"re-made frames {_frames(differ)} differ (mean |diff| {error:.2f} of 255)", rerun=tuple(picks))


def verify_files(
    paths: Iterable[str | Path], *, rerun: int = 0, seed: int = 0, device: str | None = None
) -> list[Verdict]:
    """``vrdream verify``: one :class:`Verdict` per record found under ``paths`` (files or folders).

    ``rerun``: frames to make again per output (picked with ``seed``), on ``device`` (None: the recorded one).
    """
    if rerun < 0:
        raise VrdreamError(f"--rerun {rerun}: must be 0 or more")
    verdicts = []
    for sidecar in find_records(paths):
        record = read_record(sidecar)
        out = sidecar.parent / record["output"]["name"]
        problem = check_files(record, out)
        if problem is None and rerun:
            verdicts.append(rerun_frames(record, sidecar, rerun, seed, device))
        else:
            verdicts.append(Verdict(out, problem))
    return verdicts
