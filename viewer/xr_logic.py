"""The pure parts of the OpenXR adapter: everything ``xr.py`` decides, testable without a runtime.

Inputs are pyopenxr structs (``xr.Posef``, ``xr.Fovf``, ``xr.SessionState``), read by field;
nothing here calls the OpenXR loader. :func:`drive_session` is the session's lifecycle loop,
run against anything with :class:`SessionRuntime`'s methods (``xr.py``'s session, or a fake).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Collection, Sequence
from typing import Literal, Protocol

import numpy as np
import xr

from vrdream.errors import VrdreamError

from .controls import Command
from .geometry import Fov, dir_to_yaw_pitch, xr_orientation_to_rotation

GL_SRGB8_ALPHA8 = 0x8C43
GL_RGBA16F = 0x881A
GL_RGB10_A2 = 0x8059
GL_RGBA8 = 0x8058

#: Swapchain formats we render into, best first. SRGB8_ALPHA8: 8 bits stored sRGB-encoded
#: (what the panoramas are; no banding). RGBA16F / RGB10_A2: linear with enough bits. RGBA8:
#: linear in 8 bits, bands in the shadows, the last resort.
SWAPCHAIN_FORMATS = (GL_SRGB8_ALPHA8, GL_RGBA16F, GL_RGB10_A2, GL_RGBA8)

#: Session states in which frames are submitted (xrWaitFrame / xrBeginFrame / xrEndFrame).
FRAME_STATES = (xr.SessionState.READY, xr.SessionState.SYNCHRONIZED, xr.SessionState.VISIBLE, xr.SessionState.FOCUSED)


class SessionAction(enum.Enum):
    """What the adapter must do after a session state change."""

    NONE = "none"
    BEGIN = "begin"  # xrBeginSession, then submit frames
    END = "end"  # xrEndSession, stop submitting
    EXIT = "exit"  # leave the frame loop (and destroy the session)
    REQUEST_EXIT = "request-exit"  # xrRequestExitSession: the runtime answers with STOPPING


def session_action(state: xr.SessionState, running: bool) -> SessionAction:
    """The action for a new session ``state`` given whether the session is ``running`` (begun).

    Follows the OpenXR session lifecycle: READY → begin; STOPPING → end; EXITING and
    LOSS_PENDING → exit; anything else needs nothing from us.
    """
    state = xr.SessionState(state)
    if state == xr.SessionState.READY and not running:
        return SessionAction.BEGIN
    if state == xr.SessionState.STOPPING and running:
        return SessionAction.END
    if state in (xr.SessionState.EXITING, xr.SessionState.LOSS_PENDING):
        return SessionAction.EXIT
    return SessionAction.NONE


def should_submit_frames(state: xr.SessionState, running: bool) -> bool:
    """Whether the frame loop runs (xrWaitFrame) in ``state``."""
    return running and xr.SessionState(state) in FRAME_STATES


GraphicsBinding = Literal["wgl", "glx", "egl"]

#: The instance extensions each graphics binding needs.
BINDING_EXTENSIONS: dict[GraphicsBinding, tuple[str, ...]] = {
    "wgl": (xr.KHR_OPENGL_ENABLE_EXTENSION_NAME,),
    "glx": (xr.KHR_OPENGL_ENABLE_EXTENSION_NAME,),
    "egl": (xr.KHR_OPENGL_ENABLE_EXTENSION_NAME, xr.MNDX_EGL_ENABLE_EXTENSION_NAME),
}


def check_xr_platform(platform: str) -> None:
    """:class:`VrdreamError` (one line) unless the OpenXR viewer can run on ``platform`` (``sys.platform``)."""
    if platform == "darwin":
        raise VrdreamError(
            "the headset viewer is not supported on macOS: there is no OpenXR runtime for it; "
            "use --desktop (a window) or --screenshot"
        )
    if platform != "win32" and not platform.startswith("linux"):
        raise VrdreamError(f"the headset viewer is not supported on {platform}; use --desktop or --screenshot")


def choose_graphics_binding(platform: str, has_display: bool, extensions: Collection[str]) -> GraphicsBinding:
    """How the viewer's OpenGL context is handed to the runtime, per platform.

    Windows: WGL. Linux: Xlib/GLX with an X display (also under XWayland), else EGL where the
    runtime offers ``XR_MNDX_egl_enable`` (Monado). ``extensions`` are the runtime's instance
    extensions; :class:`VrdreamError` (one line) when no binding fits.
    """
    check_xr_platform(platform)
    if xr.KHR_OPENGL_ENABLE_EXTENSION_NAME not in extensions:
        raise VrdreamError(f"the OpenXR runtime lacks {xr.KHR_OPENGL_ENABLE_EXTENSION_NAME}, which the viewer needs")
    if platform == "win32":
        return "wgl"
    if has_display:
        return "glx"
    if xr.MNDX_EGL_ENABLE_EXTENSION_NAME in extensions:
        return "egl"
    raise VrdreamError(
        f"no X display for the OpenXR OpenGL binding (DISPLAY is unset) and the runtime lacks "
        f"{xr.MNDX_EGL_ENABLE_EXTENSION_NAME}; run the viewer in a desktop session"
    )


def stop_action(running: bool) -> SessionAction:
    """What a stop request (Ctrl-C) asks for: a running session is asked to exit, the OpenXR
    way (its STOPPING then ends it); one not yet begun is simply left."""
    return SessionAction.REQUEST_EXIT if running else SessionAction.EXIT


class SessionRuntime(Protocol):
    """What :func:`drive_session` calls: one OpenXR session, set up, until :meth:`destroy`."""

    def next_state(self) -> xr.SessionState | None:
        """The next session-state change from the event queue; None when there is none."""

    def begin(self) -> None:
        """xrBeginSession."""

    def end(self) -> None:
        """xrEndSession."""

    def request_exit(self) -> None:
        """xrRequestExitSession."""

    def frame(self, state: xr.SessionState) -> None:
        """One frame cycle: wait, begin, locate, render each eye, end."""

    def destroy(self) -> None:
        """Destroy every handle set-up made (the one tear-down place)."""


#: Seconds the runtime gets to answer an exit request with STOPPING before the viewer tears
#: down anyway (a Ctrl-C must end the viewer within a second).
EXIT_TIMEOUT_S = 0.8
#: Seconds between event polls while no frames are due (xrWaitFrame is not ours to call yet).
IDLE_S = 0.02


def drive_session(
    runtime: SessionRuntime,
    stop: Callable[[], bool] = lambda: False,
    *,
    max_frames: int | None = None,
    exit_timeout_s: float = EXIT_TIMEOUT_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Run the session until the runtime ends it, ``stop()`` turns true, or ``max_frames`` frames.

    Session-state changes are handled as the OpenXR lifecycle requires (:func:`session_action`).
    A stop request while the session runs calls xrRequestExitSession, waits for STOPPING, ends
    the session and leaves; if STOPPING has not come after ``exit_timeout_s``, it leaves anyway.
    Whatever happens, :meth:`SessionRuntime.destroy` runs last.
    """
    running, state, frames = False, xr.SessionState.UNKNOWN, 0
    exit_deadline: float | None = None
    try:
        while max_frames is None or frames < max_frames:
            while (changed := runtime.next_state()) is not None:
                state = xr.SessionState(changed)
                action = session_action(state, running)
                if action == SessionAction.BEGIN:
                    runtime.begin()
                    running = True
                elif action == SessionAction.END:
                    runtime.end()
                    running = False
                    if exit_deadline is not None:
                        return  # the exit we asked for: the session is over
                elif action == SessionAction.EXIT:
                    return
            if exit_deadline is None and stop():
                if stop_action(running) == SessionAction.EXIT:
                    return
                runtime.request_exit()
                exit_deadline = clock() + exit_timeout_s
            elif exit_deadline is not None and clock() > exit_deadline:
                return  # the runtime never said STOPPING: destroying the session ends it
            if should_submit_frames(state, running):
                runtime.frame(state)
                frames += 1
            else:
                sleep(IDLE_S)
    finally:
        runtime.destroy()


def choose_swapchain_format(runtime_formats: Sequence[int]) -> int:
    """The best of :data:`SWAPCHAIN_FORMATS` the runtime offers (its list is in its own order)."""
    offered = {int(f) for f in runtime_formats}
    for fmt in SWAPCHAIN_FORMATS:
        if fmt in offered:
            return fmt
    raise VrdreamError(
        "the OpenXR runtime offers no colour swapchain format the viewer can render into "
        f"(offered: {', '.join(hex(int(f)) for f in runtime_formats) or 'none'})"
    )


def fov_from_xr(fov: xr.Fovf) -> Fov:
    """Our :class:`Fov` from OpenXR's (same angles and signs: left and down negative)."""
    return Fov(left=fov.angle_left, right=fov.angle_right, up=fov.angle_up, down=fov.angle_down)


def rotation_from_xr(pose: xr.Posef) -> np.ndarray:
    """Our world-from-view rotation (3, 3) from an OpenXR pose (the position is irrelevant:
    the photosphere is at infinity)."""
    q = pose.orientation
    return xr_orientation_to_rotation(q.x, q.y, q.z, q.w)


def gaze_from_xr(pose: xr.Posef) -> np.ndarray:
    """Unit gaze direction (3,) in our frame from an eye-gaze (or head) pose: its forward axis."""
    return rotation_from_xr(pose)[:, 2].copy()


def head_yaw(rotation: np.ndarray) -> float:
    """Yaw (radians) of a view rotation's forward axis: what ``recenter`` brings to the front."""
    return float(dir_to_yaw_pitch(np.asarray(rotation)[:, 2])[0])


def eye_gaze_supported(extensions: Sequence[str], system_supports: bool) -> bool:
    """Eye gaze is used only when the runtime lists ``XR_EXT_eye_gaze_interaction`` and the
    system reports it (``XrSystemEyeGazeInteractionPropertiesEXT``); else gaze = head."""
    return xr.EXT_EYE_GAZE_INTERACTION_EXTENSION_NAME in extensions and bool(system_supports)


#: Suggested bindings: interaction profile → {command: input path}. Buttons fire on press.
BINDINGS: dict[str, dict[Command, str]] = {
    "/interaction_profiles/khr/simple_controller": {
        "toggle": "/user/hand/right/input/select/click",
        "mode": "/user/hand/right/input/menu/click",
        "recenter": "/user/hand/left/input/select/click",
    },
    "/interaction_profiles/oculus/touch_controller": {
        "toggle": "/user/hand/right/input/a/click",
        "mode": "/user/hand/right/input/b/click",
        "recenter": "/user/hand/left/input/x/click",
        "wider": "/user/hand/left/input/y/click",
        "narrower": "/user/hand/right/input/thumbstick/click",
    },
    "/interaction_profiles/valve/index_controller": {
        "toggle": "/user/hand/right/input/a/click",
        "mode": "/user/hand/right/input/b/click",
        "recenter": "/user/hand/left/input/a/click",
        "wider": "/user/hand/left/input/b/click",
        "narrower": "/user/hand/right/input/thumbstick/click",
    },
}


def pressed(state: xr.ActionStateBoolean) -> bool:
    """Whether a boolean action went down since the last ``xrSyncActions``."""
    return bool(state.is_active and state.current_state and state.changed_since_last_sync)
