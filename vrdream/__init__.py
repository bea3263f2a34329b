"""vrdream: seamless DeepDream on 360° photospheres and videos.

Every command is one function here (the CLI in :mod:`vrdream.cli` only parses flags and calls it):

=========================  ==========================================================
``vrdream dream``          :func:`dream_file` (a :class:`DreamRequest`)
``vrdream upscale``        :func:`upscale_file` (:class:`UpscaleOptions`)
``vrdream video``          :func:`video_file`
``vrdream zoom``           :func:`zoom_video`
``vrdream batch``          :func:`batch_files` (a :class:`BatchRequest`)
``vrdream fade``           :func:`fade_video`
``vrdream stimuli``        :func:`stimulus_set` (:class:`StimulusSettings`)
``vrdream verify``         :func:`verify_files`
``vrdream cubemap``        :func:`cubemap_file`
``vrdream equirect``       :func:`equirect_file`
``vrdream demo``           :func:`run_demo`
``vrdream serve``          :func:`serve_file`
=========================  ==========================================================

The map of the pipeline is the README's layout table. Names are imported on first use, so
``import vrdream`` (and ``vrdream --help``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name → the module that defines it.
_EXPORTS = {
    "dream_file": "pipeline",
    "upscale_file": "superres",
    "DreamRequest": "pipeline",
    "Selection": "pipeline",
    "Output": "pipeline",
    "UpscaleOptions": "superres",
    "EngineOptions": "engine",
    "build_dreamer": "engine",
    "video_file": "video",
    "batch_files": "batch",
    "BatchRequest": "batch",
    "VideoSettings": "video",
    "zoom_video": "zoom",
    "ZoomSettings": "settings",
    "fade_video": "fade",
    "FadeSettings": "fade",
    "stimulus_set": "stimuli",
    "StimulusSettings": "settings",
    "verify_files": "verify",
    "cubemap_file": "layout",
    "equirect_file": "layout",
    "run_demo": "demo",
    "serve_file": "serve",
    "read_photosphere": "photosphere",
    "write_photosphere": "photosphere",
    "ReadOptions": "fileinfo",
    "Dreamer": "dream",
    "DreamSettings": "settings",
    "get_preset": "presets",
    "SphereOptions": "sphere",
    "dream_sphere": "sphere",
    "to_tensor": "tensors",
    "to_numpy": "tensors",
}

__all__ = [
    "BatchRequest",
    "DreamRequest",
    "DreamSettings",
    "Dreamer",
    "EngineOptions",
    "FadeSettings",
    "Output",
    "ReadOptions",
    "Selection",
    "SphereOptions",
    "StimulusSettings",
    "UpscaleOptions",
    "VideoSettings",
    "ZoomSettings",
    "batch_files",
    "build_dreamer",
    "cubemap_file",
    "dream_file",
    "dream_sphere",
    "equirect_file",
    "fade_video",
    "get_preset",
    "read_photosphere",
    "run_demo",
    "serve_file",
    "stimulus_set",
    "to_numpy",
    "to_tensor",
    "upscale_file",
    "verify_files",
    "video_file",
    "write_photosphere",
    "zoom_video",
]


if TYPE_CHECKING:
    from .batch import BatchRequest, batch_files
    from .demo import run_demo
    from .dream import Dreamer
    from .engine import EngineOptions, build_dreamer
    from .fade import FadeSettings, fade_video
    from .fileinfo import ReadOptions
    from .layout import cubemap_file, equirect_file
    from .photosphere import read_photosphere, write_photosphere
    from .pipeline import DreamRequest, Output, Selection, dream_file
    from .presets import get_preset
    from .serve import serve_file
    from .settings import DreamSettings, StimulusSettings, ZoomSettings
    from .sphere import SphereOptions, dream_sphere
    from .stimuli import stimulus_set
    from .superres import UpscaleOptions, upscale_file
    from .tensors import to_numpy, to_tensor
    from .verify import verify_files
    from .video import VideoSettings, video_file
    from .zoom import zoom_video


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vrdream' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
