"""A GLFW window with an OpenGL 3.3 core context, for the desktop viewer and the OpenXR binding."""

from __future__ import annotations

import warnings
from typing import Any

from vrdream.errors import VrdreamError


def open_window(width: int, height: int, title: str, visible: bool = True) -> tuple[Any, Any]:
    """``(glfw module, window)`` with its context current; :class:`VrdreamError` naming GLFW's reason if not."""
    import glfw

    # pyGLFW reports errors as Python warnings: gather them into the one-line error instead.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", glfw.GLFWError)
        window = None
        if glfw.init():
            glfw.window_hint(glfw.VISIBLE, visible)
            glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
            glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
            glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
            glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, True)
            window = glfw.create_window(width, height, title, None, None)
            if not window:
                glfw.terminate()
    if not window:
        reason = "; ".join(str(w.message) for w in caught) or "unknown reason"
        raise VrdreamError(f"cannot open an OpenGL 3.3 window ({reason}); use --screenshot to render offscreen")
    glfw.make_context_current(window)
    return glfw, window
