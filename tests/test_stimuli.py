"""Stimulus sets (vrdream.stimuli): matched outputs, the control through the shared path, strength 0 = control,
fades and the loop by frame index, the provenance record, ``vrdream verify``, and bit-identical reruns on the CPU."""

from __future__ import annotations

import json
import os
import shutil
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from videos import load_panorama, make_video

from vrdream.cli import main
from vrdream.errors import VrdreamError
from vrdream.provenance import file_sha256
from vrdream.record import TAG_PREFIX, read_record, sha256_of, sidecar_path
from vrdream.spherical import read_spherical
from vrdream.stimuli import (
    Condition,
    StimulusSettings,
    conditions,
    join_weights,
    level_dream,
    mix,
    shared_frames,
    strength_weights,
)
from vrdream.videoio import iter_rgb24

FRAMES = 12
SIZE = (64, 128)  # height, width: a multiple of 16 wide
#: The cheapest dream that still dreams: one octave, one step, one step per later frame, on the CPU.
CHEAP = ["--steps", "1", "--octaves", "1", "--steps-next", "1", "--device", "cpu"]
SET = ["--levels", "edges,textures", "--strengths", "0,1", "--fade", *CHEAP, "-q"]
VIDEOS = ["control", "edges-0", "edges-1", "edges-0-fade", "edges-1-fade"]
VIDEOS += [v.replace("edges", "textures") for v in VIDEOS[1:]]
#: x264 at CRF 18 in 4:2:0 against the 8-bit frames it was given, at this tiny size (measured: mean 1.98
#: levels, 38.9 dB): the codec's own loss, the tolerance of "the control is the raw clip".
CODEC_MEAN_LEVELS, CODEC_PSNR_DB = 3.0, 35.0


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory, sample_pano: Path) -> Path:
    folder = tmp_path_factory.mktemp("clip")
    return make_video(folder / "clip.mp4", load_panorama(sample_pano, SIZE[1]), frames=FRAMES)


def run(argv: list[str]) -> int:
    """``vrdream ARGV`` as a shell runs it: the record's command line is the process's (``sys.argv``)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", ["vrdream", *argv])
        return main(argv)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, clip: Path) -> Path:
    """The set: control + 2 levels × strengths 0 and 1, with fades (one command, as a newcomer runs it)."""
    folder = tmp_path_factory.mktemp("set") / "set"
    assert run(["stimuli", str(clip), "-o", str(folder), *SET]) == 0
    return folder


def _stream_facts(path: Path) -> dict[str, object]:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        cc = v.codec_context
        facts: dict[str, object] = {
            "rate": v.average_rate,
            "codec": cc.name,
            "pix_fmt": cc.pix_fmt,
            "size": (cc.height, cc.width),
            "colour": (cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range),
            "audio": [(a.codec_context.name, a.rate, a.channels, a.frames, a.duration) for a in c.streams.audio],
            "duration": c.duration,
        }
        facts["times"] = [frame.pts * frame.time_base for frame in c.decode(v)]
    facts["spherical"] = read_spherical(path)
    return facts


# ------------------------------------------------------------------------------------------- pure parts, fast


def test_condition_names_and_order() -> None:
    names = [c.name for c in conditions(StimulusSettings(levels=("edges", "objects"), strengths=(0.5, 1), fade=True))]
    assert names == [
        "control",
        "edges-0.5",
        "edges-1",
        "edges-0.5-fade",
        "edges-1-fade",
        "objects-0.5",
        "objects-1",
        "objects-0.5-fade",
        "objects-1-fade",
    ]


@pytest.mark.parametrize(
    "bad",
    [{"levels": ("edges", "nope")}, {"levels": ()}, {"strengths": (1.5,)}, {"strengths": (1, 1)}, {"width": 100}],
)
def test_bad_settings_are_one_line(bad: dict) -> None:
    with pytest.raises(VrdreamError):
        StimulusSettings(**bad)


def test_a_fade_starts_and_ends_on_the_control_by_frame_index() -> None:
    w = strength_weights(Condition("edges", 0.8, fade=True), 12, hold=0.5, loop=False)
    assert w[0] == 0 and w[-1] == 0 and w.max() == pytest.approx(0.8)
    looped = strength_weights(Condition("edges", 0.8, fade=True), 12, hold=0.5, loop=True)
    assert looped[0] == 0 and looped[-1] > 0  # the cycle closes after the last frame: frame 12 would be 0
    assert (strength_weights(Condition("edges", 0.3), 12, 0.5, False) == 0.3).all()


def test_the_loop_join_starts_on_the_second_pass_and_ends_on_the_first() -> None:
    n, k = 8, 4
    stored = {j: np.full((2, 2, 3), 10 * j, np.uint8) for j in range(n + k)}
    assert join_weights(k)[0] == 0 and 0 < join_weights(k)[-1] < 1
    assert np.array_equal(level_dream(stored.__getitem__, 0, n, k), stored[n] / np.float32(255))  # frame 0 = pass 2
    assert np.array_equal(level_dream(stored.__getitem__, k, n, k), stored[k] / np.float32(255))  # past the join
    between = level_dream(stored.__getitem__, 2, n, k)
    assert stored[2][0, 0, 0] / 255 < between[0, 0, 0] < stored[n + 2][0, 0, 0] / 255


def test_mix_at_zero_is_the_control_and_at_one_the_dream() -> None:
    rng = np.random.default_rng(0)
    control = rng.integers(0, 256, (4, 5, 3)).astype(np.float32) / 255
    dream = rng.integers(0, 256, (4, 5, 3)).astype(np.float32) / 255
    assert np.array_equal(mix(control, dream, 0.0), np.rint(control * 255).astype(np.uint8))
    assert np.array_equal(mix(control, dream, 1.0), np.rint(dream * 255).astype(np.uint8))


# ------------------------------------------------------------------------------------------------ the set itself


@pytest.mark.slow
def test_every_video_of_the_set_is_matched(made: Path, clip: Path) -> None:
    facts = {name: _stream_facts(made / f"{name}.mp4") for name in VIDEOS}
    control = facts["control"]
    fps = Fraction(24)
    assert control["times"] == [Fraction(i) / fps for i in range(FRAMES)]  # CFR, every frame, none doubled
    assert control["rate"] == fps and control["size"] == SIZE
    assert control["colour"] == (1, 1, 1, 1)  # BT.709 matrix, primaries, transfer; limited range
    assert control["audio"] and control["audio"][0][0] == "aac"
    assert control["spherical"].has_v1 and control["spherical"].projection == "equirectangular"
    for name, f in facts.items():
        assert f == control, name


@pytest.mark.slow
def test_the_control_is_the_raw_clip_after_the_shared_path(made: Path, clip: Path) -> None:
    raw = [f * 255 for f in shared_frames(clip, SIZE)]
    control = [f.astype(np.float32) for f in iter_rgb24(made / "control.mp4")]
    assert len(raw) == len(control) == FRAMES
    for a, b in zip(raw, control):
        mse = float(((a - b) ** 2).mean())
        assert np.abs(a - b).mean() <= CODEC_MEAN_LEVELS
        assert 10 * np.log10(255**2 / mse) >= CODEC_PSNR_DB


@pytest.mark.slow
def test_strength_zero_is_the_control_frame_for_frame(made: Path) -> None:
    control = read_record(sidecar_path(made / "control.mp4"))["output"]
    for name in ("edges-0", "textures-0", "edges-0-fade"):
        out = read_record(sidecar_path(made / f"{name}.mp4"))["output"]
        assert out["made"] == control["made"] and out["frames"] == control["frames"], name
    one = read_record(sidecar_path(made / "edges-1.mp4"))["output"]
    assert all(a != b for a, b in zip(one["made"], control["made"]))  # and strength 1 dreams every frame
    fade = read_record(sidecar_path(made / "edges-1-fade.mp4"))["output"]["made"]
    assert fade[0] == control["made"][0] and fade[-1] == control["made"][-1]  # control → dream → control
    assert fade[FRAMES // 2] != control["made"][FRAMES // 2]


@pytest.mark.slow
def test_every_output_has_a_complete_record(made: Path, clip: Path) -> None:
    from vrdream.backbones import weights_files

    for name in VIDEOS:
        out = made / f"{name}.mp4"
        record = json.loads(sidecar_path(out).read_text())
        recipe = record["recipe"]
        assert record["recipe_sha256"] == sha256_of(recipe)
        assert recipe["kind"] == "stimulus"
        assert recipe["command"] == ["vrdream", "stimuli", str(clip), "-o", str(made), *SET]
        rel = os.path.relpath(clip, made)
        assert recipe["inputs"] == [{"path": rel, "name": "clip.mp4", "sha256": file_sha256(clip)}]
        assert {"vrdream", "python", "torch", "av", "numpy", "ffmpeg"} <= set(recipe["versions"])
        assert recipe["device"] == "cpu"
        s = recipe["settings"]
        assert s["frames"] == FRAMES and s["fps"] == "24/1" and s["size"] == list(SIZE)
        assert {"condition", "loop", "loop_frames", "sphere", "encode"} <= set(s)
        assert ("hold" in s) == name.endswith("-fade")
        output = record["output"]
        assert output["sha256"] == file_sha256(out) and output["bytes"] == out.stat().st_size
        assert len(output["frames"]) == len(output["made"]) == FRAMES
        with av.open(str(out)) as c:
            assert c.metadata["comment"] == TAG_PREFIX + record["recipe_sha256"]
        if name == "control":
            assert recipe["precision"] == "none" and recipe["weights"] == [] and recipe["threads"] is None
            continue
        assert recipe["precision"] == "fp32" and recipe["seeds"] == {"dream": 0}
        assert recipe["threads"] == torch.get_num_threads()
        assert s["engine"]["settings"]["objective"] == ("blocks.1" if name.startswith("edges") else "blocks.2")
        (backbone,) = recipe["weights"]
        (path,) = weights_files("efficientnet_lite0")
        assert backbone["files"] == [{"name": path.name, "sha256": file_sha256(path)}]
    assert read_record(sidecar_path(made / "sheet.png"))["recipe"]["kind"] == "sheet"


@pytest.mark.slow
def test_verify_passes_then_names_the_file_one_changed_byte_breaks(
    made: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(made, folder)
    assert main(["verify", str(folder)]) == 0
    assert capsys.readouterr().out.count("ok ") == len(VIDEOS) + 1  # and the sheet
    victim = folder / "edges-1.mp4"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    assert main(["verify", str(folder)]) == 2
    captured = capsys.readouterr()
    assert "FAILED" in captured.out and str(victim) in captured.err
    assert [line for line in captured.out.splitlines() if line.startswith("FAILED")] == [
        line for line in captured.out.splitlines() if str(victim) in line
    ]


@pytest.mark.slow
def test_verify_rerun_remakes_random_frames_bit_identically(made: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["verify", str(made / "edges-1-fade.mp4"), "--rerun", "2", "--rerun-seed", "3"]) == 0
    line = capsys.readouterr().out.strip()
    assert "bit-identical" in line and "(seed 3)" in line


@pytest.mark.slow
def test_the_same_command_twice_gives_bit_identical_frames_and_resumes(
    made: Path, clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    again = tmp_path / "again"
    assert run(["stimuli", str(clip), "-o", str(again), *SET]) == 0
    for name in VIDEOS:
        first = read_record(sidecar_path(made / f"{name}.mp4"))["output"]
        second = read_record(sidecar_path(again / f"{name}.mp4"))["output"]
        assert first["made"] == second["made"] and first["frames"] == second["frames"], name
    # A rerun of a finished set makes nothing again (each video's record matches) and leaves no checkpoints.
    stamps = {p.name: p.stat().st_mtime_ns for p in again.iterdir()}
    assert run(["stimuli", str(clip), "-o", str(again), *SET]) == 0
    assert {p.name: p.stat().st_mtime_ns for p in again.iterdir()} == stamps
    assert not [p for p in again.iterdir() if p.name.startswith(".vrdream-")]
    # Another set in the same folder (--overwrite: its sheet differs) keeps the videos it shares.
    subset = ["--levels", "edges", "--strengths", "1", *CHEAP, "-q", "--overwrite"]
    assert run(["stimuli", str(clip), "-o", str(again), *subset]) == 0
    now = {p.name: p.stat().st_mtime_ns for p in again.iterdir()}
    assert {k: v for k, v in now.items() if not k.startswith("sheet.png")} == {
        k: v for k, v in stamps.items() if not k.startswith("sheet.png")
    }
    assert now["sheet.png"] != stamps["sheet.png"]


@pytest.mark.slow
def test_a_looped_set_changes_only_the_join_and_its_frames_are_made_again(
    sample_pano: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from vrdream.verify import pick_frames

    frames, join = 6, 2
    clip = make_video(tmp_path / "clip.mp4", load_panorama(sample_pano, SIZE[1]), frames=frames, audio=None)
    one = ["--levels", "edges", "--strengths", "1", *CHEAP, "-q"]
    assert run(["stimuli", str(clip), "-o", str(tmp_path / "plain"), *one]) == 0
    assert run(["stimuli", str(clip), "-o", str(tmp_path / "loop"), *one, "--loop", "--loop-frames", str(join)]) == 0
    plain = read_record(sidecar_path(tmp_path / "plain" / "edges-1.mp4"))["output"]["made"]
    looped = read_record(sidecar_path(tmp_path / "loop" / "edges-1.mp4"))["output"]["made"]
    assert len(looped) == frames  # the second pass is not in the video, only in its first frames
    assert looped[join:] == plain[join:] and all(a != b for a, b in zip(looped[:join], plain[:join]))
    seed = next(s for s in range(100) if pick_frames(1, frames, s) == [0])  # frame 0 needs the second pass
    assert run(["verify", str(tmp_path / "loop" / "edges-1.mp4"), "--rerun", "1", "--rerun-seed", str(seed)]) == 0
    assert "bit-identical" in capsys.readouterr().out
