"""Shared by the benchmarks: timing, the machine's matmul ceiling, and result files.

Machines here are noisy, so every benchmark measures its baseline in the same
run and reports ratios next to raw seconds.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).resolve().parent.parent
#: The 2048x1024 Mars panorama in ../shared/data where that is present (a real input at a phone's 2K),
#: else the bundled 1536x768 sample.
MARS = next(
    p for p in (ROOT.parent / "shared" / "data" / "mars.jpg", ROOT / "vrdream" / "samples" / "mars.jpg") if p.is_file()
)


def best_of(
    fn: Callable[[], object], repeat: int = 3, warmup: int = 1, sync: Callable[[], None] = lambda: None
) -> float:
    """Fastest wall-clock seconds of ``repeat`` calls after ``warmup`` calls (min is the least noisy)."""
    for _ in range(warmup):
        fn()
        sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return min(times)


def matmul_flops(device: str = "cpu", dtype: object | None = None, n: int = 2048) -> float:
    """Measured dense-matmul FLOP/s on ``device`` with the current thread count: the ceiling to compare with."""
    import torch

    dtype = dtype or torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    seconds = best_of(lambda: a @ b, repeat=5, sync=sync)
    return 2 * n**3 / seconds


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


#: The ``vrdream`` console script of this Python's environment (``pip install -e .`` puts it there).
VRDREAM = Path(sys.executable).parent / "vrdream"


def user_env(**extra: str) -> dict[str, str]:
    """This environment without ``make bench``'s allocator variables: a child ``vrdream`` then chooses its
    allocator as it does in a user's shell. ``extra``: variables to set."""
    drop = ("LD_PRELOAD", "MALLOC_CONF", "VRDREAM_ALLOCATOR", "GLIBC_TUNABLES")
    return {k: v for k, v in os.environ.items() if k not in drop} | extra


#: Runs argv[1:] and prints its wall seconds, CPU seconds and peak RSS from its own ``wait4`` usage.
_LAUNCHER = """
import json, os, subprocess, sys, time
t0 = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
seconds = time.perf_counter() - t0
child.returncode = os.waitstatus_to_exitcode(status)
cpu = usage.ru_utime + usage.ru_stime
print(json.dumps({"s": seconds, "cpu s": cpu, "peak MB": usage.ru_maxrss / 1024, "code": child.returncode}))
"""


def run_child(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> dict[str, float]:
    """Run ``cmd`` to its end: its wall seconds, CPU seconds (user + system) and peak RSS in MB (a re-exec
    included), from its own ``wait4`` usage.

    Started by a small launcher process, not by this one: Linux counts the memory of the process a child
    is forked from into the child's peak RSS, and a benchmark that has loaded torch is big.
    """
    res = subprocess.run([sys.executable, "-c", _LAUNCHER, *cmd], env=env, cwd=cwd, capture_output=True, text=True)
    if res.returncode != 0 or not res.stdout.strip():
        raise RuntimeError(f"{' '.join(cmd)}: the launcher failed: {res.stderr[-2000:]}")
    out = json.loads(res.stdout.splitlines()[-1])
    if out.pop("code") != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {res.stderr[-2000:]}")
    return out


def cpu_description() -> str:
    """The CPU's model, the CPUs this process may use and, on x86, its widest vector units, from /proc/cpuinfo
    (Linux; elsewhere the platform's word). Results from different machines of the same kind differ most
    there: oneDNN runs bf16 only with AVX-512 (fast with AVX-512 BF16 or AMX), and where it does the SR
    nets' ``auto`` precision is bf16 (:func:`vrdream.upscale.sr_dtype`)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return f"{platform.processor() or platform.machine()}, {cpus} CPUs"
    fields = {k.strip(): v for k, v in (line.split(":", 1) for line in info.splitlines() if ":" in line)}
    model = " ".join(fields.get("model name", platform.machine()).split())
    if "flags" not in fields:  # not x86: no vector-unit flags to read
        return f"{model}, {cpus} CPUs"
    flags = set(fields["flags"].split())
    units = [
        name
        for flag, name in (("avx2", "AVX2"), ("avx512f", "AVX-512"), ("avx512_bf16", "BF16"), ("amx_bf16", "AMX"))
        if flag in flags
    ]
    return f"{model}, {cpus} CPUs, {' '.join(units) or 'no AVX2'}"


def write_results(name: str, rows: list[dict], notes: str = "") -> Path:
    """Write ``results/<name>.json`` and a markdown table ``results/<name>.md``; return the markdown path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu": cpu_description(),
        "python": platform.python_version(),
        "allocator": "jemalloc" if "jemalloc" in os.environ.get("LD_PRELOAD", "") else "system",
    }
    (RESULTS / f"{name}.json").write_text(json.dumps({"meta": meta, "rows": rows, "notes": notes}, indent=2))
    cols = list(dict.fromkeys(k for r in rows for k in r))
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = [
        f"# bench/{name}.py",
        "",
        f"{meta['when']}, {meta['machine']} ({meta['cpu']}), allocator {meta['allocator']}",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    if notes:
        lines += ["", notes]
    md = RESULTS / f"{name}.md"
    md.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return md
