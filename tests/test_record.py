"""The provenance record (vrdream.record) of every output, and ``vrdream verify`` against it."""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from videos import load_panorama, need_codec

from vrdream.cli import main
from vrdream.engine import EngineOptions
from vrdream.fade import FadeSettings
from vrdream.presets import get_preset
from vrdream.provenance import file_sha256
from vrdream.record import (
    from_json,
    pixels_sha256,
    precision_name,
    read_record,
    sidecar_path,
    to_json,
)
from vrdream.sphere import SphereOptions
from vrdream.stimuli import StimulusSettings
from vrdream.video import HALLUCINATION_MACHINE
from vrdream.videoio import EncodeSettings


def run(argv: list[str]) -> int:
    """``vrdream ARGV`` as a shell runs it: the record's command line is the process's (``sys.argv``)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", ["vrdream", *argv])
        return main(argv)


@pytest.fixture()
def stills(tmp_path: Path, sample_pano: Path) -> tuple[Path, Path]:
    pano = load_panorama(sample_pano, 128)
    raw, dream = tmp_path / "raw.png", tmp_path / "dream.png"
    Image.fromarray((pano * 255).round().astype(np.uint8)).save(raw)
    Image.fromarray((pano[::-1] * 255).round().astype(np.uint8)).save(dream)
    return raw, dream


@pytest.mark.parametrize(
    "value",
    [
        EngineOptions(get_preset("hallucination-machine").settings, preset="hallucination-machine"),
        HALLUCINATION_MACHINE,
        EncodeSettings(codec="mpeg4", crf=None, options=(("qscale", "2"),)),
        SphereOptions(dream_width=512),
        StimulusSettings(levels=("parts",), strengths=(0.25,), fade=True, loop=True, width=256),
        FadeSettings(seconds=2.5, fps=Fraction(30000, 1001)),
    ],
)
def test_settings_come_back_from_their_json(value: object) -> None:
    data = json.loads(json.dumps(to_json(value)))
    assert from_json(type(value), data) == value


def test_a_fade_is_recorded_and_verify_names_what_broke(
    stills: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    raw, dream = stills
    out = tmp_path / "fade.mp4"
    assert run(["fade", str(raw), str(dream), "-o", str(out), "--seconds", "0.25", "--fps", "24", "-q"]) == 0
    record = read_record(sidecar_path(out))
    recipe = record["recipe"]
    assert recipe["kind"] == "fade" and recipe["command"][:2] == ["vrdream", "fade"]
    assert [i["sha256"] for i in recipe["inputs"]] == [file_sha256(raw), file_sha256(dream)]
    assert recipe["settings"]["fade"]["fps"] == "24/1"
    assert len(record["output"]["frames"]) == len(record["output"]["made"]) == 6
    assert run(["verify", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"ok {out}")

    # --rerun on a kind that cannot be re-made says so and still checks the hashes
    assert run(["verify", str(tmp_path), "--rerun", "1"]) == 0
    assert "hashes checked only" in capsys.readouterr().out

    # the record changed: its recipe no longer matches its own hash
    side = sidecar_path(out)
    text = side.read_text()
    side.write_text(text.replace('"seconds": 0.25', '"seconds": 0.5'))
    assert run(["verify", str(out)]) == 2
    assert "record was changed" in capsys.readouterr().err
    side.write_text(text)

    # one byte of the output changed
    data = bytearray(out.read_bytes())
    data[-100] ^= 0xFF
    out.write_bytes(bytes(data))
    assert run(["verify", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(out) in err[0] and "SHA-256" in err[0]


def test_verify_without_a_record_is_one_line(stills: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    assert run(["verify", str(stills[0])]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(stills[0]) in err[0] and "no vrdream record" in err[0]


def test_the_recorded_precision_names_where_reduced_precision_began() -> None:
    assert precision_name(None, "blocks.2") == "fp32"
    assert precision_name(torch.bfloat16, "blocks.2") == "bf16 from blocks.2"
    assert precision_name(torch.float16) == "fp16"  # super-resolution: reduced throughout


@pytest.mark.slow
def test_a_dreamed_still_has_its_record(stills: tuple[Path, Path], tmp_path: Path) -> None:
    from vrdream.backbones import weights_files

    raw, _ = stills
    out = tmp_path / "dream.jpg"
    argv = ["dream", str(raw), "-o", str(out), "--steps", "1", "--octaves", "1", "--detail-steps", "0"]
    assert run([*argv, "--device", "cpu", "--seed", "5", "-q"]) == 0
    record = read_record(sidecar_path(out))
    recipe = record["recipe"]
    assert recipe["kind"] == "dream" and recipe["command"] == ["vrdream", *argv, "--device", "cpu", "--seed", "5", "-q"]
    assert recipe["seeds"] == {"dream": 5} and recipe["device"] == "cpu" and recipe["precision"] == "fp32"
    engine = from_json(EngineOptions, recipe["settings"]["request"]["engine"])
    assert engine.settings.seed == 5 and engine.settings.objective == "blocks.3" and engine.preset == "patterns"
    (path,) = weights_files("efficientnet_lite0")
    assert recipe["weights"] == [
        {"role": "backbone", "name": "efficientnet_lite0", "files": [{"name": path.name, "sha256": file_sha256(path)}]}
    ]
    assert recipe["inputs"] == [{"path": "raw.png", "name": "raw.png", "sha256": file_sha256(raw)}]
    assert {"vrdream", "python", "torch", "av", "numpy"} <= set(recipe["versions"])
    assert "ffmpeg" not in recipe["versions"]  # a still is not encoded by FFmpeg
    assert record["output"]["sha256"] == file_sha256(out)
    assert record["output"]["frames"] == [pixels_sha256(cv2.imread(str(out), cv2.IMREAD_UNCHANGED))]
    assert run(["verify", str(out)]) == 0


@pytest.mark.slow
def test_an_upscale_records_the_sr_weights(stills: tuple[Path, Path], tmp_path: Path) -> None:
    from vrdream.srmodels import weights_files

    raw, _ = stills
    out = tmp_path / "big.png"
    assert (
        run(["upscale", str(raw), "-o", str(out), "--upscale", "2", "--sr", "waifu2x-photo", "--device", "cpu", "-q"])
        == 0
    )
    recipe = read_record(sidecar_path(out))["recipe"]
    assert recipe["kind"] == "upscale" and recipe["settings"]["upscale"]["factor"] == 2
    files = [{"name": p.name, "sha256": file_sha256(p)} for p in weights_files("waifu2x-photo")]
    assert recipe["weights"] == [{"role": "sr", "name": "waifu2x-photo", "files": files}] and len(files) == 2
    assert run(["verify", str(out)]) == 0


@pytest.mark.slow
def test_a_video_is_recorded_and_its_frames_are_made_again_bit_for_bit(
    tmp_path: Path, sample_pano: Path, capsys: pytest.CaptureFixture
) -> None:
    from videos import make_video

    clip = make_video(tmp_path / "clip.mp4", load_panorama(sample_pano, 128), frames=7, audio=None)
    out = tmp_path / "v.mp4"
    cheap = ["--steps", "1", "--octaves", "1", "--steps-next", "1", "--device", "cpu", "-q"]
    # In segments of 3 frames, each crossfading in over the 3 before: every frame but the first is a mix.
    threads = torch.get_num_threads()
    try:
        assert run(["video", str(clip), "-o", str(out), *cheap, "--segment-frames", "3", "--threads", "1"]) == 0
    finally:
        torch.set_num_threads(threads)  # --threads sets it for the process
    record = read_record(sidecar_path(out))
    assert record["recipe"]["kind"] == "video" and len(record["output"]["made"]) == 7
    assert record["recipe"]["threads"] == 1
    # Re-made with the recorded thread count, whatever this process's.
    assert run(["verify", str(out), "--rerun", "7", "--rerun-seed", "1"]) == 0
    assert "bit-identical" in capsys.readouterr().out


@pytest.mark.parametrize("suffix,codec", [(".mkv", "libx264"), (".webm", "libvpx-vp9")])
def test_matroska_outputs_carry_the_recipe_tag(
    stills: tuple[Path, Path], tmp_path: Path, suffix: str, codec: str, capsys: pytest.CaptureFixture
) -> None:
    """The recipe's hash survives the copy into Matroska (whose tag names are capitals), so verify passes."""
    need_codec(codec)
    raw, dream = stills
    out = tmp_path / f"fade{suffix}"
    argv = ["fade", str(raw), str(dream), "-o", str(out), "--seconds", "0.25", "--codec", codec, "-q"]
    assert run(argv) == 0
    assert run(["verify", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"ok {out}")
