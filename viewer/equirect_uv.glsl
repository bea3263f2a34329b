// Equirect texture coordinates of a world ray, and their derivative along a change of the ray: the
// GLSL twin of geometry.dir_to_equirect_uv and geometry.equirect_uv_gradients. One file for the GL
// viewer's shader (renderer.py reads it) and the web page's (viewer/web/src/shader.js imports it).
// Rays are unnormalised, x right, y up, z forward; u = 0 at yaw -180°, v = 0 at the top.

const float PI = 3.14159265358979;

vec2 equirect_uv(vec3 r) {
    return vec2(atan(r.x, r.z) / (2.0 * PI) + 0.5, 0.5 - atan(r.y, length(r.xz)) / PI);
}

// d(u, v) along dr at the ray r; the u derivative is scaled by cos(pitch), so it stays finite at
// the poles and the mip level there is the sphere's footprint, not the stretched row's.
vec2 uv_grad(vec3 r, vec3 dr) {
    float h2 = r.x * r.x + r.z * r.z;
    float h = max(sqrt(h2), 1e-12);
    float n2 = h2 + r.y * r.y;
    float du = (r.z * dr.x - r.x * dr.z) / (h * sqrt(n2)) / (2.0 * PI);
    float dh = (r.x * dr.x + r.z * dr.z) / h;
    float dv = -(h * dr.y - r.y * dh) / n2 / PI;
    return vec2(du, dv);
}
