"""The vrdream viewer: stand inside the photosphere; where you look, the raw dissolves into the dream.

Shipped as ``vrdream.viewer`` (pyproject.toml maps this top-level ``viewer/`` folder there). It
depends on the core (``vrdream.errors``, ``atomic``, ``quantize``, ``photosphere``), never the
other way round: only the application layer (``vrdream.cli``, ``vrdream.demo``, ``vrdream.serve``)
loads it, lazily. It needs no torch.

Layers (see each module):
  pure numpy  ``geometry`` (view conventions, poses, fields of view, equirect uv), ``gaze``
              (cone weight, dwell dynamics, mix targets), ``controls`` (commands), ``srgb``,
              ``reference`` (CPU renderer the tests compare against, and the stills' fallback
              without OpenGL), ``xr_logic`` (the OpenXR adapter's decisions and session
              lifecycle), ``panorama`` (loading the dream and finding its raw), ``stop``
              (Ctrl-C / SIGTERM as a stop request)
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
