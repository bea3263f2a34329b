// vrdream serve's page: stand inside the photosphere in a headset's browser (WebXR) or drag to
// look on a desktop; where you look, the raw dissolves into the dream. The same crossfade as
// `vrdream view` (viewer/): the numbers come from the server's /settings.json, the panoramas
// and their mip levels from /scene.json and /media/.

import * as THREE from "three";
import { DwellMap, applyCommand, approach, mixTarget, yawPitchToDir } from "./gaze.js";
import { loadStill, tileUniforms, videoPanorama } from "./panorama.js";
import { FRAGMENT, VERTEX } from "./shader.js";

const $ = (id) => document.getElementById(id);

async function getJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

// ---------------------------------------------------------------- rotations in our frame
// Ours: x right, y up, z forward (docs/conventions.md); three.js and WebXR look down -z.
// Matrices are row-major arrays of 9.

/** geometry.rotation_yaw_pitch_roll(yaw, pitch, 0). */
function rotationYawPitch(yaw, pitch) {
  const [cy, sy, cp, sp] = [Math.cos(yaw), Math.sin(yaw), Math.cos(pitch), Math.sin(pitch)];
  // Ry(yaw) @ Rx(pitch)
  return [cy, -sy * sp, sy * cp, 0, cp, sp, -sy, -cy * sp, cy * cp];
}

function mul3(a, b) {
  const out = new Array(9).fill(0);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) out[3 * i + j] += a[3 * i + k] * b[3 * k + j];
  return out;
}

/** Our world-from-view rotation from a three.js/WebXR one (mirror z on both sides). */
function fromThree(m4) {
  const e = m4.elements; // column-major
  const r = [e[0], e[4], e[8], e[1], e[5], e[9], e[2], e[6], e[10]];
  return [r[0], r[1], -r[2], r[3], r[4], -r[5], -r[6], -r[7], r[8]];
}

/** A three.js Matrix4 (rotation only) of our world-from-view rotation. */
function toThree(r) {
  return new THREE.Matrix4().set(r[0], r[1], -r[2], 0, r[3], r[4], -r[5], 0, -r[6], -r[7], r[8], 0, 0, 0, 0, 1);
}

const forward = (r) => [r[2], r[5], r[8]];
const headYaw = (r) => Math.atan2(r[2], r[8]);

function normalize(v) {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

// ---------------------------------------------------------------- the viewer
class Viewer {
  constructor(settings, scene, panoramas, renderer) {
    this.settings = settings;
    this.scene = scene;
    this.renderer = renderer;
    this.dream = panoramas.dream;
    this.raw = panoramas.raw;
    this.hasRaw = Boolean(this.raw);
    this.state = this.initialState();
    this.mix = mixTarget(settings.modes, this.state.mode, this.state.show, this.hasRaw);
    this.dwell = new DwellMap(settings.gaze);
    // Desktop view: yaw/pitch (radians) and the horizontal field of view (degrees).
    this.view = { yaw: scene.start_yaw_rad, pitch: scene.start_pitch_rad, hfovDeg: settings.view.fov_deg };
    this.pointer = null; // CSS pixels in the canvas, or null when outside
    this.drag = null;
    this.lastTime = null;
    this.gazeOverride = undefined; // test hook: a fixed gaze direction (or null: none)
    this.frozen = false; // test hook: hold dwell and mix
    this.buttons = new Map(); // input source → pressed buttons/stick of the last frame
    this.transientGaze = null; // Vision Pro: the transient pointer's ray while pinching
    this.buildMaterial();
  }

  initialState() {
    const { modes, controls } = this.settings;
    return { mode: modes[0], show: controls.show_cycle[0], coneScale: 1, yawOffset: 0 };
  }

  buildMaterial() {
    const half = new Uint16Array(this.dwell.values.length);
    const dwellTex = new THREE.DataTexture(half, this.dwell.width, this.dwell.height, THREE.RedFormat, THREE.HalfFloatType);
    dwellTex.magFilter = dwellTex.minFilter = THREE.LinearFilter;
    dwellTex.wrapS = THREE.RepeatWrapping;
    dwellTex.wrapT = THREE.ClampToEdgeWrapping;
    dwellTex.generateMipmaps = false;
    dwellTex.needsUpdate = true;
    this.dwellTex = dwellTex;
    const dream = tileUniforms(this.dream);
    const raw = tileUniforms(this.raw || this.dream);
    const uniforms = {
      uRecenter: { value: new THREE.Matrix3() },
      uBase: { value: 0 },
      uFocus: { value: 1 },
      uHasRaw: { value: this.hasRaw },
      uDwell: { value: dwellTex },
      uDreamTiles: { value: dream.tiles },
      uDreamStart: { value: dream.start },
      uRawTiles: { value: raw.tiles },
      uRawStart: { value: raw.start },
    };
    dream.samplers.forEach((t, k) => (uniforms[`uDream${k}`] = { value: t }));
    raw.samplers.forEach((t, k) => (uniforms[`uRaw${k}`] = { value: t }));
    const material = new THREE.RawShaderMaterial({
      glslVersion: THREE.GLSL3,
      vertexShader: VERTEX,
      fragmentShader: FRAGMENT,
      uniforms,
      depthTest: false,
      depthWrite: false,
    });
    const geometry = new THREE.BufferGeometry();
    geometry.setAttribute("position", new THREE.Float32BufferAttribute([-1, -1, 0, 3, -1, 0, -1, 3, 0], 3));
    const mesh = new THREE.Mesh(geometry, material);
    mesh.frustumCulled = false;
    this.material = material;
    this.world = new THREE.Scene();
    this.world.add(mesh);
    this.camera = new THREE.PerspectiveCamera(this.settings.view.fov_deg, 1, 0.1, 10);
  }

  recenter() {
    return rotationYawPitch(this.state.yawOffset, 0);
  }

  command(name, head) {
    this.state = applyCommand(this.settings, this.state, name, headYaw(head), this.scene.start_yaw_rad);
  }

  // ------------------------------------------------------------ desktop
  desktopRotation() {
    return rotationYawPitch(this.view.yaw, this.view.pitch);
  }

  /** Canvas size (CSS pixels) and the tangents of the desktop view's symmetric frustum. */
  desktopFrustum() {
    const canvas = this.renderer.domElement;
    const w = canvas.clientWidth || canvas.width;
    const h = canvas.clientHeight || canvas.height;
    const tx = Math.tan((this.view.hfovDeg * Math.PI) / 360);
    return { w, h, tx, ty: (tx * h) / w };
  }

  /** The gaze through the pointer (geometry.screen_to_dir), else the view centre; world frame. */
  desktopGaze() {
    const r = this.desktopRotation();
    if (!this.pointer) return forward(r);
    const { w, h, tx, ty } = this.desktopFrustum();
    const [px, py] = this.pointer;
    if (px < 0 || py < 0 || px >= w || py >= h) return forward(r);
    const v = [-tx + (px / w) * 2 * tx, ty - (py / h) * 2 * ty, 1];
    return normalize([0, 1, 2].map((i) => r[3 * i] * v[0] + r[3 * i + 1] * v[1] + r[3 * i + 2] * v[2]));
  }

  placeDesktopCamera() {
    const { w, h, tx } = this.desktopFrustum();
    const aspect = w / h;
    this.camera.aspect = aspect;
    this.camera.fov = (2 * Math.atan(tx / aspect) * 180) / Math.PI;
    this.camera.updateProjectionMatrix();
    this.camera.quaternion.setFromRotationMatrix(toThree(this.desktopRotation()));
    this.camera.updateMatrixWorld(true);
  }

  // ------------------------------------------------------------ XR input
  /** Controller buttons (xr-standard mapping): edge-triggered commands. */
  pollControllers(session, head) {
    for (const source of session.inputSources) {
      const pad = source.gamepad;
      if (!pad) continue;
      const now = {
        mode: pad.buttons[0]?.pressed, // trigger
        toggle: pad.buttons[4]?.pressed, // A / X
        recenter: pad.buttons[5]?.pressed, // B / Y
        wider: (pad.axes[3] ?? 0) < -0.5, // thumbstick forward
        narrower: (pad.axes[3] ?? 0) > 0.5, // thumbstick back
      };
      const before = this.buttons.get(source) || {};
      for (const name of Object.keys(now)) if (now[name] && !before[name]) this.command(name, head);
      this.buttons.set(source, now);
    }
  }

  /** Head rotation and gaze (world frame) of an XR frame; a transient pointer's ray wins. */
  xrGaze(frame) {
    const space = this.renderer.xr.getReferenceSpace();
    const pose = frame.getViewerPose(space);
    if (!pose) return null;
    const head = fromThree(new THREE.Matrix4().fromArray(pose.transform.matrix));
    let gaze = forward(head);
    for (const source of frame.session.inputSources) {
      if (source.targetRayMode !== "transient-pointer" && source.targetRayMode !== "gaze") continue;
      const ray = frame.getPose(source.targetRaySpace, space);
      if (ray) gaze = forward(fromThree(new THREE.Matrix4().fromArray(ray.transform.matrix)));
    }
    return { head, gaze };
  }

  // ------------------------------------------------------------ frames
  /** Advance the gaze dynamics to `timeMs` and draw one frame (desktop, or both eyes in XR). */
  frame(timeMs, xrFrame) {
    const dt = this.lastTime === null ? 0 : Math.max(0, (timeMs - this.lastTime) / 1000);
    this.lastTime = timeMs;
    let gaze;
    if (xrFrame) {
      const looked = this.xrGaze(xrFrame);
      if (looked) {
        this.pollControllers(xrFrame.session, looked.head);
        gaze = looked.gaze;
      }
    } else {
      this.placeDesktopCamera();
      gaze = this.desktopGaze();
    }
    if (this.gazeOverride !== undefined) gaze = this.gazeOverride;
    const rc = this.recenter();
    const panoGaze = gaze ? [0, 1, 2].map((i) => rc[3 * i] * gaze[0] + rc[3 * i + 1] * gaze[1] + rc[3 * i + 2] * gaze[2]) : null;
    if (!this.frozen) {
      this.dwell.step(panoGaze, dt, this.state.coneScale);
      const target = mixTarget(this.settings.modes, this.state.mode, this.state.show, this.hasRaw);
      const tau = this.settings.gaze.mode_s;
      this.mix = this.mix.map((m, i) => approach(m, target[i], dt, tau, tau));
    }
    this.uploadDwell();
    const u = this.material.uniforms;
    u.uRecenter.value.set(...rc);
    u.uBase.value = this.mix[0];
    u.uFocus.value = this.mix[1];
    this.syncVideos();
    this.renderer.render(this.world, this.camera);
  }

  uploadDwell() {
    const data = this.dwellTex.image.data;
    const values = this.dwell.values;
    for (let i = 0; i < values.length; i++) data[i] = THREE.DataUtils.toHalfFloat(values[i]);
    this.dwellTex.needsUpdate = true;
  }

  /** Raw and dream videos in step: the raw follows the dream's clock when a frame or more apart. */
  syncVideos() {
    const a = this.dream.video;
    const b = this.raw && this.raw.video;
    if (a && b && !a.paused && Math.abs(a.currentTime - b.currentTime) > 1 / this.scene.dream.fps) b.currentTime = a.currentTime;
  }

  /** Each drawn view: viewport (GL pixels, y up), frustum tangents, rotation (ours, recentered). */
  views() {
    const xr = this.renderer.xr;
    const cams = xr.isPresenting ? xr.getCamera().cameras : [this.camera];
    const size = this.renderer.getDrawingBufferSize(new THREE.Vector2());
    return cams.map((cam) => {
      const p = cam.projectionMatrix.elements;
      const vp = cam.viewport ? cam.viewport.toArray() : [0, 0, size.x, size.y];
      const tan = (ndc, i) => (ndc + p[8 + i]) / p[5 * i];
      return {
        viewport: vp,
        tangents: [tan(-1, 0), tan(1, 0), tan(1, 1), tan(-1, 1)],
        rotation: mul3(this.recenter(), fromThree(cam.matrixWorld)),
      };
    });
  }
}

// ---------------------------------------------------------------- page
function progress(fraction, text) {
  $("bar").style.width = `${(100 * fraction).toFixed(1)}%`;
  if (text) $("status").textContent = text;
}

function maxTextureSize(gl) {
  const limit = gl.getParameter(gl.MAX_TEXTURE_SIZE);
  // ?maxTexture=N simulates a smaller device limit (tests, or to check a headset's layout).
  const asked = Number(new URLSearchParams(location.search).get("maxTexture"));
  return asked > 0 ? Math.min(asked, limit) : limit;
}

async function loadPanoramas(scene, gl) {
  if (scene.kind === "video") {
    const dream = videoPanorama(scene.dream);
    const raw = scene.raw ? videoPanorama(scene.raw) : null;
    await Promise.all([dream, raw].filter(Boolean).map((p) => p.video.play().catch(() => null)));
    return { dream, raw };
  }
  const limit = maxTextureSize(gl);
  const media = [scene.dream, scene.raw].filter(Boolean);
  const total = media.reduce((n, m) => n + m.levels.reduce((s, [w, h]) => s + w * h, 0), 0);
  let done = 0;
  const onPixels = (n) => {
    done += n;
    progress(Math.min(done / total, 1), "loading the panoramas…");
  };
  const [dream, raw] = await Promise.all(media.map((m) => loadStill(m, limit, onPixels)));
  return { dream, raw: raw || null };
}

function bindDesktop(viewer, canvas) {
  const perPx = () => (viewer.view.hfovDeg * Math.PI) / 180 / Math.max(canvas.clientWidth, 1);
  canvas.addEventListener("pointermove", (e) => {
    if (viewer.drag) {
      // Grab the sphere: the point under the pointer stays under it.
      viewer.view.yaw -= (e.offsetX - viewer.drag[0]) * perPx();
      viewer.view.pitch = Math.min(Math.max(viewer.view.pitch + (e.offsetY - viewer.drag[1]) * perPx(), -Math.PI / 2), Math.PI / 2);
      viewer.drag = [e.offsetX, e.offsetY];
    }
    viewer.pointer = [e.offsetX, e.offsetY];
  });
  canvas.addEventListener("pointerleave", () => (viewer.pointer = null));
  canvas.addEventListener("pointerdown", (e) => {
    viewer.drag = [e.offsetX, e.offsetY];
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointerup", () => (viewer.drag = null));
  const { fov_range_deg: range, zoom_step: step } = viewer.settings.view;
  canvas.addEventListener(
    "wheel",
    (e) => {
      const notches = -Math.sign(e.deltaY);
      viewer.view.hfovDeg = Math.min(Math.max(viewer.view.hfovDeg * step ** notches, range[0]), range[1]);
      e.preventDefault();
    },
    { passive: false },
  );
  const { keymap } = viewer.settings.controls;
  window.addEventListener("keydown", (e) => {
    const name = e.key === " " ? "space" : e.key.toLowerCase();
    if (keymap[name]) {
      viewer.command(keymap[name], viewer.desktopRotation());
      e.preventDefault();
    }
  });
}

async function offerXR(viewer) {
  const button = $("enter-vr");
  if (!navigator.xr || !(await navigator.xr.isSessionSupported("immersive-vr").catch(() => false))) {
    button.textContent = window.isSecureContext ? "VR not available in this browser" : "VR needs HTTPS or localhost";
    return;
  }
  button.disabled = false;
  button.textContent = "Enter VR";
  const xr = viewer.renderer.xr;
  xr.addEventListener("sessionstart", () => {
    // As `vrdream view` in a headset: the panorama's initial view starts in front.
    viewer.state = { ...viewer.state, yawOffset: viewer.scene.start_yaw_rad };
    viewer.lastTime = null;
    viewer.buttons.clear();
  });
  xr.addEventListener("sessionend", () => (viewer.lastTime = null));
  button.addEventListener("click", async () => {
    const session = await navigator.xr.requestSession("immersive-vr", { optionalFeatures: ["local-floor"] });
    await xr.setSession(session);
    [viewer.dream, viewer.raw].forEach((p) => p && p.video && p.video.play());
  });
}

/** The test hook (test-only: tests/test_serve_browser.py and bench/serve.py drive the page with it). */
function installTestHook(viewer, gl) {
  let capture = null;
  const toBase64 = (bytes) => {
    let text = "";
    for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(text);
  };
  const read = () => {
    const { x: w, y: h } = viewer.renderer.getDrawingBufferSize(new THREE.Vector2());
    const pixels = new Uint8Array(w * h * 4);
    gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, pixels);
    return { width: w, height: h, rgba: toBase64(pixels), views: viewer.views(), state: viewer.state, mix: viewer.mix };
  };
  const hook = {
    manual: false, // true: desktop frames only through frame(t)
    /** Desktop frames from now on only through frame(t); the viewer starts afresh (state, dwell, mix). */
    useManualClock() {
      hook.manual = true;
      viewer.lastTime = null;
      viewer.state = viewer.initialState();
      viewer.dwell.values.fill(0);
      viewer.mix = mixTarget(viewer.settings.modes, viewer.state.mode, viewer.state.show, viewer.hasRaw);
    },
    setView(yawRad, pitchRad, hfovDeg) {
      Object.assign(viewer.view, { yaw: yawRad, pitch: pitchRad }, hfovDeg ? { hfovDeg } : {});
    },
    setGaze(dir) {
      viewer.gazeOverride = dir === undefined ? undefined : dir;
    },
    /** The dwell map from base64 float32 (little-endian, row 0 = top). */
    setDwell(base64) {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      viewer.dwell.values.set(new Float32Array(bytes.buffer));
    },
    freeze(frozen, mix) {
      viewer.frozen = frozen;
      if (mix) viewer.mix = mix;
    },
    command: (name) => viewer.command(name, viewer.desktopRotation()),
    /** Desktop: draw one frame at `seconds`; what it drew (pixels only when `pixels`). */
    frame(seconds, pixels = true) {
      viewer.frame(seconds * 1000, null);
      return pixels ? read() : { state: viewer.state, mix: viewer.mix };
    },
    /** The dwell map as base64 float32 (large arrays cross the test driver slowly as JSON). */
    dwell: () => toBase64(new Uint8Array(viewer.dwell.values.buffer)),
    /** Pause the videos at `seconds`; resolves once both show that frame (and will upload it). */
    seek: (seconds) =>
      Promise.all(
        [viewer.dream, viewer.raw]
          .filter((p) => p && p.video)
          .map(
            (p) =>
              new Promise((ok) => {
                p.video.pause();
                // A frame presented from before the pause can call back first: wait for the one sought.
                const shown = (_now, meta) => {
                  if (Math.abs(meta.mediaTime - seconds) > 0.05) {
                    p.video.requestVideoFrameCallback(shown);
                    return;
                  }
                  p.textures[0].needsUpdate = true;
                  ok();
                };
                p.video.requestVideoFrameCallback(shown);
                p.video.currentTime = seconds;
              }),
          ),
      ),
    /** The videos' clocks (dream first), for the video tests. */
    videos: () => [viewer.dream, viewer.raw].filter((p) => p && p.video).map((p) => ({ time: p.video.currentTime, paused: p.video.paused })),
    /** XR: what the next frame draws (a promise). */
    nextFrame: () => new Promise((resolve) => (capture = resolve)),
    /** Wait until the GPU (SwiftShader: the CPU) has drawn everything asked for (timing): reading a
     * pixel back waits for the frame, where gl.finish() may return once the commands are sent. */
    finish: () => gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array(4)),
    frames: 0,
    firstFrameMs: null, // performance.now() of the first frame: page load → first frame
  };
  hook.afterFrame = () => {
    hook.frames += 1;
    if (hook.firstFrameMs === null) hook.firstFrameMs = performance.now();
    if (capture) {
      const done = capture;
      capture = null;
      done(read());
    }
  };
  window.__vrdreamTest = hook;
  return hook;
}

async function main() {
  const [settings, scene] = await Promise.all([getJson("settings.json"), getJson("scene.json")]);
  if (scene.note) $("note").textContent = scene.note;
  const canvas = $("view");
  const renderer = new THREE.WebGLRenderer({ canvas, antialias: false, alpha: false });
  renderer.setPixelRatio(window.devicePixelRatio);
  renderer.setSize(window.innerWidth, window.innerHeight, false);
  renderer.xr.enabled = true;
  renderer.xr.setReferenceSpaceType("local");
  const gl = renderer.getContext();
  const panoramas = await loadPanoramas(scene, gl);
  const viewer = new Viewer(settings, scene, panoramas, renderer);
  bindDesktop(viewer, canvas);
  window.addEventListener("resize", () => renderer.setSize(window.innerWidth, window.innerHeight, false));
  const hook = installTestHook(viewer, gl);
  renderer.setAnimationLoop((time, xrFrame) => {
    if (!xrFrame && hook.manual) return;
    viewer.frame(time, xrFrame);
    hook.afterFrame();
  });
  progress(1, "");
  $("loading").hidden = true;
  await offerXR(viewer);
  document.body.dataset.ready = "1";
}

main().catch((err) => {
  $("status").textContent = `vrdream: ${err.message}`;
  document.body.dataset.error = err.message;
  throw err;
});
