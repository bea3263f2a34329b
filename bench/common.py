"""Shared by the benchmarks: timing, the machine's matmul ceiling, and result files.

Machines here are noisy, so every benchmark measures its baseline in the same
run and reports ratios next to raw seconds.
"""

from __future__ import annotations

import json
import platform
import resource
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


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


def write_results(name: str, rows: list[dict], notes: str = "") -> Path:
    """Write ``results/<name>.json`` and a markdown table ``results/<name>.md``; return the markdown path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "python": platform.python_version(),
    }
    (RESULTS / f"{name}.json").write_text(json.dumps({"meta": meta, "rows": rows, "notes": notes}, indent=2))
    cols = list(dict.fromkeys(k for r in rows for k in r))
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = [
        f"# bench/{name}.py",
        "",
        f"{meta['when']}, {meta['machine']}",
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
