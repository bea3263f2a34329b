"""What the user can change while viewing, as a frozen state and pure transitions.

The desktop window maps keys and the OpenXR adapter maps controller actions to the same
:data:`Command` names, so both behave alike and the logic is tested without either.

Commands:
  ``mode``     switch dream-where-you-look ↔ raw-where-you-look
  ``wider`` / ``narrower``   scale the gaze cone by ``CONE_STEP`` (within limits)
  ``recenter`` make the current head/view yaw the panorama's front
  ``toggle``   cycle what the sphere shows: gaze crossfade → all dream → all raw → gaze
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal, get_args

import numpy as np

from .gaze import MODES, GazeSettings, Mode, Show

Command = Literal["mode", "wider", "narrower", "recenter", "toggle"]
COMMANDS: tuple[Command, ...] = ("mode", "wider", "narrower", "recenter", "toggle")
CONE_STEP = 1.25
# The cone cannot shrink to nothing, nor grow past covering the sphere (outer angle 180°).
CONE_SCALE_RANGE = (0.25, 6.0)
_SHOW_CYCLE: tuple[Show, ...] = ("gaze", "dream", "raw")
#: The window's (and the web page's) horizontal field of view at start, degrees.
VIEW_FOV_DEG = 90.0
FOV_RANGE = (20.0, 140.0)  # horizontal degrees the scroll wheel zooms between
ZOOM_STEP = 0.9  # field of view factor per scroll notch

#: Desktop keys (GLFW key names, lower case) for each command.
KEYMAP: dict[str, Command] = {
    "m": "mode",
    "=": "wider",
    "]": "wider",
    "-": "narrower",
    "[": "narrower",
    "r": "recenter",
    "space": "toggle",
    "t": "toggle",
}


@dataclass(frozen=True)
class ViewerState:
    """mode: where the dream shows; show: gaze crossfade or all one image;
    cone_scale: multiplies the cone's angles; yaw_offset: radians added to the panorama's yaw
    (recentering), so that world yaw ``w`` shows panorama yaw ``w + yaw_offset``."""

    mode: Mode = "dream-where-you-look"
    show: Show = "gaze"
    cone_scale: float = 1.0
    yaw_offset: float = 0.0


def apply_command(state: ViewerState, command: Command, head_yaw: float = 0.0, front_yaw: float = 0.0) -> ViewerState:
    """The state after ``command``.

    ``recenter`` makes the current world ``head_yaw`` (radians) show the panorama's ``front_yaw``
    (its initial view).
    """
    if command == "mode":
        return replace(state, mode=MODES[(MODES.index(state.mode) + 1) % len(MODES)])
    if command in ("wider", "narrower"):
        scale = state.cone_scale * (CONE_STEP if command == "wider" else 1 / CONE_STEP)
        return replace(state, cone_scale=float(np.clip(scale, *CONE_SCALE_RANGE)))
    if command == "recenter":
        return replace(state, yaw_offset=float(math.remainder(front_yaw - head_yaw, 2 * math.pi)))
    if command == "toggle":
        return replace(state, show=_SHOW_CYCLE[(_SHOW_CYCLE.index(state.show) + 1) % len(_SHOW_CYCLE)])
    raise ValueError(f"unknown viewer command {command!r}; expected one of {COMMANDS}")


def viewer_settings(gaze: GazeSettings = GazeSettings()) -> dict[str, Any]:
    """The numbers every viewer shares, as JSON values: the web page of ``vrdream serve`` reads them
    (``/settings.json``) instead of keeping its own copy, so it cannot drift from these viewers."""
    return {
        "gaze": asdict(gaze),
        "modes": list(MODES),
        "shows": list(get_args(Show)),
        "controls": {
            "cone_step": CONE_STEP,
            "cone_scale_range": list(CONE_SCALE_RANGE),
            "keymap": dict(KEYMAP),
            "commands": list(COMMANDS),
            "show_cycle": list(_SHOW_CYCLE),
        },
        "view": {"fov_deg": VIEW_FOV_DEG, "fov_range_deg": list(FOV_RANGE), "zoom_step": ZOOM_STEP},
    }
