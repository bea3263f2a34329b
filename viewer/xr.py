"""The OpenXR source (pyopenxr): instance, session, events, actions, swapchains, stereo layers.

Deliberately thin: every decision (pose and field-of-view conversion, the session lifecycle and
its exit on Ctrl-C, swapchain format, graphics binding, controller bindings, gaze choice) lives
in :mod:`.xr_logic`, :mod:`.gaze` and :mod:`.controls`, tested headless. Here :class:`XrSession`
sets the session up (:meth:`XrSession.open`), runs one OpenXR frame cycle per call
(:meth:`XrSession.frame`: wait → begin → locate → render each eye → end) and tears everything
down in one place (:meth:`XrSession.destroy`); :func:`.xr_logic.drive_session` runs the loop.

The GL context is handed to the runtime with ``XR_KHR_opengl_enable``: a hidden GLFW window
with WGL on Windows and Xlib/GLX on Linux, or, on Linux without an X display, an EGL context
with ``XR_MNDX_egl_enable`` (:func:`.xr_logic.choose_graphics_binding`).
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vrdream.errors import VrdreamError

from .controls import COMMANDS, ViewerState, apply_command
from .gaze import GazeSettings, Mode, approach, dwell_directions, dwell_step, mix_target
from .geometry import Fov, rotation_yaw_pitch_roll
from .glwindow import open_window
from .panorama import Panoramas
from .renderer import SphereRenderer
from .stop import stop_on_signals
from .xr_logic import (
    BINDING_EXTENSIONS,
    BINDINGS,
    GL_SRGB8_ALPHA8,
    GraphicsBinding,
    check_xr_platform,
    choose_graphics_binding,
    choose_swapchain_format,
    drive_session,
    eye_gaze_supported,
    fov_from_xr,
    gaze_from_xr,
    head_yaw,
    pressed,
    rotation_from_xr,
)

NO_RUNTIME = (
    "no OpenXR runtime found (start your headset's runtime, e.g. SteamVR or Monado, or point "
    "XR_RUNTIME_JSON at one); to view on a monitor use --desktop"
)


def _import_xr() -> Any:
    # The loader prints several lines to stderr when it finds no runtime; the viewer says it
    # in one. XR_LOADER_DEBUG set by the user still wins.
    os.environ.setdefault("XR_LOADER_DEBUG", "none")
    import xr

    return xr


def probe_runtime() -> list[str]:
    """The active runtime's instance extensions; :class:`VrdreamError` (exit 2) when there is
    none, or when this platform has no OpenXR viewer (macOS)."""
    check_xr_platform(sys.platform)
    xr = _import_xr()
    try:
        return [str(e) for e in xr.enumerate_instance_extension_properties()]
    except (xr.RuntimeUnavailableError, xr.RuntimeFailureError) as exc:
        raise VrdreamError(NO_RUNTIME) from exc


@dataclass
class XrCapture:
    """What a test reads back after a run: per view the last image (h, w, 3) uint8 (row 0 on
    top; sRGB-encoded if ``srgb``, else the linear values of a linear swapchain format), its
    rotation (3, 3) and Fov, and the (base, focus) and dwell map used."""

    images: list[np.ndarray] = field(default_factory=list)
    rotations: list[np.ndarray] = field(default_factory=list)
    fovs: list[Fov] = field(default_factory=list)
    mix: tuple[float, float] = (0.0, 1.0)
    dwell: np.ndarray | None = None
    srgb: bool = True


class _GlfwContext:
    """Hidden GLFW window whose GL context the runtime renders with (xr.utils.gl's provider API)."""

    def __init__(self) -> None:
        self.glfw, self.window = open_window(64, 64, "vrdream", visible=False)

    def make_current(self) -> None:
        self.glfw.make_context_current(self.window)

    def done_current(self) -> None:
        self.glfw.make_context_current(None)

    def destroy(self) -> None:
        self.glfw.destroy_window(self.window)
        self.glfw.terminate()


def _gl_provider(binding: GraphicsBinding) -> Any:
    """The GL context the runtime renders with (pyopenxr's provider API) for ``binding``."""
    if binding == "egl":
        from xr.utils.gl.egl_util import EGLOffscreenContextProvider

        return EGLOffscreenContextProvider()
    return _GlfwContext()


def _binding_struct(binding: GraphicsBinding, provider: Any) -> Any:
    """pyopenxr's ``XrGraphicsBinding*`` for the current context (``.pointer`` goes in ``next``)."""
    if binding == "egl":
        from xr.utils.gl.egl_util import EGLGraphicsBinding

        return EGLGraphicsBinding(provider)
    from xr.utils.gl import GLXGraphicsBinding, WGLGraphicsBinding

    return (WGLGraphicsBinding if binding == "wgl" else GLXGraphicsBinding)(provider)


class XrSession:
    """One OpenXR session showing ``pano``: :meth:`open` sets it up, :meth:`frame` renders one
    frame, :meth:`destroy` releases it all (what :func:`.xr_logic.drive_session` calls).

    Every handle is registered for destruction the moment it exists, so :meth:`destroy`, the one
    tear-down place, also undoes a set-up that failed half way.
    """

    def __init__(
        self,
        pano: Panoramas,
        settings: GazeSettings,
        state: ViewerState,
        capture: XrCapture | None,
    ) -> None:
        self.xr = _import_xr()
        self.pano, self.settings, self.state, self.capture = pano, settings, state, capture
        self._teardown = ExitStack()
        self.last_time: int | None = None

    # ------------------------------------------------------------------ set-up
    def open(self, extensions: list[str]) -> XrSession:
        """Create instance, system, GL context, session, spaces, actions, swapchains, renderer."""
        try:
            self._open(extensions)
        except BaseException:
            self.destroy()
            raise
        return self

    def _open(self, extensions: list[str]) -> None:
        import moderngl

        xr, undo = self.xr, self._teardown.callback
        binding = choose_graphics_binding(sys.platform, bool(os.environ.get("DISPLAY")), extensions)
        wanted = list(BINDING_EXTENSIONS[binding])
        if xr.EXT_EYE_GAZE_INTERACTION_EXTENSION_NAME in extensions:
            wanted.append(xr.EXT_EYE_GAZE_INTERACTION_EXTENSION_NAME)
        self.instance = instance = xr.create_instance(
            xr.InstanceCreateInfo(
                application_info=xr.ApplicationInfo(
                    application_name="vrdream",
                    engine_name="vrdream",
                    api_version=xr.Version(1, 0, xr.XR_VERSION_PATCH),
                ),
                enabled_extension_names=wanted,
            )
        )
        undo(xr.destroy_instance, instance)
        try:
            self.system = system = xr.get_system(
                instance, xr.SystemGetInfo(form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY)
            )
        except xr.FormFactorUnavailableError as exc:
            raise VrdreamError(
                "the OpenXR runtime sees no headset (is it connected and on?); to view on a monitor use --desktop"
            ) from exc
        eye_props = xr.SystemEyeGazeInteractionPropertiesEXT()
        props = xr.SystemProperties(next=ctypes.cast(ctypes.pointer(eye_props), ctypes.c_void_p))
        # If the call fails the flag stays 0 and the gaze is the head direction, the documented fallback.
        xr.raw_functions.xrGetSystemProperties(instance, system, ctypes.byref(props))
        self.use_eyes = eye_gaze_supported(extensions, eye_props.supports_eye_gaze_interaction)

        gl = _gl_provider(binding)
        undo(gl.destroy)  # the GL objects made below (framebuffers, textures) go with the context
        gl.make_current()
        # xrGetOpenGLGraphicsRequirementsKHR must be called before xrCreateSession.
        get_reqs = ctypes.cast(
            xr.get_instance_proc_addr(instance, "xrGetOpenGLGraphicsRequirementsKHR"),
            xr.PFN_xrGetOpenGLGraphicsRequirementsKHR,
        )
        reqs = xr.GraphicsRequirementsOpenGLKHR()
        result = xr.check_result(xr.Result(get_reqs(instance, system, ctypes.byref(reqs))))
        if result.is_exception():
            raise result
        self.binding = _binding_struct(binding, gl)  # kept alive: the session points into it
        self.session = session = xr.create_session(
            instance, xr.SessionCreateInfo(next=self.binding.pointer, system_id=system)
        )
        undo(xr.destroy_session, session)
        # Annotated: moderngl's stub mistypes **settings (the keyword arguments) as one dict.
        backend: dict[str, Any] = {"backend": "egl"} if binding == "egl" else {}
        self.ctx = ctx = moderngl.create_context(**backend)
        self._open_spaces_and_actions()
        self._open_swapchains()
        self.dirs = dwell_directions(self.settings)
        self.renderer = SphereRenderer(ctx, self.pano.dream, self.pano.raw, self.dirs.shape[:2])
        self.dwell = np.zeros(self.dirs.shape[:2], np.float32)
        self.mix = np.array(mix_target(self.state.mode, self.state.show, self.renderer.has_raw))

    def _open_spaces_and_actions(self) -> None:
        xr, undo, instance, session = self.xr, self._teardown.callback, self.instance, self.session
        self.space = xr.create_reference_space(
            session, xr.ReferenceSpaceCreateInfo(reference_space_type=xr.ReferenceSpaceType.LOCAL)
        )
        undo(xr.destroy_space, self.space)
        self.view_space = xr.create_reference_space(
            session, xr.ReferenceSpaceCreateInfo(reference_space_type=xr.ReferenceSpaceType.VIEW)
        )
        undo(xr.destroy_space, self.view_space)
        # Actions: one boolean per command, and the eye-gaze pose when the system has eye tracking.
        self.action_set = xr.create_action_set(
            instance,
            xr.ActionSetCreateInfo(action_set_name="vrdream", localized_action_set_name="vrdream", priority=0),
        )
        undo(xr.destroy_action_set, self.action_set)  # its actions go with it
        self.actions = {
            c: xr.create_action(
                self.action_set,
                xr.ActionCreateInfo(action_type=xr.ActionType.BOOLEAN_INPUT, action_name=c, localized_action_name=c),
            )
            for c in COMMANDS
        }
        path = lambda s: xr.string_to_path(instance, s)  # noqa: E731
        for profile, table in BINDINGS.items():
            bindings = [xr.ActionSuggestedBinding(self.actions[c], path(p)) for c, p in table.items()]
            try:
                xr.suggest_interaction_profile_bindings(
                    instance,
                    xr.InteractionProfileSuggestedBinding(
                        interaction_profile=path(profile), suggested_bindings=bindings
                    ),
                )
            except xr.XrException:
                pass  # the runtime does not know this controller: its bindings simply do not apply
        self.gaze_space = None
        if self.use_eyes:
            gaze_action = xr.create_action(
                self.action_set,
                xr.ActionCreateInfo(
                    action_type=xr.ActionType.POSE_INPUT, action_name="gaze", localized_action_name="gaze"
                ),
            )
            xr.suggest_interaction_profile_bindings(
                instance,
                xr.InteractionProfileSuggestedBinding(
                    interaction_profile=path("/interaction_profiles/ext/eye_gaze_interaction"),
                    suggested_bindings=[
                        xr.ActionSuggestedBinding(gaze_action, path("/user/eyes_ext/input/gaze_ext/pose"))
                    ],
                ),
            )
            self.gaze_space = xr.create_action_space(session, xr.ActionSpaceCreateInfo(action=gaze_action))
            undo(xr.destroy_space, self.gaze_space)
        xr.attach_session_action_sets(session, xr.SessionActionSetsAttachInfo(action_sets=[self.action_set]))

    def _open_swapchains(self) -> None:
        """One swapchain per eye, each image wrapped as a moderngl framebuffer."""
        xr, undo = self.xr, self._teardown.callback
        config_views = xr.enumerate_view_configuration_views(
            self.instance, self.system, xr.ViewConfigurationType.PRIMARY_STEREO
        )
        fmt = choose_swapchain_format(xr.enumerate_swapchain_formats(self.session))
        if self.capture is not None:
            self.capture.srgb = fmt == GL_SRGB8_ALPHA8
        self.chains = []
        for cv in config_views:
            w, h = cv.recommended_image_rect_width, cv.recommended_image_rect_height
            chain = xr.create_swapchain(
                self.session,
                xr.SwapchainCreateInfo(
                    usage_flags=xr.SwapchainUsageFlags.COLOR_ATTACHMENT_BIT | xr.SwapchainUsageFlags.SAMPLED_BIT,
                    format=fmt,
                    sample_count=1,
                    width=w,
                    height=h,
                    face_count=1,
                    array_size=1,
                    mip_count=1,
                ),
            )
            undo(xr.destroy_swapchain, chain)
            images = xr.enumerate_swapchain_images(chain, xr.SwapchainImageOpenGLKHR)
            fbos = [
                self.ctx.framebuffer(color_attachments=[self.ctx.external_texture(img.image, (w, h), 4, 0, "f1")])
                for img in images
            ]
            self.chains.append((chain, w, h, fbos))

    # ------------------------------------------------------------------ the lifecycle (SessionRuntime)
    def next_state(self) -> Any:
        xr = self.xr
        while True:
            try:
                event = xr.poll_event(self.instance)
            except xr.EventUnavailable:
                return None
            if xr.StructureType(event.type) == xr.StructureType.EVENT_DATA_SESSION_STATE_CHANGED:
                changed = ctypes.cast(ctypes.byref(event), ctypes.POINTER(xr.EventDataSessionStateChanged)).contents
                return xr.SessionState(changed.state)

    def begin(self) -> None:
        self.xr.begin_session(self.session, self.xr.SessionBeginInfo(self.xr.ViewConfigurationType.PRIMARY_STEREO))

    def end(self) -> None:
        self.xr.end_session(self.session)

    def request_exit(self) -> None:
        self.xr.request_exit_session(self.session)

    def destroy(self) -> None:
        self._teardown.close()

    # ------------------------------------------------------------------ the frame cycle
    def frame(self, state: Any) -> None:
        """wait → begin → (locate head, input, gaze → render each eye) → end."""
        xr = self.xr
        frame = xr.wait_frame(self.session)
        xr.begin_frame(self.session)
        t = frame.predicted_display_time
        dt = 0.0 if self.last_time is None else (t - self.last_time) * 1e-9
        self.last_time = t
        layers = []
        if frame.should_render:
            recenter = self._update_gaze(t, dt, focused=state == xr.SessionState.FOCUSED)
            layer = self._render_eyes(t, recenter)
            layers.append(ctypes.byref(layer))
        xr.end_frame(
            self.session,
            xr.FrameEndInfo(display_time=t, environment_blend_mode=xr.EnvironmentBlendMode.OPAQUE, layers=layers),
        )

    def _update_gaze(self, t: int, dt: float, focused: bool) -> np.ndarray:
        """Locate the head, apply button presses (when focused), advance the dwell and mix;
        the recentering rotation (3, 3)."""
        xr, pano = self.xr, self.pano
        head_rot = rotation_from_xr(xr.locate_space(self.view_space, self.space, t).pose)
        if focused:
            xr.sync_actions(self.session, xr.ActionsSyncInfo(active_action_sets=[xr.ActiveActionSet(self.action_set)]))
            for c, a in self.actions.items():
                if pressed(xr.get_action_state_boolean(self.session, xr.ActionStateGetInfo(action=a))):
                    self.state = apply_command(self.state, c, head_yaw(head_rot), pano.start_yaw_rad)
        gaze = head_rot[:, 2]
        if self.gaze_space is not None:
            loc = xr.locate_space(self.gaze_space, self.space, t)
            if loc.location_flags & xr.SPACE_LOCATION_ORIENTATION_VALID_BIT:
                gaze = gaze_from_xr(loc.pose)
        recenter = rotation_yaw_pitch_roll(self.state.yaw_offset, 0.0)
        self.dwell = dwell_step(self.dwell, self.dirs, recenter @ gaze, dt, self.settings, self.state.cone_scale)
        target = np.array(mix_target(self.state.mode, self.state.show, self.renderer.has_raw))
        self.mix = approach(self.mix, target, dt, self.settings.mode_s, self.settings.mode_s)
        self.renderer.set_dwell(self.dwell)
        return recenter

    def _render_eyes(self, t: int, recenter: np.ndarray) -> Any:
        """Render each eye's view into its swapchain; the projection layer showing them."""
        xr, capture = self.xr, self.capture
        _, views = xr.locate_views(
            self.session,
            xr.ViewLocateInfo(
                view_configuration_type=xr.ViewConfigurationType.PRIMARY_STEREO, display_time=t, space=self.space
            ),
        )
        proj_views = (xr.CompositionLayerProjectionView * len(views))()
        if capture is not None:
            capture.images, capture.rotations, capture.fovs = [], [], []
            capture.mix, capture.dwell = (float(self.mix[0]), float(self.mix[1])), self.dwell.copy()
        for i, view in enumerate(views):
            chain, w, h, fbos = self.chains[i]
            index = xr.acquire_swapchain_image(chain, xr.SwapchainImageAcquireInfo())
            xr.wait_swapchain_image(chain, xr.SwapchainImageWaitInfo(timeout=xr.INFINITE_DURATION))
            fbos[index].use()
            rotation = recenter @ rotation_from_xr(view.pose)
            self.renderer.draw(rotation, fov_from_xr(view.fov), (0, 0, w, h), self.mix[0], self.mix[1])
            if capture is not None:
                data = np.frombuffer(fbos[index].read(components=3), np.uint8).reshape(h, w, 3)
                capture.images.append(data[::-1].copy())
                capture.rotations.append(rotation)
                capture.fovs.append(fov_from_xr(view.fov))
            xr.release_swapchain_image(chain, xr.SwapchainImageReleaseInfo())
            proj_views[i] = xr.CompositionLayerProjectionView(
                pose=view.pose,
                fov=view.fov,
                sub_image=xr.SwapchainSubImage(swapchain=chain, image_rect=xr.Rect2Di(extent=xr.Extent2Di(w, h))),
            )
        return xr.CompositionLayerProjection(space=self.space, views=proj_views)


def run_xr(
    pano: Panoramas,
    settings: GazeSettings = GazeSettings(),
    *,
    mode: Mode = "dream-where-you-look",
    quiet: bool = False,
    max_frames: int | None = None,
    capture: XrCapture | None = None,
    log: Callable[[str], None] = print,
) -> None:
    """View in the headset until the runtime ends the session, Ctrl-C or SIGTERM (or
    ``max_frames`` frames, for tests).

    A signal ends the session the OpenXR way (:func:`.xr_logic.drive_session`), tears it down,
    then surfaces as ``KeyboardInterrupt`` (Ctrl-C) or ``SystemExit`` (:mod:`.stop`).
    """
    extensions = probe_runtime()
    state = ViewerState(mode=mode, yaw_offset=pano.start_yaw_rad)
    with stop_on_signals() as stop:
        session = XrSession(pano, settings, state, capture).open(extensions)
        if not quiet:
            log(
                f"vrdream: viewing in the headset; gaze: {'eyes' if session.use_eyes else 'head'}; "
                f"{'' if session.renderer.has_raw else 'no raw: dream only; '}Ctrl-C to quit"
            )
        drive_session(session, lambda: stop.requested, max_frames=max_frames)
    stop.raise_if_stopped()
