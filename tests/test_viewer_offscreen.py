"""Stills without a GL stack, and dreams whose folder moved: ``vrdream view --screenshot`` end to end."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import moderngl
import numpy as np
import pytest
from PIL import Image

from vrdream.viewer.preview import REFERENCE, render_preview

REPO = Path(__file__).resolve().parents[1]
SIZE = (48, 32)


@pytest.fixture(scope="module")
def panos() -> tuple[np.ndarray, np.ndarray]:
    """A small raw (smooth colours) and its "dream" (the negative), (32, 64, 3) uint8."""
    y, x = np.mgrid[0:32, 0:64]
    raw = np.stack([x * 4, y * 8, (x + y) * 2], axis=-1).astype(np.uint8)
    return raw, 255 - raw


def _no_gl(*args, **kwargs):
    raise Exception("no OpenGL here (test)")


def test_no_gl_context_falls_back_to_the_reference_renderer(panos, monkeypatch):
    """With every GL context failing, a still is still made, by the numpy renderer, and it says so."""
    raw, dream = panos
    kw = dict(yaw_deg=30.0, pitch_deg=10.0, hfov_deg=100.0, gaze_deg=(20.0, 5.0), size=SIZE)
    lines: list[str] = []
    try:
        with_gl = render_preview(dream, raw, log=lines.append, **kw)
    except Exception:  # pragma: no cover - a machine without any GL: nothing to compare against
        with_gl = None
    monkeypatch.setattr(moderngl, "create_context", _no_gl)
    said: list[str] = []
    shot = render_preview(dream, raw, log=said.append, **kw)
    assert shot.shape == (SIZE[1], SIZE[0], 3) and shot.dtype == np.uint8
    assert len(said) == 1 and REFERENCE in said[0] and "no OpenGL here" in said[0], said
    assert render_preview(dream, raw, log=said.append, quiet=True, **kw) is not None and len(said) == 1
    if with_gl is None:
        pytest.skip("no GL context on this machine to compare the reference still with")
    assert len(lines) == 1 and "EGL" in lines[0], lines  # EGL first where it works
    # the same image as the GL renderer draws (it is what the GL tests compare against)
    assert np.abs(shot.astype(int) - with_gl).mean() <= 1.0


def _write_pair(raw_path: Path, dream_path: Path, raw: np.ndarray, dream: np.ndarray) -> None:
    """The raw and a dream of it recording it as vrdream does: its path relative to the dream's
    folder, its name and its SHA-256."""
    from vrdream.photosphere import read_photosphere, write_photosphere

    for path in (raw_path, dream_path):
        path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(raw).save(raw_path)
    fields = {
        "Raw": os.path.relpath(raw_path, dream_path.parent),
        "RawName": raw_path.name,
        "RawSHA256": hashlib.sha256(raw_path.read_bytes()).hexdigest(),
    }
    write_photosphere(dream_path, dream.astype(np.float32) / 255, read_photosphere(raw_path), vrdream=fields)


def _view_args(args: list[str]) -> list[str]:
    return ["view", *args, "--size", f"{SIZE[0]}x{SIZE[1]}", "--gaze=10,0"]


def test_screenshot_finds_the_raw_after_the_folder_moved(panos, tmp_path, capsys):
    from vrdream.cli import main

    raw, dream = panos
    # dreamed from photos/pano.png into out/ (recording ../photos/pano.png), then both gathered into share/
    _write_pair(tmp_path / "photos" / "pano.png", tmp_path / "out" / "dream.png", raw, dream)
    moved = tmp_path / "share"
    moved.mkdir()
    shutil.move(tmp_path / "out" / "dream.png", moved / "dream.png")
    shutil.move(tmp_path / "photos" / "pano.png", moved / "pano.png")
    dream_arg = str(moved / "dream.png")
    assert main(_view_args([dream_arg, "--raw", str(moved / "pano.png"), "--screenshot", str(tmp_path / "a.png")])) == 0
    assert main(_view_args([dream_arg, "--screenshot", str(tmp_path / "b.png")])) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), np.asarray(Image.open(tmp_path / "b.png")))
    capsys.readouterr()
    # a file of that name with other bytes is not the raw: one line saying --raw is needed, exit 2
    Image.fromarray(raw[::-1].copy()).save(moved / "pano.png")
    assert main(_view_args([dream_arg, "--screenshot", str(tmp_path / "c.png")])) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "--raw" in lines[0] and "pano.png" in lines[0], lines
    assert not (tmp_path / "c.png").exists()


def test_screenshot_where_egl_cannot_load(panos, tmp_path):
    """A process in which libEGL finds no driver and there is no display: the still still comes."""
    raw, dream = panos
    _write_pair(tmp_path / "raw.png", tmp_path / "dream.png", raw, dream)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    # glvnd's libEGL loads the drivers its vendor files name: none here, so no EGL display
    env["__EGL_VENDOR_LIBRARY_DIRS"] = str(tmp_path / "no-vendors")
    env["__EGL_VENDOR_LIBRARY_FILENAMES"] = ""
    args = _view_args([str(tmp_path / "dream.png"), "--screenshot", str(tmp_path / "shot.png")])
    run = subprocess.run([sys.executable, "-m", "vrdream", *args], capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    said = [line for line in run.stdout.splitlines() if "rendering offscreen" in line]
    assert len(said) == 1 and REFERENCE in said[0], run.stdout
    assert np.asarray(Image.open(tmp_path / "shot.png")).shape == (SIZE[1], SIZE[0], 3)
