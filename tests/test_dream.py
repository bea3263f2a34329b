"""The dream engine: objectives, octaves, tiled gradients, the optimiser loop, presets."""

from __future__ import annotations

import pytest
import torch

from vrdream.backbones import list_backbones
from vrdream.dream import Dreamer, DreamSettings, FlatParam
from vrdream.errors import VrdreamError
from vrdream.gradient import _cuts, input_gradient
from vrdream.objective import ClassLogit, LayerActivation, WeightedSum, parse_objective
from vrdream.octave import (
    laplacian_bands,
    normalize_gradient,
    octave_sizes,
    reflect_pad,
)
from vrdream.presets import PRESETS, get_preset

FAST = DreamSettings(objective="blocks.2", octaves=2, steps=2, precision="fp32", device="cpu")


@pytest.fixture(scope="module")
def photo(sample_equirect) -> torch.Tensor:
    return sample_equirect[..., 160:288, 400:528].contiguous()  # (1, 3, 128, 128): horizon, ground and rover


def test_octave_sizes_coarse_to_fine_and_respect_min_size():
    assert octave_sizes(512, 1024, 4, 2.0, 32) == [(64, 128), (128, 256), (256, 512), (512, 1024)]
    assert octave_sizes(100, 100, 5, 2.0, 40) == [(50, 50), (100, 100)]
    assert octave_sizes(20, 20, 3, 1.5, 64) == [(20, 20)]  # the finest octave always stays


def test_laplacian_bands_are_exact_and_normalisation_is_scale_free():
    g = torch.randn(2, 3, 37, 50)
    assert torch.allclose(sum(laplacian_bands(g, 4, reflect_pad)), g, atol=1e-5)
    for mode in ("mean", "laplacian"):
        a, b = normalize_gradient(g, mode), normalize_gradient(1000 * g, mode)
        assert torch.allclose(a, b, atol=1e-4)
    assert normalize_gradient(g, "mean").abs().mean() == pytest.approx(1.0, rel=1e-4)


def test_objective_language(lite0):
    layers = list(lite0.spec.layers)
    assert parse_objective("blocks.4", layers=layers) == LayerActivation("blocks.4")
    two = parse_objective("blocks.3*0.5+blocks.4[1,2]", layers=layers)
    assert isinstance(two, WeightedSum) and two.layers == ("blocks.3", "blocks.4")
    assert two.terms[0][0] == 0.5 and two.terms[1][1].channels == (1, 2)
    banana = parse_objective("class:banana", layers=layers, class_names=lite0.class_names)
    assert isinstance(banana, ClassLogit) and "banana" in banana.name.lower()
    for bad in ("blocks.99", "class:notathing", "guide:blocks.4", "blocks.4**2"):
        with pytest.raises(VrdreamError):
            parse_objective(bad, layers=layers, class_names=lite0.class_names)


def test_tile_cuts_cover_the_axis_on_the_stride_grid():
    gen = torch.Generator().manual_seed(1)
    for _ in range(50):
        cuts = _cuts(300, 64, 32, gen)
        assert cuts[0] == 0 and cuts[-1] == 300
        assert all(c % 32 == 0 for c in cuts[:-1])
        assert all(b - a >= 32 for a, b in zip(cuts[:-1], cuts[1:]))
        assert max(b - a for a, b in zip(cuts[:-1], cuts[1:])) < 64 + 32
    assert _cuts(50, None, 32, gen) == [0, 50]


def test_tiled_gradient_matches_untiled_inside_tiles(lite0, photo):
    obj = LayerActivation("blocks.2")
    full = input_gradient(lite0, obj, photo)
    gen = torch.Generator().manual_seed(0)
    tiled = input_gradient(lite0, obj, photo, tile=64, generator=torch.Generator().manual_seed(0))
    keep = []
    for _ in "rows", "cols":
        inner = torch.ones(128, dtype=torch.bool)
        for c in _cuts(128, 64, lite0.spec.min_size, gen)[1:-1]:
            inner[max(0, c - 24) : c + 24] = False  # the context a tile border takes away (measured: ~24 px)
        keep.append(inner)
    keep = keep[0][:, None] & keep[1][None, :]
    a, b = full[..., keep].flatten(), tiled[..., keep].flatten()
    assert torch.corrcoef(torch.stack([a, b]))[0, 1] > 0.9
    assert b.abs().mean() / a.abs().mean() == pytest.approx(1.0, abs=0.2)


def test_passes_side_by_side_give_the_gradient_of_one_pass_at_a_time(lite0, photo):
    """Network passes run side by side in threads (``concurrent``) write the same gradient as passes run one
    after the other: whole images and tiles alike, with the same random tiles."""
    obj = LayerActivation("blocks.2")
    x = torch.cat([photo, photo.flip(-1), photo.flip(-2)])
    for tile in (None, 64):
        one, two = (
            input_gradient(
                lite0, obj, x, tile=tile, batch=1, generator=torch.Generator().manual_seed(0), concurrent=concurrent
            )
            for concurrent in (1, 2)
        )
        torch.testing.assert_close(two, one, rtol=1e-4, atol=1e-4 * float(one.abs().max()))


def test_the_memory_budget_is_shared_by_the_passes_side_by_side(lite0):
    """Each of the passes run side by side gets its share of the budget, and a batch that would fit one pass
    is split so that every worker has images."""
    one = Dreamer(FAST.replace(concurrent_passes=1, memory_limit_mb=64), backbone=lite0)
    two = Dreamer(FAST.replace(concurrent_passes=2, memory_limit_mb=64), backbone=lite0)
    assert 1 <= two.passes((6, 3, 96, 96))[0] <= one.passes((6, 3, 96, 96))[0] // 2
    assert one.passes((6, 3, 64, 64)) == (6, None) and two.passes((6, 3, 64, 64)) == (3, None)
    assert one.passes((1, 3, 1024, 1024))[1] is not None  # too big for one pass: tiled
    assert two.passes((1, 3, 1024, 1024))[1] <= one.passes((1, 3, 1024, 1024))[1]


def test_flat_dream_changes_the_image_and_is_reproducible(lite0, photo):
    a = Dreamer(FAST, backbone=lite0)(FlatParam(photo))
    b = Dreamer(FAST, backbone=lite0)(FlatParam(photo))
    c = Dreamer(FAST.replace(seed=1), backbone=lite0)(FlatParam(photo))
    assert a.shape == photo.shape and a.min() >= 0 and a.max() <= 1
    assert (a - photo).abs().mean() > 0.01  # a real dream, not a no-op
    assert torch.equal(a, b)  # same seed, same dream on the CPU
    assert not torch.equal(a, c)


def test_dream_raises_the_objective(lite0, photo):
    from vrdream.gradient import evaluate

    obj = LayerActivation("blocks.2")
    out = Dreamer(FAST, backbone=lite0)(FlatParam(photo))
    with torch.no_grad():
        assert evaluate(lite0, obj, out) > 1.5 * evaluate(lite0, obj, photo)


def test_mask_keeps_unselected_pixels(lite0, photo):
    where = torch.zeros(1, 1, 128, 128)
    where[..., :, 64:] = 1
    out = Dreamer(FAST, backbone=lite0)(FlatParam(photo, where))
    assert torch.equal(out[..., :, :56], photo[..., :, :56])
    assert (out[..., :, 72:] - photo[..., :, 72:]).abs().mean() > 0.01


def test_class_and_guide_objectives_run(lite0, photo):
    banana = Dreamer(FAST.replace(objective="class:banana", octaves=1), backbone=lite0)
    assert (banana(FlatParam(photo)) - photo).abs().mean() > 0.005
    guide = torch.rand(1, 3, 64, 64)
    guided = Dreamer(FAST.replace(objective="guide:blocks.2", octaves=1), backbone=lite0, guide=guide)
    assert (guided(FlatParam(photo)) - photo).abs().mean() > 0.005


@pytest.mark.slow
def test_bf16_dream_raises_the_objective_like_fp32(lite0, photo):
    from vrdream.gradient import evaluate

    obj = LayerActivation("blocks.2")
    with torch.no_grad():
        before = evaluate(lite0, obj, photo)
        gains = [
            evaluate(lite0, obj, Dreamer(FAST.replace(precision=p), backbone=lite0)(FlatParam(photo))) - before
            for p in ("fp32", "bf16")
        ]
    assert gains[1] > 0.7 * gains[0] > 0


def test_presets_are_valid():
    assert {"edges", "textures", "patterns", "parts", "objects", "classic"} <= set(PRESETS)
    for p in PRESETS.values():
        spec = next(s for s in list_backbones() if s.name == p.settings.backbone)
        parse_objective(p.settings.objective, layers=list(spec.layers))
    with pytest.raises(VrdreamError):
        get_preset("nope")


@pytest.mark.parametrize("preset", list(PRESETS))
def test_flat_dream_with_every_preset(tmp_path, photo, preset):
    from PIL import Image

    from vrdream.cli import main
    from vrdream.photosphere import read_photosphere

    src, out = tmp_path / "photo.png", tmp_path / "dream.png"
    Image.fromarray((photo[0, :, :96, :96].permute(1, 2, 0).numpy() * 255).astype("uint8")).save(src)
    assert (
        main(["dream", str(src), "--flat", "-o", str(out), "--preset", preset, "--steps", "1", "--octaves", "1", "-q"])
        == 0
    )
    dreamed = read_photosphere(out, flat=True)
    assert dreamed.pixels.shape == (96, 96, 3)
    assert dreamed.vrdream["Preset"] == preset


def test_cli_reruns_itself_under_a_fast_allocator_once():
    from vrdream.cli import fast_allocator_env

    env = fast_allocator_env({"PATH": "/bin"})
    assert env is not None and env["VRDREAM_ALLOCATOR"] == "system"
    assert "jemalloc" in env.get("LD_PRELOAD", "") or "hugetlb" in env.get("GLIBC_TUNABLES", "")
    assert fast_allocator_env(env) is None  # the re-run does not re-run again
    assert fast_allocator_env({"VRDREAM_ALLOCATOR": "system"}) is None


@pytest.mark.parametrize(
    "flag",
    [
        ["--octaves", "0"],
        ["--octave-scale", "1"],
        ["--step-size", "0"],
        ["--tile", "4"],
        ["--face-size", "2"],
        ["--dream-width", "10"],
    ],
)
def test_bad_settings_are_one_line_errors(tmp_path, sample_pano, capsys, flag):
    from vrdream.cli import main

    assert main(["dream", str(sample_pano), "-o", str(tmp_path / "x.jpg"), *flag]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and flag[0][2:] in err[0]
    assert not (tmp_path / "x.jpg").exists()
