"""vrdream's own EfficientNet-Lite is timm's ``tf_efficientnet_liteN``: same state dict, same outputs to the bit;
and a dream, which builds it, imports neither timm nor torchvision."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from vrdream.backbone_registry import get_recipe
from vrdream.backbones import _imagenet_class_names
from vrdream.efficientnet import Conv2dSame, EfficientNet

timm = pytest.importorskip("timm", reason="timm's tf_efficientnet_liteN is the reference")

#: Where to compare: a stride-2 stage, the middle, the last block, the head's 1280 channels.
LAYERS = ("blocks.1", "blocks.4", "blocks.6", "bn2")


def _run(net: torch.nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Logits of ``x``, and the outputs of :data:`LAYERS` hooked out of the same forward pass."""
    out: dict[str, torch.Tensor] = {}
    handles = [
        net.get_submodule(name).register_forward_hook(lambda m, i, o, name=name: out.setdefault(name, o.clone()))
        for name in LAYERS
    ]
    try:
        with torch.no_grad():
            out["logits"] = net(x)
    finally:
        for handle in handles:
            handle.remove()
    return out


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_same_state_dict_and_outputs_as_timm(variant):
    """Loaded with the bundled weights, ours and timm's compute the same logits and features, bit for bit, on an
    even size (where TF-'same' stride-2 convolutions pad one pixel more after than before) and an odd one."""
    ours = get_recipe(f"efficientnet_lite{variant}").load(None).eval()
    reference = timm.create_model(f"tf_efficientnet_lite{variant}", pretrained=False).eval()
    ours_sd, reference_sd = ours.state_dict(), reference.state_dict()
    assert list(ours_sd) == list(reference_sd)
    assert [t.shape for t in ours_sd.values()] == [t.shape for t in reference_sd.values()]
    reference.load_state_dict(ours_sd)
    assert type(ours) is EfficientNet and sum(isinstance(m, Conv2dSame) for m in ours.modules()) == 5
    g = torch.Generator().manual_seed(variant)
    for shape in ((2, 3, 96, 128), (1, 3, 97, 75)):
        x = torch.randn(shape, generator=g)
        got, want = _run(ours, x), _run(reference, x)
        for name in ("logits", *LAYERS):
            assert torch.equal(got[name], want[name]), (shape, name)
        assert got["logits"].shape == (shape[0], 1000)


def test_class_names_are_timms():
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    assert _imagenet_class_names() == [info.label_name_to_description(name) for name in info.label_names()]


def test_a_dream_imports_neither_timm_nor_torchvision():
    """The default backbone and a class objective (the ImageNet class names) without timm's import, which pulls
    in torchvision and torch._dynamo: seconds at every dream."""
    code = (
        "import sys, torch\n"
        "from vrdream.dream import Dreamer, DreamSettings, FlatParam\n"
        "settings = DreamSettings(objective='blocks.4+class:banana', octaves=1, steps=1, device='cpu')\n"
        "out = Dreamer(settings)(FlatParam(torch.rand(1, 3, 64, 64)))\n"
        "assert out.shape == (1, 3, 64, 64), out.shape\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'timm', 'torchvision'}))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
