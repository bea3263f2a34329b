"""The desktop source: a GLFW window for people without a headset.

Drag to look around, scroll to zoom, and the mouse cursor is the gaze. Keys (``controls.KEYMAP``):
M mode, ``]``/``=`` wider cone, ``[``/``-`` narrower, R recenter, Space/T toggle gaze → dream →
raw, Esc/Q (or Ctrl-C) quit. Each frame is drawn into an sRGB offscreen framebuffer (the same path as
screenshots) and blitted to the window, so colours are right even where the window system
offers no sRGB-capable default framebuffer (Xvfb, many Linux desktops).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from .controls import FOV_RANGE, KEYMAP, VIEW_FOV_DEG, ZOOM_STEP, ViewerState, apply_command
from .gaze import GazeSettings, Mode, approach, dwell_directions, dwell_step, mix_target
from .geometry import Fov, rotation_yaw_pitch_roll, screen_to_dir
from .glwindow import open_window
from .panorama import Panoramas
from .renderer import GL_FRAMEBUFFER_SRGB, OffscreenTarget, SphereRenderer
from .stop import stop_on_signals


class DesktopViewer:
    """A window showing the photosphere; :meth:`run` loops until closed.

    Event handlers (``on_*``) are plain methods so tests can drive the viewer without a real
    mouse; the view is (yaw, pitch, hfov) in radians/degrees of the window's world.
    """

    def __init__(
        self,
        pano: Panoramas,
        settings: GazeSettings = GazeSettings(),
        size: tuple[int, int] = (1280, 720),
        hfov_deg: float = VIEW_FOV_DEG,
        mode: Mode = "dream-where-you-look",
        title: str = "vrdream",
    ) -> None:
        import moderngl

        glfw, self.window = open_window(size[0], size[1], title)
        self.glfw = glfw
        glfw.swap_interval(1)
        self.ctx = moderngl.create_context()
        self.settings = settings
        self.dirs = dwell_directions(settings)
        self.renderer = SphereRenderer(self.ctx, pano.dream, pano.raw, self.dirs.shape[:2])
        self.state = ViewerState(mode=mode)
        self.start_yaw = pano.start_yaw_rad
        self.yaw, self.pitch, self.hfov = pano.start_yaw_rad, pano.start_pitch_rad, hfov_deg
        self.dwell = np.zeros(self.dirs.shape[:2], np.float32)
        self.mix = np.array(mix_target(self.state.mode, self.state.show, self.renderer.has_raw))
        self.cursor: tuple[float, float] | None = None
        self.drag_from: tuple[float, float] | None = None
        self.target: OffscreenTarget | None = None
        glfw.set_cursor_pos_callback(self.window, lambda w, x, y: self.on_cursor(x, y))
        glfw.set_cursor_enter_callback(self.window, lambda w, entered: None if entered else self.on_leave())
        glfw.set_mouse_button_callback(
            self.window, lambda w, b, action, mods: self.on_button(b == glfw.MOUSE_BUTTON_LEFT, action == glfw.PRESS)
        )
        glfw.set_scroll_callback(self.window, lambda w, dx, dy: self.on_scroll(dy))
        glfw.set_key_callback(self.window, self._on_key)

    # ------------------------------------------------------------------ events
    def window_size(self) -> tuple[int, int]:
        return self.glfw.get_window_size(self.window)

    def view(self) -> tuple[np.ndarray, Fov, int, int]:
        """Camera rotation (recentering included), Fov and framebuffer size of the current view."""
        w, h = self.glfw.get_framebuffer_size(self.window)
        rot = rotation_yaw_pitch_roll(self.state.yaw_offset, 0.0) @ rotation_yaw_pitch_roll(self.yaw, self.pitch)
        return rot, Fov.symmetric(self.hfov, w, h), w, h

    def on_cursor(self, x: float, y: float) -> None:
        """Cursor moved to window point (x, y) (screen coordinates, origin top-left)."""
        if self.drag_from is not None:
            # Grab the sphere: the point under the cursor stays under it.
            ww, _ = self.window_size()
            per_px = math.radians(self.hfov) / max(ww, 1)
            self.yaw -= (x - self.drag_from[0]) * per_px
            self.pitch = float(np.clip(self.pitch + (y - self.drag_from[1]) * per_px, -math.pi / 2, math.pi / 2))
            self.drag_from = (x, y)
        self.cursor = (x, y)

    def on_leave(self) -> None:
        self.cursor = None

    def on_button(self, left: bool, down: bool) -> None:
        if left:
            self.drag_from = self.cursor if down and self.cursor else None

    def on_scroll(self, notches: float) -> None:
        self.hfov = float(np.clip(self.hfov * ZOOM_STEP**notches, *FOV_RANGE))

    def on_command(self, name: str) -> None:
        """A key name from :data:`controls.KEYMAP` (others are ignored)."""
        if name in KEYMAP:
            self.state = apply_command(self.state, KEYMAP[name], self.yaw, self.start_yaw)

    def _on_key(self, window, key, scancode, action, mods) -> None:
        glfw = self.glfw
        if action != glfw.PRESS:
            return
        if key in (glfw.KEY_ESCAPE, glfw.KEY_Q):
            glfw.set_window_should_close(window, True)
        elif key == glfw.KEY_SPACE:
            self.on_command("space")
        else:
            self.on_command((glfw.get_key_name(key, scancode) or "").lower())

    # ------------------------------------------------------------------ frames
    def gaze(self) -> np.ndarray:
        """World gaze direction (3,): through the cursor, or the view centre when it is outside."""
        rot, fov, _, _ = self.view()
        ww, wh = self.window_size()
        if self.cursor is None or not (0 <= self.cursor[0] < ww and 0 <= self.cursor[1] < wh):
            return rot[:, 2]
        return screen_to_dir(rot, fov, self.cursor[0], self.cursor[1], ww, wh)

    def frame(self, dt: float) -> None:
        """Advance the gaze dynamics by ``dt`` seconds and draw one frame into the window."""
        rot, fov, w, h = self.view()
        self.dwell = dwell_step(self.dwell, self.dirs, self.gaze(), dt, self.settings, self.state.cone_scale)
        self.mix = approach(
            self.mix,
            np.array(mix_target(self.state.mode, self.state.show, self.renderer.has_raw)),
            dt,
            self.settings.mode_s,
            self.settings.mode_s,
        )
        self.renderer.set_dwell(self.dwell)
        if self.target is None or self.target.size != (w, h):
            if self.target is not None:
                self.target.release()
            self.target = OffscreenTarget(self.ctx, w, h)
        self.target.fbo.use()
        self.renderer.draw(rot, fov, (0, 0, w, h), self.mix[0], self.mix[1])
        # Copy the stored sRGB bytes as they are: with GL_FRAMEBUFFER_SRGB on, the blit would
        # decode them to linear for the (linear) window framebuffer.
        self.ctx.disable_direct(GL_FRAMEBUFFER_SRGB)
        self.ctx.copy_framebuffer(self.ctx.screen, self.target.fbo)

    def read_window(self) -> np.ndarray:
        """The window's back buffer (h, w, 3) uint8, row 0 on top (call after :meth:`frame`)."""
        w, h = self.glfw.get_framebuffer_size(self.window)
        data = np.frombuffer(self.ctx.screen.read(viewport=(0, 0, w, h), components=3), np.uint8)
        return data.reshape(h, w, 3)[::-1].copy()

    def run(self, stop: Callable[[], bool] = lambda: False) -> None:
        """Draw until the window closes or ``stop()`` turns true (checked every frame)."""
        last = time.perf_counter()
        while not (self.glfw.window_should_close(self.window) or stop()):
            now = time.perf_counter()
            self.frame(now - last)
            last = now
            self.glfw.swap_buffers(self.window)
            self.glfw.poll_events()

    def close(self) -> None:
        if self.target is not None:
            self.target.release()
        self.renderer.release()
        self.glfw.destroy_window(self.window)
        self.glfw.terminate()


def run_desktop(
    pano: Panoramas,
    settings: GazeSettings = GazeSettings(),
    *,
    mode: Mode = "dream-where-you-look",
    hfov_deg: float = VIEW_FOV_DEG,
    quiet: bool = False,
    log: Callable[[str], None] = print,
) -> None:
    """Open the window (starting at the panorama's initial view) and view until it is closed.

    Ctrl-C or SIGTERM close the window at the next frame, then surface as ``KeyboardInterrupt``
    (Ctrl-C) or ``SystemExit`` (:mod:`.stop`).
    """
    with stop_on_signals() as stop:
        viewer = DesktopViewer(pano, settings, hfov_deg=hfov_deg, mode=mode)
        try:
            if not quiet:
                log(
                    "vrdream: drag to look, scroll to zoom, the mouse is your gaze; M mode, [ ] cone, "
                    "R recenter, Space toggle raw/dream, Esc or Ctrl-C quit"
                    + ("" if viewer.renderer.has_raw else " (no raw: dream only)")
                )
            viewer.run(lambda: stop.requested)
        finally:
            viewer.close()
    stop.raise_if_stopped()
