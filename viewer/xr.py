"""The OpenXR source (pyopenxr): instance, session, events, actions, swapchains, stereo layers.

Deliberately thin: every decision (pose and field-of-view conversion, session-state handling,
swapchain format, bindings, gaze choice) lives in :mod:`.xr_logic`, :mod:`.gaze` and
:mod:`.controls`, tested headless; this module only calls the runtime in the order the
OpenXR lifecycle requires and hands each eye's view to :class:`.renderer.SphereRenderer`.

The GL context is a hidden GLFW window bound to the runtime with ``XR_KHR_opengl_enable``
(GLX on Linux, WGL on Windows, through pyopenxr's ``xr.utils.gl`` bindings).
"""

from __future__ import annotations

import ctypes
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import VrdreamError
from .controls import COMMANDS, ViewerState, apply_command
from .gaze import GazeSettings, Mode, approach, dwell_directions, dwell_step, mix_target
from .geometry import rotation_yaw_pitch_roll
from .glwindow import open_window
from .panorama import Panoramas
from .renderer import SphereRenderer
from .xr_logic import (
    BINDINGS,
    GL_SRGB8_ALPHA8,
    SessionAction,
    choose_swapchain_format,
    eye_gaze_supported,
    fov_from_xr,
    gaze_from_xr,
    head_yaw,
    pressed,
    rotation_from_xr,
    session_action,
    should_submit_frames,
)

NO_RUNTIME = (
    "no OpenXR runtime found (start your headset's runtime, e.g. SteamVR or Monado, or point "
    "XR_RUNTIME_JSON at one); to view on a monitor use --desktop"
)


def _import_xr():
    # The loader prints several lines to stderr when it finds no runtime; the viewer says it
    # in one. XR_LOADER_DEBUG set by the user still wins.
    os.environ.setdefault("XR_LOADER_DEBUG", "none")
    import xr

    return xr


def probe_runtime() -> list[str]:
    """The active runtime's instance extensions; :class:`VrdreamError` (exit 2) when there is none."""
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
    fovs: list = field(default_factory=list)
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
    """View in the headset until the runtime ends the session (or ``max_frames`` frames, for tests)."""
    import moderngl
    from xr.utils.gl import GLXGraphicsBinding, WGLGraphicsBinding

    xr = _import_xr()
    extensions = probe_runtime()
    if xr.KHR_OPENGL_ENABLE_EXTENSION_NAME not in extensions:
        raise VrdreamError(f"the OpenXR runtime lacks {xr.KHR_OPENGL_ENABLE_EXTENSION_NAME}, which the viewer needs")
    wanted = [xr.KHR_OPENGL_ENABLE_EXTENSION_NAME]
    if xr.EXT_EYE_GAZE_INTERACTION_EXTENSION_NAME in extensions:
        wanted.append(xr.EXT_EYE_GAZE_INTERACTION_EXTENSION_NAME)
    instance = xr.create_instance(
        xr.InstanceCreateInfo(
            application_info=xr.ApplicationInfo(
                application_name="vrdream", engine_name="vrdream", api_version=xr.Version(1, 0, xr.XR_VERSION_PATCH)
            ),
            enabled_extension_names=wanted,
        )
    )
    gl = None
    session = None
    try:
        try:
            system = xr.get_system(instance, xr.SystemGetInfo(form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY))
        except xr.FormFactorUnavailableError as exc:
            raise VrdreamError(
                "the OpenXR runtime sees no headset (is it connected and on?); to view on a monitor use --desktop"
            ) from exc
        eye_props = xr.SystemEyeGazeInteractionPropertiesEXT()
        props = xr.SystemProperties(next=ctypes.cast(ctypes.pointer(eye_props), ctypes.c_void_p))
        # If the call fails the flag stays 0 and the gaze is the head direction, the documented fallback.
        xr.raw_functions.xrGetSystemProperties(instance, system, ctypes.byref(props))
        use_eyes = eye_gaze_supported(extensions, eye_props.supports_eye_gaze_interaction)

        gl = _GlfwContext()
        # xrGetOpenGLGraphicsRequirementsKHR must be called before xrCreateSession.
        get_reqs = ctypes.cast(
            xr.get_instance_proc_addr(instance, "xrGetOpenGLGraphicsRequirementsKHR"),
            xr.PFN_xrGetOpenGLGraphicsRequirementsKHR,
        )
        reqs = xr.GraphicsRequirementsOpenGLKHR()
        result = xr.check_result(xr.Result(get_reqs(instance, system, ctypes.byref(reqs))))
        if result.is_exception():
            raise result
        binding = (WGLGraphicsBinding if sys.platform == "win32" else GLXGraphicsBinding)(gl)
        session = xr.create_session(instance, xr.SessionCreateInfo(next=binding.pointer, system_id=system))
        ctx = moderngl.create_context()
        state = ViewerState(mode=mode, yaw_offset=pano.start_yaw_rad)
        _run_session(
            xr, ctx, instance, system, session, pano, settings, state, use_eyes, quiet, max_frames, capture, log
        )
    finally:
        if session is not None:
            xr.destroy_session(session)
        if gl is not None:
            gl.destroy()
        xr.destroy_instance(instance)


def _run_session(
    xr,
    ctx,
    instance,
    system,
    session,
    pano: Panoramas,
    settings: GazeSettings,
    state: ViewerState,
    use_eyes: bool,
    quiet: bool,
    max_frames: int | None,
    capture: XrCapture | None,
    log,
) -> None:
    space = xr.create_reference_space(
        session, xr.ReferenceSpaceCreateInfo(reference_space_type=xr.ReferenceSpaceType.LOCAL)
    )
    view_space = xr.create_reference_space(
        session, xr.ReferenceSpaceCreateInfo(reference_space_type=xr.ReferenceSpaceType.VIEW)
    )

    # Actions: one boolean per command, and the eye-gaze pose when the system has eye tracking.
    action_set = xr.create_action_set(
        instance, xr.ActionSetCreateInfo(action_set_name="vrdream", localized_action_set_name="vrdream", priority=0)
    )
    actions = {
        c: xr.create_action(
            action_set,
            xr.ActionCreateInfo(action_type=xr.ActionType.BOOLEAN_INPUT, action_name=c, localized_action_name=c),
        )
        for c in COMMANDS
    }
    path = lambda s: xr.string_to_path(instance, s)  # noqa: E731
    for profile, table in BINDINGS.items():
        bindings = [xr.ActionSuggestedBinding(actions[c], path(p)) for c, p in table.items()]
        try:
            xr.suggest_interaction_profile_bindings(
                instance,
                xr.InteractionProfileSuggestedBinding(interaction_profile=path(profile), suggested_bindings=bindings),
            )
        except xr.XrException:
            pass  # the runtime does not know this controller: its bindings simply do not apply
    gaze_space = None
    if use_eyes:
        gaze_action = xr.create_action(
            action_set,
            xr.ActionCreateInfo(action_type=xr.ActionType.POSE_INPUT, action_name="gaze", localized_action_name="gaze"),
        )
        xr.suggest_interaction_profile_bindings(
            instance,
            xr.InteractionProfileSuggestedBinding(
                interaction_profile=path("/interaction_profiles/ext/eye_gaze_interaction"),
                suggested_bindings=[xr.ActionSuggestedBinding(gaze_action, path("/user/eyes_ext/input/gaze_ext/pose"))],
            ),
        )
        gaze_space = xr.create_action_space(session, xr.ActionSpaceCreateInfo(action=gaze_action))
    xr.attach_session_action_sets(session, xr.SessionActionSetsAttachInfo(action_sets=[action_set]))

    # One swapchain per eye, each image wrapped as a moderngl framebuffer.
    config_views = xr.enumerate_view_configuration_views(instance, system, xr.ViewConfigurationType.PRIMARY_STEREO)
    fmt = choose_swapchain_format(xr.enumerate_swapchain_formats(session))
    if capture is not None:
        capture.srgb = fmt == GL_SRGB8_ALPHA8
    chains = []
    for cv in config_views:
        w, h = cv.recommended_image_rect_width, cv.recommended_image_rect_height
        chain = xr.create_swapchain(
            session,
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
        images = xr.enumerate_swapchain_images(chain, xr.SwapchainImageOpenGLKHR)
        fbos = [
            ctx.framebuffer(color_attachments=[ctx.external_texture(img.image, (w, h), 4, 0, "f1")]) for img in images
        ]
        chains.append((chain, w, h, fbos))

    dirs = dwell_directions(settings)
    renderer = SphereRenderer(ctx, pano.dream, pano.raw, dirs.shape[:2])
    dwell = np.zeros(dirs.shape[:2], np.float32)
    mix = np.array(mix_target(state.mode, state.show, renderer.has_raw))
    if not quiet:
        log(
            f"vrdream: viewing in the headset; gaze: {'eyes' if use_eyes else 'head'}; "
            f"{'' if renderer.has_raw else 'no raw: dream only; '}Ctrl-C to quit"
        )
    running, session_state, frames, last_time = False, xr.SessionState.UNKNOWN, 0, None
    while max_frames is None or frames < max_frames:
        # Events: react to session state changes as the lifecycle requires.
        while True:
            try:
                event = xr.poll_event(instance)
            except xr.EventUnavailable:
                break
            if xr.StructureType(event.type) == xr.StructureType.EVENT_DATA_SESSION_STATE_CHANGED:
                changed = ctypes.cast(ctypes.byref(event), ctypes.POINTER(xr.EventDataSessionStateChanged)).contents
                session_state = xr.SessionState(changed.state)
                action = session_action(session_state, running)
                if action == SessionAction.BEGIN:
                    xr.begin_session(session, xr.SessionBeginInfo(xr.ViewConfigurationType.PRIMARY_STEREO))
                    running = True
                elif action == SessionAction.END:
                    xr.end_session(session)
                    running = False
                elif action == SessionAction.EXIT:
                    return
        if not should_submit_frames(session_state, running):
            time.sleep(0.05)  # xrWaitFrame is not ours to call yet: do not spin
            continue
        frame = xr.wait_frame(session)
        xr.begin_frame(session)
        t = frame.predicted_display_time
        dt = 0.0 if last_time is None else (t - last_time) * 1e-9
        last_time = t
        layers = []
        if frame.should_render:
            head = xr.locate_space(view_space, space, t)
            head_rot = rotation_from_xr(head.pose)
            if session_state == xr.SessionState.FOCUSED:
                xr.sync_actions(session, xr.ActionsSyncInfo(active_action_sets=[xr.ActiveActionSet(action_set)]))
                for c, a in actions.items():
                    if pressed(xr.get_action_state_boolean(session, xr.ActionStateGetInfo(action=a))):
                        state = apply_command(state, c, head_yaw(head_rot), pano.start_yaw_rad)
            gaze = head_rot[:, 2]
            if gaze_space is not None:
                loc = xr.locate_space(gaze_space, space, t)
                if loc.location_flags & xr.SPACE_LOCATION_ORIENTATION_VALID_BIT:
                    gaze = gaze_from_xr(loc.pose)
            recenter = rotation_yaw_pitch_roll(state.yaw_offset, 0.0)
            dwell = dwell_step(dwell, dirs, recenter @ gaze, dt, settings, state.cone_scale)
            mix = approach(
                mix,
                np.array(mix_target(state.mode, state.show, renderer.has_raw)),
                dt,
                settings.mode_s,
                settings.mode_s,
            )
            renderer.set_dwell(dwell)
            _, views = xr.locate_views(
                session,
                xr.ViewLocateInfo(
                    view_configuration_type=xr.ViewConfigurationType.PRIMARY_STEREO, display_time=t, space=space
                ),
            )
            proj_views = (xr.CompositionLayerProjectionView * len(views))()
            if capture is not None:
                capture.images, capture.rotations, capture.fovs = [], [], []
                capture.mix, capture.dwell = (float(mix[0]), float(mix[1])), dwell.copy()
            for i, view in enumerate(views):
                chain, w, h, fbos = chains[i]
                index = xr.acquire_swapchain_image(chain, xr.SwapchainImageAcquireInfo())
                xr.wait_swapchain_image(chain, xr.SwapchainImageWaitInfo(timeout=xr.INFINITE_DURATION))
                fbos[index].use()
                rotation = recenter @ rotation_from_xr(view.pose)
                renderer.draw(rotation, fov_from_xr(view.fov), (0, 0, w, h), mix[0], mix[1])
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
            layer = xr.CompositionLayerProjection(space=space, views=proj_views)
            layers.append(ctypes.byref(layer))
        xr.end_frame(
            session,
            xr.FrameEndInfo(display_time=t, environment_blend_mode=xr.EnvironmentBlendMode.OPAQUE, layers=layers),
        )
        frames += 1
