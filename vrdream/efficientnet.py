"""EfficientNet-Lite0/1/2 in plain PyTorch, in timm's ``tf_efficientnet_liteN`` module layout.

Written here rather than built by timm because ``import timm`` imports torchvision (timm/layers/_fx.py) and, through
it, torch._dynamo: 3.3 s over torch's own import (``python -X importtime``), at every ``vrdream dream``, for a
network of some forty convolutions (measured: a default ``Dreamer()`` is built in 5.1 s instead of 8.7). The
modules, attribute names and registration order are timm's, so the state dicts are timm's key for key
(:func:`vrdream.weights.lukemelas_to_timm` maps the bundled weights to them), :mod:`vrdream.backbones` folds and
fuses it as it did timm's, and the outputs are timm's to the bit (tests/test_efficientnet.py). As timm's ``tf_``
variants: TF 'same' padding and BatchNorm eps 1e-3, the weights having been trained in TensorFlow; ReLU6, no
squeeze-excitation (the "Lite" of the name).
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

#: Per stage: (blocks, kernel, stride of its first block, expansion, output channels) before scaling: timm's
#: ``_gen_efficientnet_lite`` arch_def. Stage 0 (expansion 1) is a depthwise-separable block, the rest are
#: inverted residuals.
_STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)

#: Variant -> (channel multiplier, depth multiplier), from the EfficientNet-Lite reference implementation.
VARIANTS = {0: (1.0, 1.0), 1: (1.0, 1.1), 2: (1.1, 1.2)}

STEM_CHANNELS = 32  # not scaled (timm's fix_stem)
HEAD_CHANNELS = 1280  # not scaled either


def _round_channels(channels: float) -> int:
    """timm's ``round_channels``: the nearest multiple of 8, but never more than 10 % below ``channels``."""
    rounded = max(8, int(channels + 4) // 8 * 8)
    return rounded + 8 if rounded < 0.9 * channels else rounded


def _same_padding(size: int, kernel: int, stride: int, dilation: int) -> int:
    """Total TF-'same' padding of one axis: what makes the output ``ceil(size / stride)`` long."""
    return max((-(-size // stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)


def pad_same(x: Tensor, kernel_size: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...]) -> Tensor:
    """``x`` (..., H, W) zero-padded as TF's 'same' convolution pads it: for a stride-2 convolution on an even
    size, one pixel more after than before."""
    pad_h, pad_w = (_same_padding(size, k, s, d) for size, k, s, d in zip(x.shape[-2:], kernel_size, stride, dilation))
    return F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))


def same_taps(weight: Tensor, size: tuple[int, ...], stride: tuple[int, ...]) -> tuple[Tensor, tuple[int, int]]:
    """``(weight, padding)`` with which a convolution (dilation 1) and its own symmetric zero padding compute TF's
    'same' convolution of ``weight`` on an input of ``size`` (H, W), without padding the input.

    Where an axis's total padding ``t`` is odd (stride 2 on an even size), TF pads ``t // 2`` before and one more
    after; a zero tap put before the kernel's first shifts its window by one pixel, so padding ``t // 2 + 1`` on
    both sides reads the same pixels and gives the same output size. Why: padding the input copies a network's
    widest tensors forward and backward; measured on this CPU, a depthwise stride-2 convolution with one more
    zero tap runs 1.5-2.4x faster forward and backward, to the bit. Not for dense convolutions: the stem's backward
    ran 1.4x slower with the extra taps.
    """
    pads = [_same_padding(n, k, s, 1) for n, k, s in zip(size, weight.shape[-2:], stride)]
    odd_h, odd_w = (t % 2 for t in pads)
    if odd_h or odd_w:
        weight = F.pad(weight, (odd_w, 0, odd_h, 0))
    return weight, (pads[0] // 2 + odd_h, pads[1] // 2 + odd_w)


def same_conv_inputs(conv: nn.Conv2d, x: Tensor) -> tuple[Tensor, Tensor, tuple[int, int]]:
    """``(input, weight, padding)`` that make ``F.conv2d`` with ``conv``'s other attributes compute TF's 'same'
    convolution of ``x``: zero taps (:func:`same_taps`) for a depthwise convolution, the input padded for others."""
    if 1 < conv.groups == conv.in_channels and conv.dilation == (1, 1):  # depthwise, not a 1-channel dense one
        weight, padding = same_taps(conv.weight, x.shape[-2:], conv.stride)
        return x, weight, padding
    return pad_same(x, conv.kernel_size, conv.stride, conv.dilation), conv.weight, (0, 0)


class Conv2dSame(nn.Conv2d):
    """A convolution with TF's 'same' padding (:func:`pad_same`), which depends on the input's size: timm's,
    padding the input. :func:`vrdream.backbones.fuse_relu6` replaces it with a faster form
    (:func:`same_conv_inputs`)."""

    def forward(self, x: Tensor) -> Tensor:
        x = pad_same(x, self.kernel_size, self.stride, self.dilation)
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _conv(in_chs: int, out_chs: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """A bias-free convolution padded as TF's 'same': statically (and symmetrically) at stride 1 with an odd kernel."""
    if stride == 1:
        return nn.Conv2d(in_chs, out_chs, kernel, padding=kernel // 2, groups=groups, bias=False)
    return Conv2dSame(in_chs, out_chs, kernel, stride, groups=groups, bias=False)


class BatchNormAct2d(nn.BatchNorm2d):
    """BatchNorm (eps 1e-3, TF's), then ReLU6 or nothing: timm's ``BatchNormAct2d`` as EfficientNet-Lite uses it."""

    def __init__(self, channels: int, act: bool = True) -> None:
        super().__init__(channels, eps=1e-3)
        self.act = nn.ReLU6(inplace=True) if act else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(super().forward(x))


class DepthwiseSeparableConv(nn.Module):
    """Depthwise convolution, 1x1 projection (no skip: in Lite it goes from the stem's 32 channels to 16)."""

    def __init__(self, in_chs: int, out_chs: int, kernel: int) -> None:
        super().__init__()
        self.conv_dw = _conv(in_chs, in_chs, kernel, groups=in_chs)
        self.bn1 = BatchNormAct2d(in_chs)
        self.conv_pw = _conv(in_chs, out_chs, 1)
        self.bn2 = BatchNormAct2d(out_chs, act=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn2(self.conv_pw(self.bn1(self.conv_dw(x))))


class InvertedResidual(nn.Module):
    """1x1 expansion, depthwise convolution, linear 1x1 projection; plus the input where the shape is unchanged."""

    def __init__(self, in_chs: int, out_chs: int, kernel: int, stride: int, expansion: int) -> None:
        super().__init__()
        mid_chs = in_chs * expansion  # a multiple of 8 already, as every in_chs is
        self.has_skip = stride == 1 and in_chs == out_chs
        self.conv_pw = _conv(in_chs, mid_chs, 1)
        self.bn1 = BatchNormAct2d(mid_chs)
        self.conv_dw = _conv(mid_chs, mid_chs, kernel, stride, groups=mid_chs)
        self.bn2 = BatchNormAct2d(mid_chs)
        self.conv_pwl = _conv(mid_chs, out_chs, 1)
        self.bn3 = BatchNormAct2d(out_chs, act=False)

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn3(self.conv_pwl(self.bn2(self.conv_dw(self.bn1(self.conv_pw(x))))))
        return out + x if self.has_skip else out


class EfficientNet(nn.Module):
    """EfficientNet-Lite ``variant`` (0, 1 or 2), timm's ``tf_efficientnet_liteN`` for eval: ImageNet logits
    ``(B, 1000)`` of normalised ``(B, 3, H, W)``. Randomly initialised; load a state dict into it."""

    def __init__(self, variant: int) -> None:
        super().__init__()
        width, depth = VARIANTS[variant]
        self.conv_stem = _conv(3, STEM_CHANNELS, 3, stride=2)
        self.bn1 = BatchNormAct2d(STEM_CHANNELS)
        chs, stages = STEM_CHANNELS, []
        for i, (repeats, kernel, stride, expansion, out) in enumerate(_STAGES):
            out = _round_channels(out * width)
            # The first and last stages keep their single block whatever the depth multiplier (fix_first_last).
            count = repeats if i in (0, len(_STAGES) - 1) else math.ceil(repeats * depth)
            blocks: list[nn.Module] = []
            for b in range(count):
                if expansion == 1:
                    blocks.append(DepthwiseSeparableConv(chs, out, kernel))
                else:
                    blocks.append(InvertedResidual(chs, out, kernel, stride if b == 0 else 1, expansion))
                chs = out
            stages.append(nn.Sequential(*blocks))
        self.blocks = nn.Sequential(*stages)
        self.conv_head = _conv(chs, HEAD_CHANNELS, 1)
        self.bn2 = BatchNormAct2d(HEAD_CHANNELS)
        self.global_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.classifier = nn.Linear(HEAD_CHANNELS, 1000)

    def forward(self, x: Tensor) -> Tensor:
        x = self.bn1(self.conv_stem(x))
        x = self.bn2(self.conv_head(self.blocks(x)))
        return self.classifier(self.global_pool(x))
