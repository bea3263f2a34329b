"""Dream speed (issue 15): today's dream path against the new defaults, measured in the same run.

Two cases, each dreamed by both paths ``REPEATS`` times, interleaved (A B A B): the machine's state drifts
less between neighbouring runs than across a benchmark, and the ratio is of each path's fastest run.

- ``still``: ``vrdream dream IN -o OUT`` at the default preset (:func:`vrdream.pipeline.dream_file`, what
  the command runs once its engine is built) on ../shared/data/mars.jpg (2048x1024; the bundled sample where
  that is absent), with its seam score (../shared/tools/seam_score.py, where present) and mean change;
- ``video``: the later frames of bench/video.py's 1024x512 clip (carried detail and the short dream, flow
  included), their mean seconds and mean change.

Today's path is the same code with the network as loaded (:data:`PATHS`:
``create_backbone(fold_batchnorm=False)``): it shares every other change (geometry, flow, allocator). Both
cases also run as child processes of the code before issue 15's dream work ("before": a temporary copy (git archive)
of :data:`BASE_COMMIT`, or the checkout ``BENCH_SPEED_BASE`` names; ``BENCH_SPEED_BASE=none`` leaves these rows
out) and of this checkout ("now"), interleaved: the still as a whole ``vrdream dream IN -o OUT`` command, the
video's later frames through bench/video.py's ``run`` (the same names in both trees). CPU time is this
process's user + system time over a run, so CPU / wall says how busy the two cores were; the load average
(1 min) is read before each run: other work on the machine shows there.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.common import MARS, ROOT, run_child, user_env, write_results
from bench.video import FRAMES
from bench.video import SAMPLE as VIDEO_SAMPLE
from bench.video import run as run_video
from vrdream.backbones import create_backbone
from vrdream.dream import Dreamer
from vrdream.engine import EngineOptions
from vrdream.pipeline import DreamRequest, dream_file
from vrdream.presets import DEFAULT_PRESET, get_preset
from vrdream.tensors import to_tensor
from vrdream.video import VideoSettings
from vrdream.videoio import iter_frames

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from videos import load_panorama, make_video  # noqa: E402  (the tests' synthetic 360° clip maker)

SHARED = ROOT.parent / "shared"
SEAM_TOOL = SHARED / "tools" / "seam_score.py"
STILL_CASE = "still 2048x1024" if "shared" in str(MARS) else f"still {MARS.name}"
REPEATS = 2
VIDEO_WIDTH = 1024


@dataclass(frozen=True)
class DreamPath:
    """One way to run the same dream: the network as loaded (today's) or prepared for the CPU (issue 15)."""

    name: str
    #: Fold the BatchNorms and fuse each convolution with its ReLU6.
    prepared: bool

    def dreamer(self) -> Dreamer:
        settings = get_preset(DEFAULT_PRESET).settings
        backbone = create_backbone(
            settings.backbone,
            channels_last=settings.channels_last,
            fold_batchnorm=self.prepared,
        )
        return Dreamer(settings, backbone=backbone)


#: Today's path (before issue 15) and the new defaults.
PATHS = (DreamPath("today", prepared=False), DreamPath("new", prepared=True))


def timed(fn: Callable[[], object]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of this process, 1-minute load average before) of one call."""
    load = os.getloadavg()[0]
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    fn()
    wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
    return wall, r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime, load


def seam(raw: Path, dream: Path) -> dict:
    """seam_score.py's {"score", "mean_change", ...}; without ../shared, the mean change only."""
    if SEAM_TOOL.is_file():
        cmd = [sys.executable, str(SEAM_TOOL), str(raw), str(dream), "--json"]
        return json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    from vrdream.photosphere import read_photosphere

    a, b = (to_tensor(read_photosphere(p).pixels) for p in (raw, dream))
    return {"score": None, "mean_change": float((a - b).abs().mean())}


def still_rows(dreamers: dict[str, Dreamer], tmp: Path) -> list[dict]:
    rows = []
    for _ in range(REPEATS):
        for path in PATHS:
            out = tmp / f"still-{path.name}.png"
            request = DreamRequest(engine=EngineOptions(dreamers[path.name].settings))
            wall, cpu, load = timed(
                lambda: dream_file(MARS, out, request, overwrite=True, quiet=True, dreamer=dreamers[path.name])
            )
            score = seam(MARS, out)
            rows.append(
                {
                    "case": STILL_CASE,
                    "path": path.name,
                    "s": wall,
                    "cpu_s": cpu,
                    "cpu_per_wall": cpu / wall,
                    "load1": load,
                    "seam_score": score["score"],
                    "mean_change": score["mean_change"],
                }
            )
            print(rows[-1], flush=True)
    return rows


def video_rows(dreamers: dict[str, Dreamer], tmp: Path) -> list[dict]:
    clip = make_video(tmp / "clip.mp4", load_panorama(VIDEO_SAMPLE, VIDEO_WIDTH), frames=FRAMES)
    raws = [to_tensor(f) for f in iter_frames(clip)]
    rows = []
    for _ in range(REPEATS):
        for path in PATHS:
            load = os.getloadavg()[0]
            r0 = resource.getrusage(resource.RUSAGE_SELF)
            times, dreams = run_video(raws, dreamers[path.name], VideoSettings())
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            later = sum(times[1:]) / (len(times) - 1)
            cpu = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) * later / sum(times)
            change = sum(float((d - r).abs().mean()) for d, r in zip(dreams[1:], raws[1:])) / (len(raws) - 1)
            rows.append(
                {
                    "case": f"video later frame {VIDEO_WIDTH}x{VIDEO_WIDTH // 2}",
                    "path": path.name,
                    "s": later,
                    "cpu_s": cpu,
                    "cpu_per_wall": cpu / later,
                    "load1": load,
                    "seam_score": None,
                    "mean_change": change,
                }
            )
            print(rows[-1], flush=True)
    return rows


#: bench/video.py's later frames in a child process whose ``sys.path`` starts with a checkout's code: argv[1] is
#: where to write ``{"s", "mean_change"}``, argv[2] the clip's width.
VIDEO_CHILD = """
import json, sys, tempfile
from pathlib import Path
from bench.video import FRAMES, SAMPLE, run
from videos import load_panorama, make_video
from vrdream.dream import Dreamer
from vrdream.presets import DEFAULT_PRESET, get_preset
from vrdream.tensors import to_tensor
from vrdream.video import VideoSettings
from vrdream.videoio import iter_frames
with tempfile.TemporaryDirectory() as tmp:
    clip = make_video(Path(tmp) / "c.mp4", load_panorama(SAMPLE, int(sys.argv[2])), frames=FRAMES)
    raws = [to_tensor(f) for f in iter_frames(clip)]
times, dreams = run(raws, Dreamer(get_preset(DEFAULT_PRESET).settings), VideoSettings())
change = sum(float((d - r).abs().mean()) for d, r in zip(dreams[1:], raws[1:])) / (len(raws) - 1)
Path(sys.argv[1]).write_text(json.dumps({"s": sum(times[1:]) / (len(times) - 1), "mean_change": change}))
"""


def tree_rows(trees: dict[str, Path], tmp: Path) -> list[dict]:
    """The still as a whole command and the video's later frames, each in a child process of each tree's code."""
    rows = []
    for _ in range(REPEATS):
        for name, tree in trees.items():
            out = tmp / f"still-{name}.png"
            # what the `vrdream` console script runs (vrdream.cli:entry, in both trees)
            script = "from vrdream.cli import entry; entry()"
            argv = [sys.executable, "-c", script, "dream", str(MARS), "-o", str(out), "--overwrite"]
            load = os.getloadavg()[0]
            # as a user's shell runs it: the command picks its own allocator
            run = run_child(argv, env=user_env(PYTHONPATH=str(tree)), cwd=tmp)
            score = seam(MARS, out)
            case = f"{STILL_CASE}, whole command"
            rows.append(
                {
                    "case": case,
                    "path": name,
                    "s": run["s"],
                    "cpu_s": run["cpu s"],
                    "cpu_per_wall": run["cpu s"] / run["s"],
                    "load1": load,
                    "seam_score": score["score"],
                    "mean_change": score["mean_change"],
                }
            )
            print(rows[-1], flush=True)
            result = tmp / f"video-{name}.json"
            load = os.getloadavg()[0]
            env = dict(os.environ, PYTHONPATH=f"{tree}:{tree / 'tests'}")  # this process's allocator
            run = run_child([sys.executable, "-c", VIDEO_CHILD, str(result), str(VIDEO_WIDTH)], env=env, cwd=tmp)
            video = json.loads(result.read_text())
            rows.append(
                {
                    "case": f"video later frame {VIDEO_WIDTH}x{VIDEO_WIDTH // 2}, child process",
                    "path": name,
                    "s": video["s"],
                    "load1": load,
                    "seam_score": None,
                    "mean_change": video["mean_change"],
                }
            )
            print(rows[-1], flush=True)
    return rows


def ratios(rows: list[dict], old: str, new: str) -> list[dict]:
    """Per case that has both paths: path ``new``'s fastest run against ``old``'s, and the change in look."""
    out = []
    for case in dict.fromkeys(r["case"] for r in rows):
        runs = {name: [r for r in rows if r["case"] == case and r["path"] == name] for name in (old, new)}
        if not all(runs.values()):
            continue
        a, b = (min(runs[name], key=lambda r: r["s"]) for name in (old, new))
        cpu = {"cpu_s": b["cpu_s"] / a["cpu_s"]} if "cpu_s" in a else {}
        out.append(
            {
                "case": case,
                "path": f"{new} / {old}",
                "s": b["s"] / a["s"],
                **cpu,
                "speedup": a["s"] / b["s"],
                "seam_score": b["seam_score"],
                "mean_change": b["mean_change"] / a["mean_change"],
            }
        )
    return out


#: The last commit before issue 15's dream work: "before" runs its code where ``BENCH_SPEED_BASE`` names none.
BASE_COMMIT = "9bf1f12"


@contextlib.contextmanager
def base_tree() -> Iterator[Path | None]:
    """The code to run as "before": ``BENCH_SPEED_BASE`` (``none``: no before/now rows), else
    :data:`BASE_COMMIT`'s files in a temporary folder (``git archive``: the checkout's git metadata is never
    touched, so a benchmark killed part-way leaves at most that folder), else None where this is no git
    checkout that has it (or no git)."""
    given = os.environ.get("BENCH_SPEED_BASE")
    if given:
        yield None if given == "none" else Path(given).resolve()
        return
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", BASE_COMMIT], capture_output=True)
    except FileNotFoundError:  # no git on this machine
        archive = None
    if archive is None or archive.returncode:
        print(
            f"bench/speed.py: no before/now rows: {ROOT} is no git checkout with {BASE_COMMIT} (or git is missing)",
            flush=True,
        )
        yield None
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        yield Path(tmp)


def main() -> None:
    dreamers = {p.name: p.dreamer() for p in PATHS}
    with base_tree() as base, tempfile.TemporaryDirectory() as tmp:
        rows = still_rows(dreamers, Path(tmp)) + video_rows(dreamers, Path(tmp))
        if base:
            rows += tree_rows({"before": base, "now": ROOT}, Path(tmp))
    notes = (
        f"Input {MARS.name} ({'../shared/data' if 'shared' in str(MARS) else 'the bundled sample'}); "
        f"{torch.get_num_threads()} threads; fastest of {REPEATS} interleaved runs per path. Ratio rows: "
        "s and cpu_s are new / today (speedup = today / new), mean_change is new / today (target within "
        "0.9-1.1), seam_score is the new path's (target <= 1.25). Today: the network as loaded (BatchNorms, "
        "ReLU6 on its own); new: BatchNorms folded, each "
        "convolution fused with its ReLU6. Passes side by side (concurrent_passes) are not in either path: "
        "on idle cores they gained nothing and moved the x4 sample's seam score to 1.252. "
        "torch.compile (inductor, this CPU, Debian gcc) was measured and left out: its first compile of "
        "the network's forward and backward for one view size took 382 s (load ~8), and the compiled step "
        "was slower than the folded eager one (2.7 vs 1.7 CPU s for six 327 px views)."
    )
    if base:
        notes += (
            f' "before": the code of {os.environ.get("BENCH_SPEED_BASE") or BASE_COMMIT}, "now": this checkout, '
            "each in a child process "
            "(the still: the whole command, start-up and file I/O included; the video: later frames as above)."
        )
    write_results("speed", rows + ratios(rows, "today", "new") + ratios(rows, "before", "now"), notes)


if __name__ == "__main__":
    main()
