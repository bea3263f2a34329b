"""The vrdream viewer: stand inside the photosphere; where you look, the raw dissolves into the dream.

Layers (see each module):
  pure numpy  ``geometry`` (view conventions, poses, fields of view, equirect uv), ``gaze``
              (cone weight, dwell dynamics, mix targets), ``controls`` (commands), ``srgb``,
              ``reference`` (CPU renderer the tests compare against), ``xr_logic`` (the OpenXR
              adapter's decisions), ``panorama`` (loading the dream and its raw)
  GL          ``renderer`` (moderngl fullscreen pass into any framebuffer)
  sources     ``preview`` (offscreen stills), ``desktop`` (GLFW window), ``xr`` (OpenXR)

Heavy modules (GL, GLFW, OpenXR) are imported lazily: ``from vrdream.viewer import render_preview``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["render_preview"]


def __getattr__(name: str) -> Any:
    if name == "render_preview":
        from .preview import render_preview

        return render_preview
    raise AttributeError(name)
