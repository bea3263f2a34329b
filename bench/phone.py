"""Phone-size photospheres (issue 20): the default ``vrdream dream`` at 2K, 8K and 16K, against today's path.

Each case is ``vrdream dream IN -o OUT`` in a child process (the command a user runs): wall seconds,
the child's own peak RSS (``os.wait4``), and from its progress bar how honest the ETA was: the
largest error of the predicted total (elapsed + remaining) among the predictions made in the bar's
first minute, after its first 5 %, against the bar's real duration.

Inputs: ../shared/data/mars.jpg (2048x1024, a real panorama; the bundled sample where that is
absent), and that image upscaled x4 and x8 with bicubic as the 8K and 16K inputs: they have no real
8K detail, so what the dream adds there is the dream's own. The baseline is the path the README
described for 8K, ``--dream-width 2048``: the dream at 2K, its change bicubic-upsampled onto the 8K raw;
today's plain default at 8K (a face of 2048 for the whole pyramid) was 258 s and 8.9 GB in issue 20 and
is not rerun here (minutes on a shared machine). Quality columns, on the equatorial 45° patches of
:func:`vrdream.sphere.change_spectrum`: the pattern scale (cycles/degree; the 8K dream's against the
2K's, target within 15 %), and the change's power above the 2K dream's Nyquist frequency (2.84
cycles/degree), as a ratio to the baseline's (a x4 upsampled 2K dream has almost none).

``python -m bench.phone`` runs every case. ``--half``: every width halved and ``--pattern-deg 22.5`` given
to every command, so that each dream is planned exactly as at full size (the same octaves and detail
octaves relative to the pattern scale) on a quarter of the pixels; the ratios then stand in for the
full-size ones on a machine too busy for 8K. The 16K case is left out then:
it is there for its memory. ``--keep DIR``: keep the inputs and dreams there (for docs/make_phone.py).
Dreams are written as PNG (JPEG's own noise in raw and dream would swamp the change's finest
frequencies); inputs are JPEG, as phones write them.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from bench.common import MARS, ROOT, write_results
from vrdream.cli import fast_allocator_env
from vrdream.dream import DreamSettings
from vrdream.photosphere import read_photosphere
from vrdream.pipeline import to_tensor
from vrdream.sphere import high_frequency_power, pattern_centroid_cpd

#: (input width, extra flags, label), in the order run: the baseline next to the case it is the baseline of.
CASES: tuple[tuple[int, tuple[str, ...], str], ...] = (
    (2048, (), "default"),
    (8192, ("--dream-width", "2048"), "baseline: --dream-width 2048"),
    (8192, (), "default"),
    (16384, (), "default"),
)
#: The 2K dream's Nyquist frequency in cycles per degree: 2048 px / 360° / 2.
NYQUIST_2K_CPD = 2048 / 360 / 2
#: tqdm's "[elapsed<remaining" in [H:]MM:SS.
_BAR = re.compile(r"\[((?:\d+:)?\d+:\d+)<((?:\d+:)?\d+:\d+)")


def _seconds(clock: str) -> int:
    total = 0
    for part in clock.split(":"):
        total = total * 60 + int(part)
    return total


def eta_error(bar_log: str) -> float | None:
    """The largest relative error of the predicted total among the bar's predictions in its first
    minute (after its first 5 %), against its real duration (the last elapsed); None if too few."""
    pairs = [(_seconds(e), _seconds(r)) for e, r in _BAR.findall(bar_log)]
    if len(pairs) < 3:
        return None
    real = max(e for e, _ in pairs)
    early = [(e, r) for e, r in pairs if 0.05 * real <= e <= 60]
    return max((abs(e + r - real) / real for e, r in early), default=None)


def run_cli(src: Path, dst: Path, flags: tuple[str, ...]) -> dict:
    """``vrdream dream src -o dst flags`` in a child: seconds, its peak RSS, its progress bar's ETA error."""
    cmd = [sys.executable, "-m", "vrdream", "dream", str(src), "-o", str(dst), "--overwrite", *flags]
    t0 = time.perf_counter()
    # the allocator the ``vrdream`` script re-runs itself under (``python -m vrdream`` does not)
    env = fast_allocator_env(dict(os.environ))
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    assert child.stderr is not None
    log = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - t0
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{log[-2000:]}")
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024, "eta_error": eta_error(log)}


def load(path: Path) -> torch.Tensor:
    return to_tensor(read_photosphere(path).pixels).float()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.phone")
    parser.add_argument("--half", action="store_true", help="half the widths, twice the pattern angle")
    parser.add_argument("--keep", type=Path, help="keep inputs and dreams in this folder")
    args = parser.parse_args(argv or [])
    k = 2 if args.half else 1
    extra = ("--pattern-deg", str(DreamSettings().pattern_deg * k)) if args.half else ()
    load_avg = os.getloadavg()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        pixels = Image.open(MARS).convert("RGB")
        inputs: dict[int, Path] = {}
        for full_width, flags, label in CASES:
            if args.half and full_width > 8192:
                continue  # 16K is there for its memory, which a half-size run cannot stand in for
            width = full_width // k
            flags = (*(str(int(f) // k) if f.isdigit() else f for f in flags),)
            if width not in inputs:
                inputs[width] = folder / f"in{width}.jpg"
                pixels.resize((width, width // 2), Image.Resampling.BICUBIC).save(inputs[width], quality=95)
            # PNG: JPEG's own noise in both files would swamp the change's finest frequencies
            out = folder / f"out{width}{'-baseline' if flags else ''}.png"
            res = run_cli(inputs[width], out, (*flags, *extra))
            raw, dream = load(inputs[width]), load(out)
            row = {
                "input": f"{width}x{width // 2}",
                "command": f"vrdream dream IN -o OUT {' '.join((*flags, *extra))}".strip(),
                "case": label,
                "seconds": res["seconds"],
                "peak_rss_mb": res["peak_rss_mb"],
                "eta_error": res["eta_error"] if res["eta_error"] is not None else "",
                "pattern_cpd": pattern_centroid_cpd(raw, dream),
                "hf_power": high_frequency_power(raw, dream, NYQUIST_2K_CPD / k),
                "load_after": round(os.getloadavg()[0], 1),
            }
            del raw, dream
            rows.append(row)
            print(row, flush=True)
            write(rows, args.half, load_avg)  # after every case: a long run cut short keeps what it measured


def write(rows: list[dict], half: bool, load_avg: tuple[float, float, float]) -> None:
    """The rows so far with their ratios (to the baseline at its size, the pattern scale to the 2K dream's)."""
    two_k = rows[0]
    baseline = next((r for r in rows if r["case"].startswith("baseline")), None)
    for r in rows:
        if baseline is not None and r["input"] == baseline["input"]:
            r["time_vs_baseline"] = r["seconds"] / baseline["seconds"]
            r["rss_vs_baseline"] = r["peak_rss_mb"] / baseline["peak_rss_mb"]
            r["hf_vs_baseline"] = r["hf_power"] / max(baseline["hf_power"], 1e-30)
        if r is not two_k:
            r["pattern_vs_2k"] = r["pattern_cpd"] / two_k["pattern_cpd"]
    notes = (
        ("Half size (--half): widths halved, pattern angle doubled. " if half else "")
        + f"Input ../{MARS.relative_to(ROOT.parent)}, and it x4 / x8 bicubic (no real 8K detail). "
        f"Threads: torch's default ({torch.get_num_threads()}). Load average when started: "
        f"{' '.join(f'{x:.1f}' for x in load_avg)}; load_after: the 1-minute load average when each case ended "
        "(a machine shared by six engineers: seconds and the ETA depend on the load, compare ratios; peak RSS "
        "does not). Targets (2 idle cores): 8192x4096 <= 60 s and <= 4 GB; 16384x8192 <= 8 GB; pattern_vs_2k "
        "within 0.85-1.15; eta_error <= 0.25. Issue 20's default 8K of the code before it: 258 s, 8.9 GB "
        "(that code is gone; the baseline here is the --dream-width path, measured in the same run)."
    )
    write_results("phone_half" if half else "phone", rows, notes)


if __name__ == "__main__":
    main(sys.argv[1:])
