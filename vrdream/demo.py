"""``vrdream demo``: the whole pipeline on the bundled sample, with everything a newcomer wants to see.

An application, like the CLI above it: the one module of the package besides ``vrdream/cli``
that loads the viewer (``vrdream.viewer``, lazily, for the headset tiles); the core never does.

Writes into one folder: ``raw.jpg`` (the input, metadata intact), ``dream.jpg``
(the seamless dream, a Photo Sphere that records its raw), ``side_by_side.jpg``
and ``contact_sheet.png`` (views of raw and dream, and headset previews of the
gaze crossfade rendered offscreen).
"""

from __future__ import annotations

import math
import shutil
from functools import partial
from importlib import resources
from pathlib import Path

import numpy as np

from .dream import DreamSettings
from .engine import EngineOptions
from .equirect import perspective
from .errors import VrdreamError
from .photosphere import read_photosphere
from .pipeline import DreamRequest, dream_file
from .presets import DEFAULT_PRESET, get_preset
from .provenance import same_dream
from .sheet import contact_sheet, save_sheet, to_image
from .tensors import to_numpy, to_tensor

#: The bundled sample: package data, so an installed wheel has it too (samples/README.md says where it comes from).
SAMPLE = resources.files(__package__) / "samples" / "mars.jpg"
#: (label, yaw, pitch) of the views on the contact sheet.
VIEWS = (
    ("ahead", 0.0, -10.0),
    ("right", 90.0, 0.0),
    ("behind, across the 0°/360° wrap", 180.0, 5.0),
    ("up, over the pole", 0.0, 80.0),
)


def run_demo(
    out_dir: str | Path = "vrdream-demo",
    sample: str | Path | None = None,
    *,
    preset: str = DEFAULT_PRESET,
    settings: DreamSettings | None = None,
    quiet: bool = False,
) -> dict[str, Path]:
    """Dream ``sample`` (default: the bundled :data:`SAMPLE`) into ``out_dir``; return the files written by name.

    ``settings`` default to ``preset``'s (fewer steps and octaves make a quick look).
    """
    if not sample:
        with resources.as_file(SAMPLE) as bundled:  # a real file even where the package is zipped
            return run_demo(out_dir, bundled, preset=preset, settings=settings, quiet=quiet)
    src = Path(sample)
    if not src.is_file():
        raise VrdreamError(f"{src}: sample panorama not found; give one: vrdream demo PANORAMA")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "raw": out / f"raw{src.suffix.lower()}",
        "dream": out / "dream.jpg",
        "side_by_side": out / "side_by_side.jpg",
        "sheet": out / "contact_sheet.png",
    }
    if src.resolve() != files["raw"].resolve():
        shutil.copyfile(src, files["raw"])
    engine = EngineOptions(get_preset(preset).settings if settings is None else settings, preset=preset)
    if not _already_dreamed(files["dream"], files["raw"], engine):  # a rerun reuses a finished dream
        dream_file(files["raw"], files["dream"], DreamRequest(engine=engine), overwrite=True, quiet=quiet)
    raw_px, dream_px = read_photosphere(files["raw"]).pixels, read_photosphere(files["dream"]).pixels
    to_image(np.concatenate([raw_px, dream_px], axis=0)).save(files["side_by_side"], quality=92)
    save_sheet(
        contact_sheet(
            _tiles(raw_px, dream_px, files["dream"], quiet), 4, 300, title=f"vrdream demo: {src.name}, preset {preset}"
        ),
        files["sheet"],
    )
    return files


def _already_dreamed(dream: Path, raw: Path, engine: EngineOptions) -> bool:
    """Whether ``dream`` exists, is newer than ``raw`` and records the same preset and settings."""
    if not dream.is_file() or dream.stat().st_mtime < raw.stat().st_mtime:
        return False
    return same_dream(read_photosphere(dream).vrdream, raw, dream, engine)


def _tiles(raw: np.ndarray, dream: np.ndarray, dream_path: Path, quiet: bool) -> list[tuple[str, np.ndarray]]:
    # The demo is an app like the CLI: it may load the viewer (lazily, here); core modules never do.
    from .viewer.preview import offscreen, render_preview

    tiles = []
    for name, px in (("raw", raw), ("dream", dream)):
        equi = to_tensor(px)
        for label, yaw, pitch in VIEWS:
            view = perspective(equi, 300, 300, math.radians(75), yaw=math.radians(yaw), pitch=math.radians(pitch))
            tiles.append((f"{name}: {label}", to_numpy(view)))
    with offscreen(quiet=quiet) as backend:
        headset = partial(
            render_preview, dream_path, yaw_deg=0.0, pitch_deg=-15.0, hfov_deg=100.0, size=(600, 600), backend=backend
        )
        tiles.append(("headset: looking at the horizon", headset(gaze_deg=(20.0, -5.0))))
        tiles.append(("headset: looking at the rover", headset(gaze_deg=(-30.0, -40.0))))
        tiles.append(("headset: raw where you look", headset(gaze_deg=(0.0, -15.0), mode="raw-where-you-look")))
    return tiles
