"""Issue 20: the dream's pattern scale is set in degrees of the sphere, not in pixels, so a small and a
large copy of a photosphere dream alike; finer detail octaves make the large one sharp; the progress
bar counts work, not steps."""

from __future__ import annotations

import io
import math

import pytest
import torch

from vrdream.cli import main
from vrdream.dream import Dreamer, DreamSettings
from vrdream.octave import resize
from vrdream.photosphere import read_photosphere
from vrdream.pipeline import to_tensor
from vrdream.presets import DEFAULT_PRESET, PRESETS, get_preset
from vrdream.progress import progress, weighted_steps
from vrdream.sphere import (
    DETAIL_STEP_COST,
    PATTERN_PX,
    VIEW_PAD,
    SphereOptions,
    dream_sphere,
    dream_sphere_scaled,
    dream_width_for,
    high_frequency_power,
    pattern_centroid_cpd,
    scale_plan,
    step_pixels,
)

MIN_SIZE = 32  # efficientnet_lite0's
DEFAULT = get_preset(DEFAULT_PRESET).settings


def plan_work(stages: list) -> int:
    return sum(step_pixels(s.face_size, VIEW_PAD) * s.steps for s in stages)


def test_every_preset_keeps_its_2k_look():
    """At 2048 px the pattern scale puts the whole pyramid on a face of 512, as the presets were tuned."""
    assert dream_width_for(DreamSettings().pattern_deg) == 2048
    for preset in PRESETS.values():
        plan = scale_plan(2048, preset.settings, MIN_SIZE)
        assert plan.look_face == 512 and plan.detail == []
        assert len(plan.look) == preset.settings.octaves  # none dropped at 2K


def test_a_finer_input_adds_detail_octaves_within_the_work_budget():
    """8K: the same look pyramid as at 2K, then finer octaves towards the 8K density; their work stays
    within ``detail_work`` x the pyramid's, so 16K stops where 8K does (the rest is upsampled)."""
    two_k = scale_plan(2048, DEFAULT, MIN_SIZE)
    eight_k = scale_plan(8192, DEFAULT, MIN_SIZE)
    assert eight_k.look == two_k.look
    faces = [s.face_size for s in eight_k.detail]
    assert faces == sorted(faces) and faces[0] > 512 and faces[-1] <= 2048
    assert all(s.steps == DEFAULT.detail_steps for s in eight_k.detail)
    assert plan_work(eight_k.detail) <= DEFAULT.detail_work * plan_work(eight_k.look)
    assert scale_plan(16384, DEFAULT, MIN_SIZE).detail == eight_k.detail
    # a coarser input dreams at its own width (a finer canvas than the input buys nothing)
    assert scale_plan(1536, DEFAULT, MIN_SIZE).look_face == 384
    # with detail steps off, nothing finer than the pattern scale runs
    assert scale_plan(8192, DEFAULT.replace(detail_steps=0), MIN_SIZE).detail == []


def test_pattern_deg_sets_the_dream_width():
    """Half the angle, twice the pixels: PATTERN_PX pixels span pattern_deg."""
    assert dream_width_for(360 * PATTERN_PX / 1024) == 1024
    assert scale_plan(8192, DEFAULT.replace(pattern_deg=5.625), MIN_SIZE).look_face == 1024


@pytest.mark.parametrize("width", [512, 2048])
def test_the_pattern_scale_is_measured_in_cycles_per_degree(width):
    """A grating of 2 cycles per degree reads 2 cycles per degree at any pixel count."""
    h = width // 2
    lon = (torch.arange(width) + 0.5) / width * 360
    change = 0.05 * torch.sin(2 * math.pi * 0.5 * lon)[None, None, None].expand(1, 3, h, width)
    raw = torch.full((1, 3, h, width), 0.5)
    assert pattern_centroid_cpd(raw, raw + change) == pytest.approx(0.5, rel=0.05)


def test_the_scale_plan_is_the_old_dream_where_the_input_is_no_finer(sample_equirect, lite0):
    """No detail octaves at or under the pattern scale's width: the very dream dream_sphere makes."""
    settings = DEFAULT.replace(octaves=2, steps=2, pattern_deg=360 * PATTERN_PX / 512)
    dreamer = Dreamer(settings, backbone=lite0)
    raw = resize(sample_equirect, height=128, width=256)
    assert torch.equal(dream_sphere_scaled(raw, dreamer), dream_sphere(raw, dreamer, SphereOptions()))


def test_a_small_and_a_large_copy_dream_alike_and_the_large_one_is_sharp(shared_data, lite0):
    """The issue's check, small: mars at 256 and 1024 px wide with a pattern scale of 90° (the 256 px
    width), few steps. Their pattern scales (cycles per degree) agree within 15 %; the large dream's
    change has several times the power above the small one's Nyquist frequency of the small dream
    upsampled x4 onto the large raw (what ``--dream-width 256`` would give)."""
    # detail_work 2: with this short pyramid, detail faces 90 and 126 of 256, the reach of the default
    # plan at 8K (faces 717 and 1004 of 2048: half the output's density)
    settings = DEFAULT.replace(octaves=2, steps=4, pattern_deg=90.0, detail_work=2.0)
    dreamer = Dreamer(settings, backbone=lite0)
    big = to_tensor(read_photosphere(shared_data / "mars.jpg").pixels).float()
    big = resize(big, height=512, width=1024)
    small = resize(big, height=128, width=256)
    assert scale_plan(1024, settings, MIN_SIZE).detail  # the large copy runs detail octaves
    small_dream = dream_sphere_scaled(small, dreamer)
    big_dream = dream_sphere_scaled(big, dreamer)
    small_cpd = pattern_centroid_cpd(small, small_dream)
    big_cpd = pattern_centroid_cpd(big, big_dream)
    assert big_cpd == pytest.approx(small_cpd, rel=0.15)
    upsampled = (big + resize(small_dream - small, height=512, width=1024)).clamp(0, 1)
    nyquist = 256 / 360 / 2
    assert high_frequency_power(big, big_dream, nyquist) > 2 * high_frequency_power(big, upsampled, nyquist)


def test_the_bar_counts_work_so_a_costly_step_weighs_more():
    """Stages of (steps, work per step): each step advances the bar by its own work, ending at the total."""
    stages = [(2, 10.0), (1, 160.0)]
    with progress(sum(n * w for n, w in stages), file=io.StringIO()) as bar:
        step = weighted_steps(bar, stages)
        seen = []
        for _ in range(3):
            step()
            seen.append(bar.n)
    assert seen == [10.0, 20.0, 180.0] and bar.total == 180.0


def test_the_plan_weighs_a_tiled_detail_step_more_than_its_pixels():
    """The bar's work per step: a look octave's network pixels, a detail octave's times DETAIL_STEP_COST
    (its views tiled), in the order the stages run."""
    plan = scale_plan(8192, DEFAULT, MIN_SIZE)
    work = plan.work()
    assert [n for n, _ in work] == [s.steps for s in plan.look + plan.detail]
    assert [w for _, w in work[: len(plan.look)]] == [step_pixels(s.face_size, VIEW_PAD) for s in plan.look]
    assert [w for _, w in work[len(plan.look) :]] == [
        DETAIL_STEP_COST * step_pixels(s.face_size, VIEW_PAD) for s in plan.detail
    ]
    two_k = scale_plan(2048, DEFAULT, MIN_SIZE)  # no detail octaves: pixels only
    assert two_k.work() == [(s.steps, step_pixels(s.face_size, VIEW_PAD)) for s in two_k.look]


def test_cli_pattern_deg(tmp_path, sample_pano, capsys):
    """--pattern-deg reaches the dream; a nonsense angle is one line and exit 2."""
    out = tmp_path / "d.jpg"
    flags = ["--octaves", "1", "--steps", "1", "--pattern-deg", "180", "-q"]
    assert main(["dream", str(sample_pano), "-o", str(out), *flags]) == 0
    assert out.is_file()
    assert main(["dream", str(sample_pano), "-o", str(tmp_path / "e.jpg"), "--pattern-deg", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pattern-deg" in err[0]
