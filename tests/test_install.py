"""Installs and runs where its users are: a wheel that works on its own, publishable metadata, no Linux-only
assumptions on the main path (the allocator re-exec), and file names as users write them.

The wheel tests build the sdist and, from it, the wheel with ``python -m build`` (so a file missing from the
sdist is missing from the wheel too), install the wheel into a fresh virtual environment away from the
checkout, and run ``vrdream demo`` from another folder. The fresh environment reuses this one's installed
dependencies through a ``.pth`` file instead of downloading torch again.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from fnmatch import fnmatch
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from videos import load_panorama, make_video

import vrdream
import vrdream.cli
from vrdream.cli import JEMALLOC_CONF, fast_allocator_env, main
from vrdream.photosphere import read_photosphere
from vrdream.srmodels import SR_MODELS, find_ncnn

REPO = Path(__file__).resolve().parent.parent
#: A folder and file names as users write them: spaces, accents, another script.
NAMES = "Mars photos, Ålesund/全景 über ø"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``python -m build``'s sdist and wheel (the wheel built from the sdist), in a temporary folder."""
    if importlib.util.find_spec("build") is None:
        pytest.skip("the `build` package is not installed (it is in the test extra: pip install -e '.[test]')")
    out = tmp_path_factory.mktemp("dist")
    res = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    [sdist], [wheel] = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
    return {"sdist": sdist, "wheel": wheel}


@pytest.mark.slow
def test_sdist_and_wheel_are_ready_to_publish(dist: dict[str, Path]) -> None:
    if importlib.util.find_spec("twine") is None:
        pytest.skip("the `twine` package is not installed (it is in the test extra)")
    res = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(dist["sdist"]), str(dist["wheel"])],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0 and res.stdout.count("PASSED") == 2, res.stdout + res.stderr
    with zipfile.ZipFile(dist["wheel"]) as whl:
        names = whl.namelist()
        meta = whl.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert dist["wheel"].name == f"vrdream-{vrdream.__version__}-py3-none-any.whl"  # one version source
    for line in (
        f"Version: {vrdream.__version__}",
        "License-Expression: MIT",
        "License-File: LICENSE",
        "Requires-Python: >=3.10",
        "Description-Content-Type: text/markdown",
        "Classifier: Programming Language :: Python :: 3.10",
        "Classifier: Programming Language :: Python :: 3.13",
    ):
        assert line in meta.splitlines(), line
    assert "## Install" in meta  # the README is the long description
    assert "vrdream/samples/mars.jpg" in names and any(n.endswith("licenses/LICENSE") for n in names)
    assert not any(n.startswith(("tests/", "bench/", "docs/")) for n in names)
    if (REPO / "viewer" / "web" / "dist" / "index.html").is_file():  # `make web` ran (needs npm)
        assert {"vrdream/viewer/web/dist/index.html", "vrdream/viewer/web/dist/app.js"} <= set(names)
        # Sources, node_modules and the test-only WebXR emulator stay out of the wheel.
        assert not [n for n in names if n.startswith("vrdream/viewer/web/") and "/web/dist/" not in n]
    with tarfile.open(dist["sdist"]) as sdist:
        files = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    assert {"LICENSE", "README.md", "pyproject.toml", "vrdream/samples/mars.jpg", "samples/README.md"} <= files


def fresh_venv(path: Path) -> Path:
    """A virtual environment with nothing but this environment's dependencies on its path; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # A path line appends this environment's site-packages after the venv's own (its .pth files, such as an
    # editable install's, are not run): the big dependencies without a second copy, the checkout not on sys.path.
    deps = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (Path(site) / "vrdream_test_deps.pth").write_text("".join(f"{p}\n" for p in deps))
    return python


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without PYTHONPATH (the tests put the checkout there) and without a venv of its own."""
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    return {k: v for k, v in os.environ.items() if k not in drop} | extra


@pytest.mark.slow
def test_wheel_runs_the_demo_away_from_the_checkout(dist: dict[str, Path], tmp_path: Path) -> None:
    python = fresh_venv(tmp_path / "venv")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index"]
        + [str(dist["wheel"])],
        check=True,
        env=clean_env(),
    )
    elsewhere = tmp_path / NAMES
    elsewhere.mkdir(parents=True)
    where = subprocess.run(
        [str(python), "-c", "import sys, vrdream; print(vrdream.__file__); print(*sys.path, sep='\\n')"],
        capture_output=True,
        text=True,
        check=True,
        cwd=elsewhere,
        env=clean_env(),
    ).stdout.splitlines()
    assert Path(where[0]).is_relative_to(tmp_path / "venv"), where[0]
    assert not any(p and Path(p).resolve() == REPO for p in where[1:])
    script = python.parent / ("vrdream.exe" if os.name == "nt" else "vrdream")
    res = subprocess.run(
        [str(script), "demo", "--steps", "2", "--octaves", "1", "-q", "-o", "out"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=clean_env(),
        timeout=600,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    out = elsewhere / "out"
    assert {p.name for p in out.iterdir()} >= {"raw.jpg", "dream.jpg", "side_by_side.jpg", "contact_sheet.png"}
    raw, dream = read_photosphere(out / "raw.jpg"), read_photosphere(out / "dream.jpg")
    assert raw.pixels.shape == dream.pixels.shape == (768, 1536, 3)
    assert np.abs(dream.pixels - raw.pixels).mean() > 0.005  # it dreamed, if only two steps
    assert (REPO / "vrdream" / "samples" / "mars.jpg").read_bytes() == (out / "raw.jpg").read_bytes()


def fake_glob(libraries: list[str]) -> SimpleNamespace:
    """A ``glob`` module whose ``glob`` finds only ``libraries``."""
    return SimpleNamespace(glob=lambda pattern: [lib for lib in libraries if fnmatch(lib, pattern)])


@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
@pytest.mark.parametrize(
    "libraries", [[], ["/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"], ["/usr/lib64/libjemalloc.so.2"]]
)
def test_fast_allocator_only_where_it_exists(
    platform: str, libraries: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vrdream.cli, "sys", SimpleNamespace(platform=platform))
    monkeypatch.setattr(vrdream.cli, "glob", fake_glob(libraries))
    env = fast_allocator_env({"PATH": "/bin"})
    if platform != "linux":  # no LD_PRELOAD, no glibc: nothing to re-run for
        assert env is None
        return
    assert env is not None and env["VRDREAM_ALLOCATOR"] == "system" and env["PATH"] == "/bin"
    if libraries:
        assert env["LD_PRELOAD"] == libraries[0] and env["MALLOC_CONF"] == JEMALLOC_CONF
        assert "GLIBC_TUNABLES" not in env
    else:
        assert "LD_PRELOAD" not in env and env["GLIBC_TUNABLES"] == "glibc.malloc.hugetlb=1"
    # once re-run (or set up by the user) it does not re-run again
    assert fast_allocator_env(env) is None
    assert fast_allocator_env({"VRDREAM_ALLOCATOR": "system"}) is None


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / NAMES
    path.mkdir(parents=True)
    return path


@pytest.fixture
def small_pano(folder: Path, sample_pano: Path) -> Path:
    """The sample at 256×128 under a name with spaces and non-ASCII letters."""
    path = folder / "Husband Hill, Mars ø 全景.jpg"
    Image.open(sample_pano).resize((256, 128), Image.Resampling.LANCZOS).save(path, quality=95)
    return path


QUICK = ["--steps", "1", "--octaves", "1", "-q"]


@pytest.mark.slow
def test_dream_takes_any_file_name(folder: Path, small_pano: Path) -> None:
    out = folder / "Träume ü 夢.jpg"
    assert main(["dream", str(small_pano), "-o", str(out), *QUICK]) == 0
    assert read_photosphere(out).pixels.shape == (128, 256, 3)


@pytest.mark.slow
def test_upscale_takes_any_file_name(folder: Path, small_pano: Path) -> None:
    fast = SR_MODELS["realesr-animevideov3"]
    if find_ncnn(fast) is None:
        pytest.skip(f"no weights for {fast.name} on this Python: run vrdream models --fetch {fast.name}")
    out = folder / "größer ×2.png"
    assert main(["upscale", str(small_pano), "-o", str(out), "--scale", "2", "--sr", fast.name, "-q"]) == 0
    assert read_photosphere(out).pixels.shape == (256, 512, 3)


def test_cubemap_and_equirect_take_any_file_name(folder: Path, small_pano: Path) -> None:
    assert main(["cubemap", str(small_pano), "-o", str(folder / "Würfel ø.png"), "-q"]) == 0
    faces = sorted(folder.glob("Würfel ø_*.png"))
    assert [re.sub(r".*_(\w)\.png", r"\1", f.name) for f in faces] == sorted("FRBLUD")
    back = folder / "zurück é.jpg"
    assert main(["equirect", *map(str, faces), "-o", str(back), "-q"]) == 0
    assert read_photosphere(back).pixels.shape == (128, 256, 3)


@pytest.mark.slow
def test_video_takes_any_file_name(folder: Path, sample_pano: Path) -> None:
    src = make_video(folder / "Rundgang ø 全景.mp4", load_panorama(sample_pano, 128), frames=3, audio=None)
    out = folder / "Traum é.mp4"
    assert main(["video", str(src), "-o", str(out), "--steps-next", "1", *QUICK]) == 0
    assert out.stat().st_size > 0 and not list(folder.glob(".*vrdream-*"))  # finished: no checkpoints left
