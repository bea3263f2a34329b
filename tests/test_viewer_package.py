"""The viewer as a package: shipped as ``vrdream.viewer`` from the top-level ``viewer/`` folder,
loaded only by the application layer, and light (no torch)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: The application layer: the only vrdream modules that may load the viewer (and only lazily).
APPS = ("vrdream/cli/", "vrdream/demo.py", "vrdream/serve.py")


def _imported_modules(path: Path, package: str) -> list[tuple[str, bool]]:
    """(absolute module name, at module level?) of every import in a file of ``package``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names]
            found += [(name, id(node) in top_level) for name in [base, *names]]
    return found


def _package_of(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts if parts[-1] == "__init__" else parts[:-1]).removesuffix(".__init__")


def test_only_the_app_layer_loads_the_viewer_and_lazily():
    """One import direction: the viewer depends on the core, never the other way round."""
    offenders = []
    for path in sorted((REPO / "vrdream").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        pkg = _package_of(path)
        for module, top in _imported_modules(path, pkg):
            if not (module == "vrdream.viewer" or module.startswith(("vrdream.viewer.", "viewer"))):
                continue
            if module.startswith("viewer"):
                offenders.append(f"{rel}: imports the top-level name {module!r} (use vrdream.viewer)")
            elif not rel.startswith(APPS):
                offenders.append(f"{rel}: a core module imports {module}")
            elif top:
                offenders.append(f"{rel}: imports {module} at module level (load it lazily, where it is used)")
    assert not offenders, "\n".join(offenders)


def test_viewer_modules_import_each_other_relatively():
    for path in sorted((REPO / "viewer").glob("*.py")):
        for module, _ in _imported_modules(path, "vrdream.viewer"):
            assert not module.startswith("viewer"), f"{path.name}: absolute import of {module}"


def test_pyproject_ships_every_package_folder():
    """``packages`` is listed by hand (discovery cannot map viewer/ into vrdream): nothing may be missing."""
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert config["package-dir"] == {"vrdream.viewer": "viewer"}
    folders = {"vrdream"} | {
        "vrdream." + ".".join(p.relative_to(REPO / "vrdream").parts)
        for p in (REPO / "vrdream").rglob("*")
        if p.is_dir() and p.name != "__pycache__" and any(f.is_file() for f in p.iterdir())
    }
    assert set(config["packages"]) == folders | {"vrdream.viewer"}


def test_installed_vrdream_viewer_is_this_checkouts_viewer_folder():
    import vrdream.viewer

    where = Path(vrdream.viewer.__file__).resolve().parent
    if where != REPO / "viewer":
        pytest.skip(f"vrdream.viewer comes from {where}, not this checkout: run `pip install -e .` here")
    from vrdream.viewer.preview import render_preview

    assert vrdream.viewer.render_preview is render_preview


def test_the_viewer_starts_without_torch(tmp_path):
    """Loading and showing a panorama needs numpy and GL, not torch (seconds to start and exit)."""
    from PIL import Image

    Image.new("RGB", (16, 8), "orange").save(tmp_path / "p.png")
    code = (
        "import sys\n"
        "import vrdream.viewer.desktop, vrdream.viewer.preview, vrdream.viewer.xr\n"
        "from vrdream.viewer.panorama import load_panoramas\n"
        f"load_panoramas({str(tmp_path / 'p.png')!r})\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]", run.stdout


@pytest.mark.slow
def test_wheel_ships_the_viewer_as_vrdream_viewer(tmp_path):
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources.
    src = tmp_path / "src"
    skip = shutil.ignore_patterns(".*", "build", "__pycache__", "*.egg-info", "tests", "bench", "docs", "vrdream-demo")
    shutil.copytree(REPO, src, ignore=skip)
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    if build.returncode != 0 and "No module named" in build.stderr:
        pytest.skip(f"cannot build a wheel here: {build.stderr.strip().splitlines()[-1]}")
    assert build.returncode == 0, build.stderr
    (wheel,) = tmp_path.glob("vrdream-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    viewer = {Path(n).name for n in names if n.startswith("vrdream/viewer/")}
    assert {p.name for p in (REPO / "viewer").glob("*.py")} <= viewer
    assert not [n for n in names if n.startswith("viewer/")], "a top-level viewer package was shipped"
