"""``vrdream batch`` in one process: one job per input, a bad file fails only its own job, the manifest
says what happened, a second run redoes nothing, and Ray is never imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from PIL import Image
from videos import load_panorama, make_video

from vrdream.batch import BatchJob, BatchRequest, batch_files, expand_inputs, output_names
from vrdream.cli import main
from vrdream.quantize import to_uint8

#: The cheapest dream there is: one octave, one step, on the CPU (inputs this small get no detail octaves).
FEW = ["--steps", "1", "--octaves", "1", "--device", "cpu", "-q"]


def make_inputs(folder: Path, sample_pano: Path) -> list[Path]:
    """Three small, different 2:1 stills (the sample turned in yaw) and a corrupt JPEG, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    pano = to_uint8(load_panorama(sample_pano, 128))
    stills = []
    for i in range(3):
        path = folder / f"pano{i}.png"
        Image.fromarray(np.roll(pano, 40 * i, axis=1)).save(path)
        stills.append(path)
    bad = folder / "broken.jpg"
    Image.fromarray(pano).save(bad, quality=90)
    bad.write_bytes(bad.read_bytes()[:300])  # a JPEG cut off in its header
    return [*stills, bad]


def dream_singly(stills: list[Path], folder: Path) -> dict[str, np.ndarray]:
    """Each still dreamed on its own by ``vrdream dream`` (the single-process reference), as pixels by name."""
    for path in stills:
        assert main(["dream", str(path), "-o", str(folder / path.name), *FEW]) == 0
    return {p.name: pixels(folder / p.name) for p in stills}


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def manifest_rows(outdir: Path) -> dict[str, dict]:
    """The manifest's rows by input file name."""
    rows = json.loads((outdir / "vrdream-batch.json").read_text())["jobs"]
    return {Path(r["input"]).name: r for r in rows}


def check_batch_result(outdir: Path, reference: dict[str, np.ndarray], bad: Path) -> dict[str, dict]:
    """Every good input's output is the single-process dream, pixel for pixel, and the bad one is a failed
    row with its one-line error; returns the rows."""
    rows = manifest_rows(outdir)
    assert set(rows) == {*reference, bad.name}
    for name, expected in reference.items():
        assert rows[name]["status"] == "done" and rows[name]["error"] is None
        assert rows[name]["output"] == str(outdir / name) and rows[name]["seconds"] >= 0
        np.testing.assert_array_equal(pixels(outdir / name), expected, err_msg=name)
    failed = rows[bad.name]
    assert failed["status"] == "failed" and bad.name in failed["error"] and "\n" not in failed["error"]
    assert not (outdir / bad.name).exists()
    return rows


def check_second_run_does_nothing(argv: list[str], outdir: Path, rows: dict[str, dict], bad: Path) -> None:
    """Run the same batch again: the finished jobs keep their rows and their outputs are not written again."""
    stamps = {name: (outdir / name).stat().st_mtime_ns for name in rows if name != bad.name}
    assert main(argv) == 2  # the bad file fails again
    again = manifest_rows(outdir)
    for name, stamp in stamps.items():
        assert again[name] == rows[name], name  # same finish time and seconds: not run again
        assert (outdir / name).stat().st_mtime_ns == stamp, name
    assert again[bad.name]["status"] == "failed" and again[bad.name]["finished"] >= rows[bad.name]["finished"]


# --------------------------------------------------------------------------- naming, inputs


def test_output_names_keep_the_input_name_and_clashing_ones_their_folders(tmp_path: Path) -> None:
    paths = [
        tmp_path / "trip" / "day1" / "x.jpg",
        tmp_path / "trip" / "day2" / "deep" / "X.JPG",  # the same name on a case-insensitive disk
        tmp_path / "trip" / "y.tif",  # a suffix vrdream does not write: .png appended
        tmp_path / "trip" / "y.png",
        tmp_path / "clip.avi",  # a video container vrdream does not write: .mp4 appended
        tmp_path / "clip.mkv",
        tmp_path / "clip.mp4",
    ]
    assert output_names(paths) == [
        Path("day1/x.jpg"),
        Path("day2/deep/X.JPG"),
        Path("y.tif.png"),
        Path("y.png"),
        Path("clip.avi.mp4"),
        Path("clip.mkv"),
        Path("clip.mp4"),
    ]


def test_inputs_are_files_folders_and_globs_each_once(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    for name in ("a.jpg", "b.PNG", "c.mp4", "notes.txt", ".hidden.jpg", "sub/d.jpg"):
        (folder / name).write_bytes(b"x")
    found = expand_inputs([folder, str(folder / "*.jpg"), folder / "notes.txt", str(tmp_path / "none*.jpg")])
    assert [(p.name, problem) for p, problem in found] == [
        ("a.jpg", None),
        ("b.PNG", None),
        ("c.mp4", None),
        ("notes.txt", None),  # named on its own: tried whatever its suffix
        ("none*.jpg", "matches no files"),
    ]


def test_a_finished_job_is_recognised_only_with_the_same_settings_and_input(tmp_path: Path) -> None:
    out = tmp_path / "o.jpg"
    job = BatchJob("/in/a.jpg", str(out), "still", "settings A")
    done = BatchJob("/in/a.jpg", str(out), "still", "settings A", "done", 1.0, None, "2026-01-01T00:00:00+00:00")
    assert not job.done_as(done)  # no output yet
    out.write_bytes(b"x")
    assert job.done_as(done)
    assert not job.done_as(BatchJob("/in/a.jpg", str(out), "still", "settings B", "done"))
    assert not job.done_as(BatchJob("/in/b.jpg", str(out), "still", "settings A", "done"))
    assert not job.done_as(BatchJob("/in/a.jpg", str(out), "still", "settings A", "failed"))


def test_workers_need_ray_and_say_how_to_install_it(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['ray'] = None\n"  # as if Ray were not installed
        "from vrdream.cli import main\n"
        f"sys.exit(main(['batch', {str(tmp_path)!r}, '-o', {str(tmp_path / 'out')!r}, '--workers', '2']))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env())
    assert res.returncode == 2
    assert res.stderr.strip() == "vrdream: error: --workers 2 needs Ray: pip install 'vrdream[ray]'"
    assert not (tmp_path / "out").exists()


def test_zero_workers_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["batch", str(tmp_path), "-o", str(tmp_path / "out"), "--workers", "0"]) == 2
    assert "--workers 0" in capsys.readouterr().err


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


# --------------------------------------------------------------------------- whole batches


@pytest.mark.slow
def test_a_batch_with_a_bad_file(tmp_path: Path, sample_pano: Path) -> None:
    """Four stills, one corrupt: three outputs equal to single runs, the bad one recorded, exit 2, no Ray;
    the second run does no work for the three."""
    inputs = make_inputs(tmp_path / "in", sample_pano)
    reference = dream_singly(inputs[:3], tmp_path / "single")
    out = tmp_path / "out"
    argv = ["batch", str(tmp_path / "in"), "-o", str(out), *FEW]
    code = f"import sys; from vrdream.cli import main; rc = main({argv!r}); assert 'ray' not in sys.modules; exit(rc)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env())
    assert res.returncode == 2, res.stderr
    errors = [ln for ln in res.stderr.splitlines() if "error" in ln]
    assert len(errors) == 1 and errors[0].startswith(f"vrdream: error: {inputs[3]}: "), res.stderr
    rows = check_batch_result(out, reference, inputs[3])
    check_second_run_does_nothing(argv, out, rows, inputs[3])


@pytest.mark.slow
def test_an_interrupted_batch_resumes_with_the_jobs_not_finished(
    tmp_path: Path, sample_pano: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vrdream.batch

    stills = make_inputs(tmp_path / "in", sample_pano)[:3]
    real = vrdream.batch.dream_file
    calls: list[str] = []

    def interrupted_at_the_second(src: str, *args: object, **kw: object) -> Path:
        calls.append(Path(src).name)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the second still is being dreamed
        return real(src, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(vrdream.batch, "dream_file", interrupted_at_the_second)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        batch_files(stills, out, few_request(), quiet=True)
    rows = manifest_rows(out)
    assert [rows[p.name]["status"] for p in stills] == ["done", "pending", "pending"]
    stamp = (out / stills[0].name).stat().st_mtime_ns

    monkeypatch.setattr(vrdream.batch, "dream_file", real)
    result = batch_files(stills, out, few_request(), quiet=True)
    assert [j.status for j in result.jobs] == ["done"] * 3
    assert result.written == tuple(str(out / p.name) for p in stills[1:])
    assert (out / stills[0].name).stat().st_mtime_ns == stamp
    assert manifest_rows(out)[stills[0].name] == rows[stills[0].name]


@pytest.mark.slow
def test_a_batch_takes_videos_and_refuses_still_options_for_them(tmp_path: Path, sample_pano: Path) -> None:
    from vrdream.videoio import probe

    inputs = make_inputs(tmp_path / "in", sample_pano)
    video = make_video(tmp_path / "in" / "clip.mp4", load_panorama(sample_pano, 128), frames=3, audio=None)
    out = tmp_path / "out"
    assert main(["batch", str(inputs[0]), str(video), "-o", str(out), *FEW]) == 0
    assert probe(out / "clip.mp4").frames == 3
    assert (out / inputs[0].name).is_file()

    assert main(["batch", str(video), "-o", str(tmp_path / "flat"), "--flat", *FEW]) == 2
    (row,) = manifest_rows(tmp_path / "flat").values()
    assert row["error"] == f"{video}: --flat: options for stills, not for a video"


def few_request() -> BatchRequest:
    """:data:`FEW` as an API request."""
    from vrdream.engine import EngineOptions
    from vrdream.pipeline import DreamRequest
    from vrdream.presets import DEFAULT_PRESET, get_preset

    settings = get_preset(DEFAULT_PRESET).settings.replace(steps=1, octaves=1, detail_steps=0, device="cpu")
    return BatchRequest(DreamRequest(engine=EngineOptions(settings)))
