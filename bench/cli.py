"""Start-up of the command line: wall time and peak RSS of ``vrdream --help``, every ``<cmd> --help``,
``vrdream info`` (the sample) and ``vrdream models``, each run as a user runs it (the installed console
script, in a fresh process), against baselines measured in the same run:

- ``python -c "import torch"`` (what every command paid before it parsed its flags) and ``python -c pass``
  (the interpreter's own start, the floor);
- the previous code, when ``BENCH_CLI_BASE`` names a checkout of it (e.g. ``git worktree add --detach
  ../vrdream-base main``): the same command lines with ``PYTHONPATH`` pointing there, one of each kind
  (``--help``, ``dream --help``, ``info``, ``models``: it loaded torch first whatever the command, and
  on a shared 2-core machine each such run takes many seconds).

The goal (issue 15): each of these ≤ 0.5 s and ≤ 150 MB. Time is the best of ``BENCH_CLI_REPEAT`` runs
(default 5); RSS is the process's peak (``wait4``), an allocator re-exec included. The allocator variables
of ``make bench`` are removed from the children's environment, so the console script decides as it does
for a user. The machine is shared: the load average before and after is in the notes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.common import VRDREAM, run_child, user_env, write_results

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "vrdream" / "samples" / "mars.jpg"
GOAL_S, GOAL_MB = 0.5, 150.0
#: The command lines measured with the previous code too, one of each kind.
BEFORE = (["--help"], ["dream", "--help"], ["info", str(SAMPLE)], ["models"])


def measure(cmd: list[str], root: Path, repeat: int) -> dict[str, float]:
    """Best wall and CPU time and largest peak RSS over ``repeat`` runs (after one to warm the file cache) of
    ``cmd`` running the code at ``root``, in ``root``: the allocator re-exec (``python -m vrdream``) imports
    from the working folder first."""
    env = user_env(PYTHONPATH=str(root))
    run_child(cmd, env, root)
    runs = [run_child(cmd, env, root) for _ in range(repeat)]
    best = {key: min(r[key] for r in runs) for key in ("s", "cpu s")}
    return best | {"peak MB": max(r["peak MB"] for r in runs)}


def command_lines() -> list[list[str]]:
    from vrdream.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return [["--help"], *([name, "--help"] for name in sub.choices), ["info", str(SAMPLE)], ["models"]]


def main() -> None:
    repeat = int(os.environ.get("BENCH_CLI_REPEAT", "5"))
    if not VRDREAM.exists():
        raise SystemExit(f"bench/cli.py: no console script {VRDREAM} (pip install -e .)")
    script = str(VRDREAM)
    base = os.environ.get("BENCH_CLI_BASE")
    base_root = Path(base).resolve() if base else None
    base_commands = command_lines_of(base_root) if base_root else set()
    load_before = os.getloadavg()
    floor = measure([sys.executable, "-c", "pass"], ROOT, repeat)
    torch = measure([sys.executable, "-c", "import torch"], ROOT, repeat)
    rows: list[dict] = [{"command": "python -c pass", **floor}, {"command": 'python -c "import torch"', **torch}]
    for argv in command_lines():
        now = measure([script, *argv], ROOT, repeat)
        row: dict = {
            "command": "vrdream " + " ".join(Path(a).name if a == str(SAMPLE) else a for a in argv),
            **now,
            "s / import torch": now["s"] / torch["s"],
            "MB / import torch": now["peak MB"] / torch["peak MB"],
        }
        if base_root is not None and argv in BEFORE and argv[0] in base_commands:
            before = measure([script, *argv], base_root, repeat)
            row |= {
                "before s": before["s"],
                "before cpu s": before["cpu s"],
                "before MB": before["peak MB"],
                "s / before": now["s"] / before["s"],
                "cpu s / before": now["cpu s"] / before["cpu s"],
                "MB / before": now["peak MB"] / before["peak MB"],
            }
        small = now["peak MB"] <= GOAL_MB
        row["goal met"] = "yes" if now["s"] <= GOAL_S and small else "NO"
        # With more runnable processes than cores, the wall time is mostly waiting for a core; the CPU time
        # is what an idle machine's wall time would be, start-up I/O aside.
        row["goal met by CPU time"] = "yes" if now["cpu s"] <= GOAL_S and small else "NO"
        rows.append(row)
        print(row, flush=True)
    load_after = os.getloadavg()
    notes = (
        f"Each command line run {repeat} times as the installed console script `{Path(script).name}` in a fresh "
        f"process: best wall time and CPU time (user + system), largest peak RSS (an allocator re-exec included); "
        f"on a loaded machine the CPU time is the steadier of the two. Goal: ≤ {GOAL_S} s and "
        f"≤ {GOAL_MB:.0f} MB each. Baselines from the same run: `python -c pass` (interpreter start) and "
        '`python -c "import torch"`; "before": the same command with PYTHONPATH='
        + (
            f"{base_root} (BENCH_CLI_BASE; one command line of each kind)"
            if base_root
            else "(not measured: set BENCH_CLI_BASE to a checkout of the previous code)"
        )
        + f". Load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load_before)}; "
        f"after: {', '.join(f'{x:.2f}' for x in load_after)}; {os.cpu_count()} CPUs."
    )
    write_results("cli", rows, notes)


def command_lines_of(root: Path) -> set[str]:
    """The sub-commands the checkout at ``root`` has (an older one may lack a newer command)."""
    code = "import vrdream.cli as c; print(*c.build_parser()._subparsers._group_actions[0].choices)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=user_env(PYTHONPATH=str(root)),
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return {*out.stdout.split(), "--help"}


if __name__ == "__main__":
    main()
