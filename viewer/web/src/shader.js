// The sphere pass: a port of the GL viewer's fragment shader (viewer/renderer.py), per pixel the
// same maths as the numpy reference (viewer/reference.py). One triangle covers the view; each
// fragment gets its world ray (rotation only: a sphere at infinity, no parallax), turns it into
// equirect (u, v) and samples the panoramas with textureGrad and derivatives computed
// analytically from the ray: screen-space derivatives of u jump by a whole texture at the
// 0°/360° wrap (the classic seam), and the u derivative scaled by cos(pitch) keeps the poles
// sharp. Panoramas are SRGB8_ALPHA8 textures (decoded to linear before filtering), raw and dream
// mix in linear light, and the result is sRGB-encoded here: WebGL's canvas and WebXR's layer are
// 8-bit framebuffers shown as they are.

// The equirect maths, the same file as the GL viewer's shader (esbuild inlines it as text).
import EQUIRECT_UV from "../../equirect_uv.glsl";

export const VERTEX = /* glsl */ `
precision highp float;
in vec3 position;            // clip-space corners of one triangle covering the view
uniform mat4 projectionMatrix;
uniform mat4 viewMatrix;
out vec3 vRay;               // world ray (three.js frame: -z forward), linear across the view
void main() {
  // The view ray through clip point (x, y) of a perspective frustum, at depth -1.
  vec3 view = vec3((position.x + projectionMatrix[2][0]) / projectionMatrix[0][0],
                   (position.y + projectionMatrix[2][1]) / projectionMatrix[1][1], -1.0);
  vRay = transpose(mat3(viewMatrix)) * view;   // the eye's rotation only: no parallax
  gl_Position = vec4(position.xy, 1.0, 1.0);
}
`;

export const FRAGMENT = /* glsl */ `
precision highp float;
precision highp int;
in vec3 vRay;
uniform mat3 uRecenter;      // panorama-from-world rotation in our frame (z forward): recentering
uniform float uBase;         // dream amount away from the gaze
uniform float uFocus;        // dream amount at the gaze
uniform bool uHasRaw;
uniform sampler2D uDwell;    // gaze weight, an equirect (u wraps)
// Tiles: (count, panorama width, margin, tile texture width), and each tile's first column.
uniform vec4 uDreamTiles, uDreamStart, uRawTiles, uRawStart;
uniform sampler2D uDream0, uDream1, uDream2, uDream3;
uniform sampler2D uRaw0, uRaw1, uRaw2, uRaw3;
out vec4 fragColor;

${EQUIRECT_UV}

vec3 pano(vec4 t, vec4 start, sampler2D t0, sampler2D t1, sampler2D t2, sampler2D t3, vec2 uv, vec2 gx, vec2 gy) {
  int n = int(t.x);
  if (n == 1) return textureGrad(t0, uv, gx, gy).rgb;
  float x = uv.x * t.y;
  int i = 0;
  for (int k = 1; k < 4; ++k) if (k < n && x >= start[k]) i = k;
  vec2 luv = vec2((x - start[i] + t.z) / t.w, uv.y);
  vec2 s = vec2(t.y / t.w, 1.0);
  if (i == 0) return textureGrad(t0, luv, gx * s, gy * s).rgb;
  if (i == 1) return textureGrad(t1, luv, gx * s, gy * s).rgb;
  if (i == 2) return textureGrad(t2, luv, gx * s, gy * s).rgb;
  return textureGrad(t3, luv, gx * s, gy * s).rgb;
}

vec3 linearToSrgb(vec3 c) {
  c = clamp(c, 0.0, 1.0);
  return mix(c * 12.92, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(vec3(0.0031308), c));
}

void main() {
  vec3 r = uRecenter * vec3(vRay.x, vRay.y, -vRay.z);
  vec2 uv = equirect_uv(r);
  // The ray is linear across the view, so its screen derivatives are exact.
  vec2 gx = uv_grad(r, dFdx(r));
  vec2 gy = uv_grad(r, dFdy(r));
  vec3 color = pano(uDreamTiles, uDreamStart, uDream0, uDream1, uDream2, uDream3, uv, gx, gy);
  if (uHasRaw) {
    vec3 raw = pano(uRawTiles, uRawStart, uRaw0, uRaw1, uRaw2, uRaw3, uv, gx, gy);
    float m = uBase + (uFocus - uBase) * texture(uDwell, uv).r;
    color = mix(raw, color, m);
  }
  fragColor = vec4(linearToSrgb(color), 1.0);
}
`;
