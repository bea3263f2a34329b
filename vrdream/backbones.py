"""DeepDream backbones: ImageNet CNNs by name, with their dream layers as data.

A :class:`Backbone` takes RGB in [0, 1] ``(B, 3, H, W)`` (any ``H, W >= spec.min_size``),
normalises it itself, and returns activations at named layers. The dream does
gradient ascent on the *input*, so the forward pass is differentiable w.r.t. ``x``
while every weight is frozen, BatchNorm stays in eval mode, and the pass stops
after the deepest requested layer.

Every backbone is a sequence of *stages* (module paths inside ``Backbone.net``)
ending in the pooled features, then an optional classifier *head*; dream layers
are stage outputs. Hooks would not work for the Inception trunk (a TorchScript
module), calling stages in order does, and it makes stopping early trivial.

Which backbones there are, their layers and weights: :mod:`vrdream.backbone_registry`.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .backbone_registry import Recipe, get_recipe, list_backbones
from .efficientnet import Conv2dSame, same_conv_inputs
from .errors import VrdreamError


def _submodule(root: nn.Module, path: str) -> nn.Module:
    """``root.get_submodule(path)``, which ScriptModules do not support."""
    return functools.reduce(getattr, path.split("."), root)


class Backbone(nn.Module):
    """A frozen ImageNet CNN that returns activations at named dream layers.

    ``net`` is the wrapped network (:mod:`vrdream.efficientnet`, torchvision or TorchScript). Build it
    with :func:`create_backbone`.
    """

    mean: Tensor  # (1, 3, 1, 1) buffers: the input normalisation
    std: Tensor

    def __init__(
        self,
        recipe: Recipe,
        net: nn.Module,
        class_names: list[str],
        channels_last: bool = False,
        fold_batchnorm: bool = True,
    ) -> None:
        super().__init__()
        self.spec = recipe.spec
        self.net = net
        self.class_names = class_names
        self.channels_last = channels_last
        self._head_paths = recipe.head
        self._layer_paths = dict(recipe.layer_paths)
        self._stage_paths = recipe.stages
        self._stage_index = {path: i for i, path in enumerate(recipe.stages)}
        #: The first stage that runs in the autocast's reduced precision; those before it run in fp32
        #: (:attr:`vrdream.backbone_registry.Recipe.reduced_precision_from`). None: every stage.
        self.reduced_precision_from = recipe.reduced_precision_from
        self.register_buffer("mean", torch.tensor(recipe.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(recipe.std).view(1, 3, 1, 1), persistent=False)
        for p in self.net.parameters():
            p.requires_grad_(False)
        if fold_batchnorm:
            fold_batchnorms(self.net)
            fuse_relu6(self.net)
        if channels_last:
            self.net.to(memory_format=torch.channels_last)
        self.eval()

    def train(self, mode: bool = True) -> Backbone:
        # Dreaming ascends the input, never the weights: BatchNorm keeps its ImageNet statistics.
        return super().train(False)

    def _run(self, h: Tensor, stop: int) -> Iterator[tuple[str, Tensor]]:
        """Yield ``(stage path, output)`` for the first ``stop`` stages, starting from normalised ``h``."""
        first = self._stage_index[self.reduced_precision_from] if self.reduced_precision_from else 0
        for i, path in enumerate(self._stage_paths[:stop]):
            # Looked up per call rather than cached, so that copies and ``.to()`` can never go stale.
            stage = _submodule(self.net, path)
            if i < first and torch.is_autocast_enabled(h.device.type):
                with torch.autocast(h.device.type, enabled=False):
                    h = stage(h.float())
            else:
                h = stage(h)
            yield path, h

    def _prepare(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise VrdreamError(f"{self.spec.name}: expected RGB images (B, 3, H, W), got shape {tuple(x.shape)}")
        if min(x.shape[-2:]) < self.spec.min_size:
            raise VrdreamError(
                f"{self.spec.name}: input {x.shape[-1]}x{x.shape[-2]} is smaller than "
                f"its minimum side of {self.spec.min_size} px"
            )
        x = (x - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def features(self, x: Tensor, layers: Sequence[str]) -> dict[str, Tensor]:
        """Activations ``{layer: (B, C, h, w)}`` of ``x`` (B, 3, H, W) RGB in [0, 1].

        Runs the network only as far as the deepest requested layer. Differentiable
        w.r.t. ``x``; under ``torch.autocast`` the stages before ``reduced_precision_from`` run in fp32, the
        rest as autocast runs them (an activation's dtype is then whatever its stage's last op gave).
        """
        unknown = [name for name in layers if name not in self._layer_paths]
        if unknown:
            raise VrdreamError(
                f"{self.spec.name} has no layer {unknown[0]!r}; choose one of: {', '.join(self._layer_paths)}"
            )
        wanted: dict[str, list[str]] = {}
        for name in layers:
            wanted.setdefault(self._layer_paths[name], []).append(name)
        stop = 1 + max((self._stage_index[path] for path in wanted), default=-1)
        found: dict[str, Tensor] = {}
        for path, h in self._run(self._prepare(x), stop):
            for name in wanted.get(path, ()):
                found[name] = h
        return {name: found[name] for name in layers}

    def logits(self, x: Tensor) -> Tensor:
        """ImageNet logits ``(B, 1000)`` of ``x`` (B, 3, H, W) RGB in [0, 1]; see :attr:`class_names`."""
        if not self.spec.has_head:
            raise VrdreamError(
                f"{self.spec.name} is a feature trunk without a classifier head; "
                f"use one of: {', '.join(s.name for s in list_backbones() if s.has_head)}"
            )
        *_, (_, h) = self._run(self._prepare(x), len(self._stage_paths))
        h = torch.flatten(h, 1)
        for path in self._head_paths:
            h = _submodule(self.net, path)(h)
        return h


#: Convolutions followed directly by a BatchNorm, as (conv, norm) attribute names per module type: what each
#: timm block's ``forward`` runs back to back (EfficientNet-Lite's stem and head, and its two block kinds).
_CONV_NORM_PAIRS: dict[str, tuple[tuple[str, str], ...]] = {
    "EfficientNet": (("conv_stem", "bn1"), ("conv_head", "bn2")),
    "DepthwiseSeparableConv": (("conv_dw", "bn1"), ("conv_pw", "bn2")),
    "InvertedResidual": (("conv_pw", "bn1"), ("conv_dw", "bn2"), ("conv_pwl", "bn3")),
}


def fold_batchnorms(net: nn.Module) -> int:
    """Fold every frozen BatchNorm that directly follows a convolution into that convolution's weights and bias
    (:data:`_CONV_NORM_PAIRS`); the norm's module is replaced by what it ran after normalising (timm's
    ``BatchNormAct2d``: its dropout and activation, run out of place). Returns how many were folded.

    In eval mode a BatchNorm is a per-channel affine map, so ``norm(conv(x))`` is one convolution with scaled
    weights: the same activations up to float rounding, without the norm's pass over every activation in the
    forward and again in the backward pass (EfficientNet-Lite's thin layers are memory-bound).
    """
    folded = 0
    for module in list(net.modules()):
        for conv_name, norm_name in _CONV_NORM_PAIRS.get(type(module).__name__, ()):
            conv, norm = getattr(module, conv_name, None), getattr(module, norm_name, None)
            if not isinstance(conv, nn.Conv2d) or not isinstance(norm, nn.BatchNorm2d):
                continue
            mean, var, weight, bias = norm.running_mean, norm.running_var, norm.weight, norm.bias
            if mean is None or var is None or weight is None or bias is None:
                continue  # a norm without running statistics or affine parameters is not a fixed affine map
            scale = weight / torch.sqrt(var + norm.eps)
            shift = bias - mean * scale
            if conv.bias is not None:
                shift = shift + conv.bias * scale
            conv.weight = nn.Parameter(conv.weight * scale.reshape(-1, 1, 1, 1), requires_grad=False)
            conv.bias = nn.Parameter(shift, requires_grad=False)
            after = [m for m in (getattr(norm, "drop", None), getattr(norm, "act", None)) if m is not None]
            for m in after:
                if hasattr(m, "inplace"):
                    # In place on a tensor autograd records, the activation first copies its input: out of
                    # place it writes one tensor instead of two (measured: 8-9 % of a dream step's CPU time).
                    m.inplace = False
            setattr(module, norm_name, nn.Sequential(*after) if after else nn.Identity())
            folded += 1
    return folded


class Conv2dReLU6(nn.Conv2d):
    """A convolution and the ReLU6 after it. On the CPU in float32 they run as one oneDNN kernel (the
    activation applied as the convolution writes its output), elsewhere one after the other.

    Why: EfficientNet-Lite's activations are memory-bound passes over its widest tensors; run on its own,
    the forward ReLU6 took 9-10 % of a dream step on this CPU, fused it costs next to nothing (measured on a
    1x1 convolution to 96 channels at 320x320: 12.5 ms fused, 20 ms as convolution then ReLU6).
    """

    #: Convolve as TF's 'same' convolution does (:func:`vrdream.efficientnet.same_conv_inputs`).
    tf_same: bool = False

    def forward(self, x: Tensor) -> Tensor:
        weight, padding = self.weight, _pair(self.padding)
        if self.tf_same:
            x, weight, padding = same_conv_inputs(self, x)
        if _fusable(x):
            return _ConvReLU6.apply(x, weight, self.bias, self.stride, padding, self.dilation, self.groups)
        return F.relu6(F.conv2d(x, weight, self.bias, self.stride, padding, self.dilation, self.groups))


def _fusable(x: Tensor) -> bool:
    """Whether oneDNN's fused convolution can run ``x``: float32 on the CPU, no autocast to another dtype."""
    return (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and not torch.is_autocast_enabled("cpu")
        and _fused_kernel_available()
    )


@functools.cache
def _fused_kernel_available() -> bool:
    """Whether this torch build has oneDNN and its fused convolution (not every platform's does)."""
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")


class _ConvReLU6(torch.autograd.Function):
    """relu6(conv(x)) in one oneDNN kernel (what torch.compile's CPU backend calls), and its gradient for ``x``
    only: the weights are frozen (:class:`Backbone`)."""

    @staticmethod
    def forward(
        ctx: Any,
        x: Tensor,
        weight: Tensor,
        bias: Tensor | None,
        stride: tuple[int, ...],
        padding: tuple[int, ...],
        dilation: tuple[int, ...],
        groups: int,
    ) -> Tensor:
        y = torch.ops.mkldnn._convolution_pointwise(
            x, weight, bias, list(padding), list(stride), list(dilation), groups, "hardtanh", [0.0, 6.0], ""
        )
        ctx.save_for_backward(x, weight, y)
        ctx.conv = (list(stride), list(padding), list(dilation), groups)
        return y

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        x, weight, y = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.conv
        # The activation passes the gradient where 0 < pre-activation < 6, which is where 0 < y < 6.
        grad = torch.ops.aten.hardtanh_backward(grad, y, 0.0, 6.0)
        grad_x = torch.ops.aten.convolution_backward(
            grad, x, weight, None, stride, padding, dilation, False, [0, 0], groups, [True, False, False]
        )[0]
        return grad_x, None, None, None, None, None, None


def _pair(size: object) -> tuple[int, int]:
    """A 2-D convolution's size attribute (kernel, stride, padding, dilation), typed as the pair it is."""
    return cast(tuple[int, int], size)


def fuse_relu6(net: nn.Module) -> int:
    """Replace each convolution that :func:`fold_batchnorms` left followed directly by a ReLU6 (its norm's
    slot holding only the activation) with a :class:`Conv2dReLU6` of the same weights. Returns how many.
    A TF-'same' one (:class:`Conv2dSame`) then convolves without padding its input where it is depthwise
    (:func:`vrdream.efficientnet.same_conv_inputs`): the same output, 1.2x faster dream steps."""
    fused = 0
    for module in list(net.modules()):
        for conv_name, norm_name in _CONV_NORM_PAIRS.get(type(module).__name__, ()):
            conv, after = getattr(module, conv_name, None), getattr(module, norm_name, None)
            # exactly these types: a subclass (an already fused one included) may compute something else
            if not isinstance(conv, nn.Conv2d) or type(conv) not in (nn.Conv2d, Conv2dSame):
                continue
            if not isinstance(after, nn.Sequential):
                continue
            kinds = [m for m in after if not isinstance(m, nn.Identity)]
            if len(kinds) != 1 or not isinstance(kinds[0], nn.ReLU6):
                continue
            joined = Conv2dReLU6(
                conv.in_channels,
                conv.out_channels,
                _pair(conv.kernel_size),
                stride=_pair(conv.stride),
                padding=_pair(conv.padding),
                dilation=_pair(conv.dilation),
                groups=conv.groups,
                bias=conv.bias is not None,
                device=conv.weight.device,
            )
            joined.weight, joined.bias = conv.weight, conv.bias  # shared, not copied
            joined.tf_same = isinstance(conv, Conv2dSame)
            setattr(module, conv_name, joined)
            setattr(module, norm_name, nn.Identity())
            fused += 1
    return fused


def _imagenet_class_names() -> list[str]:
    """The 1000 ImageNet-1k class descriptions in index order (``"tabby, tabby cat"``), shipped with timm: its
    WordNet synsets in index order and their lemmas, read as timm's ``ImageNetInfo`` does but without importing
    timm, which imports torchvision (seconds at every dream, for two text files)."""
    spec = importlib.util.find_spec("timm")  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise VrdreamError("timm is not installed (it ships the ImageNet class names); run: pip install timm")
    info = Path(spec.submodule_search_locations[0]) / "data" / "_info"
    synsets = (info / "imagenet_synsets.txt").read_text("utf-8").splitlines()
    lemmas = dict(csv.reader((info / "imagenet_synset_to_lemma.txt").read_text("utf-8").splitlines(), delimiter="\t"))
    return [lemmas[synset] for synset in synsets]


def weights_files(name: str, weights: str | Path | None = None) -> tuple[Path, ...]:
    """The files backbone ``name`` reads its weights from (``weights`` replacing the default ones; the
    Inception trunk's TorchScript file is read even then, for its graph), for provenance records."""
    recipe = get_recipe(name)
    if weights is None:
        return (recipe.default_file(),)
    return (recipe.default_file(), Path(weights)) if name == "inception_v3" else (Path(weights),)


def create_backbone(
    name: str = "efficientnet_lite0",
    *,
    weights: str | Path | None = None,
    device: str | torch.device = "cpu",
    channels_last: bool = False,
    fold_batchnorm: bool = True,
) -> Backbone:
    """Build backbone ``name`` frozen and in eval mode on ``device``.

    ``weights`` is a state dict file replacing the default weights (the bundled
    ones, or torchvision's for ``googlenet``/``vgg16``). ``channels_last`` stores
    weights and activations NHWC, which is faster for some CPU/GPU kernels.
    ``fold_batchnorm``: fold BatchNorms into the convolutions before them (:func:`fold_batchnorms`) and
    fuse each convolution with the ReLU6 after it (:func:`fuse_relu6`);
    False keeps the network as loaded (for comparisons).
    """
    recipe = get_recipe(name)
    net = recipe.load(Path(weights) if weights is not None else None)
    names = _imagenet_class_names() if recipe.spec.has_head else []
    return Backbone(recipe, net, names, channels_last=channels_last, fold_batchnorm=fold_batchnorm).to(device)
