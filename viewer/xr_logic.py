"""The pure parts of the OpenXR adapter: everything ``xr.py`` decides, testable without a runtime.

Inputs are pyopenxr structs (``xr.Posef``, ``xr.Fovf``, ``xr.SessionState``), read by field;
nothing here calls the OpenXR loader.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import numpy as np
import xr

from ..errors import VrdreamError
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
