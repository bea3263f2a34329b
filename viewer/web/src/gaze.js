// The gaze crossfade's numbers and dynamics: a port of viewer/gaze.py and viewer/controls.py.
// Every constant comes from the server's /settings.json (made from those modules), so the two
// viewers cannot drift apart; tests/test_serve_browser.py checks the dwell values against
// viewer.gaze.dwell_step at the same timestamps.

/** Unit direction (x right, y up, z forward) of yaw/pitch in radians (geometry.yaw_pitch_to_dir). */
export function yawPitchToDir(yaw, pitch) {
  const cp = Math.cos(pitch);
  return [cp * Math.sin(yaw), Math.sin(pitch), cp * Math.cos(yaw)];
}

/** Directions (h*w*3, row-major) of an equirect's pixel centres (geometry.equirect_directions). */
export function equirectDirections(width, height) {
  const dirs = new Float64Array(width * height * 3);
  for (let r = 0; r < height; r++) {
    const pitch = (0.5 - (r + 0.5) / height) * Math.PI;
    for (let c = 0; c < width; c++) {
      const d = yawPitchToDir(((c + 0.5) / width - 0.5) * 2 * Math.PI, pitch);
      dirs.set(d, (r * width + c) * 3);
    }
  }
  return dirs;
}

function smoothstep(edge0, edge1, x) {
  const t = Math.min(Math.max((x - edge0) / (edge1 - edge0), 0), 1);
  return t * t * (3 - 2 * t);
}

/** One step of first-order dynamics (gaze.approach): exact for a target held over dt. */
export function approach(current, target, dt, riseS, fallS) {
  const rate = target > current ? -Math.expm1(-dt / riseS) : -Math.expm1(-dt / fallS);
  return current + (target - current) * rate;
}

/** The dwell map: gaze.dwell_step over a Float32Array (map_width/2 × map_width). */
export class DwellMap {
  constructor(gaze) {
    this.gaze = gaze;
    this.width = gaze.map_width;
    this.height = Math.floor(gaze.map_width / 2);
    this.dirs = equirectDirections(this.width, this.height);
    this.values = new Float32Array(this.width * this.height);
  }

  /** Advance by dt seconds with the gaze held at the unit direction `g` (or null: no gaze). */
  step(g, dt, coneScale) {
    const s = this.gaze;
    const inner = (s.inner_deg * coneScale * Math.PI) / 180;
    const outer = (s.outer_deg * coneScale * Math.PI) / 180;
    const { dirs, values } = this;
    for (let i = 0; i < values.length; i++) {
      let target = 0;
      if (g) {
        const cos = Math.min(Math.max(dirs[3 * i] * g[0] + dirs[3 * i + 1] * g[1] + dirs[3 * i + 2] * g[2], -1), 1);
        target = 1 - smoothstep(inner, outer, Math.acos(cos));
      }
      values[i] = approach(values[i], target, dt, s.bloom_s, s.fade_s);
    }
  }
}

/** [base, focus]: dream amount away from and at the gaze (gaze.mix_target, without `fade`). */
export function mixTarget(modes, mode, show, hasRaw) {
  if (!hasRaw || show === "dream") return [1, 1];
  if (show === "raw") return [0, 0];
  return mode === modes[0] ? [0, 1] : [1, 0];
}

/** The viewer state after `command` (controls.apply_command); `state` is not modified. */
export function applyCommand(settings, state, command, headYaw, frontYaw) {
  const { modes, controls } = settings;
  const shows = controls.show_cycle;
  const next = { ...state };
  if (command === "mode") next.mode = modes[(modes.indexOf(state.mode) + 1) % modes.length];
  else if (command === "wider" || command === "narrower") {
    const [lo, hi] = controls.cone_scale_range;
    const scale = state.coneScale * (command === "wider" ? controls.cone_step : 1 / controls.cone_step);
    next.coneScale = Math.min(Math.max(scale, lo), hi);
  } else if (command === "recenter") next.yawOffset = remainder(frontYaw - headYaw, 2 * Math.PI);
  else if (command === "toggle") next.show = shows[(shows.indexOf(state.show) + 1) % shows.length];
  else throw new Error(`unknown viewer command ${command}`);
  return next;
}

/** IEEE remainder (Python's math.remainder): x - n*y with n the nearest integer, ties to even. */
function remainder(x, y) {
  const q = x / y;
  let n = Math.round(q);
  if (Math.abs(q - Math.trunc(q)) === 0.5) n = 2 * Math.round(q / 2);
  return x - n * y;
}
