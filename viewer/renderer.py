"""The GL sphere renderer (moderngl): one fullscreen pass into any framebuffer.

Each fragment builds its view ray from the frustum tangents and the camera rotation, turns it
into equirect (u, v), and samples the raw and dream panoramas with ``textureGrad`` using
derivatives computed analytically from the ray (``geometry.equirect_uv_gradients``, the same
formula). Screen-space derivatives of u would jump by a whole texture width at the 0°/360°
wrap and pick the smallest mip there, the classic seam; analytic ones do not, and scaling the
u derivative by cos(pitch) keeps the poles sharp. Panoramas are SRGB8 textures (decoded to
linear before filtering, mipmaps averaged in linear light), raw and dream are mixed in linear
light, and the target is an sRGB framebuffer (``GL_FRAMEBUFFER_SRGB`` encodes on write).

It knows nothing of windows or XR: callers bind a framebuffer and call :meth:`SphereRenderer.draw`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import moderngl
import numpy as np

from vrdream.errors import VrdreamError

from .geometry import Fov

GL_SRGB8 = 0x8C41
GL_SRGB8_ALPHA8 = 0x8C43
GL_FRAMEBUFFER_SRGB = 0x8DB9
#: Panoramas wider than the GL limit are split into at most this many column tiles.
MAX_TILES = 4
#: Columns copied from each neighbour into a tile's margins (at most an eighth of the texture
#: limit). Tiles start on multiples of the margin, a power of two, so their mip levels up to
#: log2(margin) hold exactly the texels of the whole panorama's and blend across tile borders
#: as they would inside one texture.
TILE_MARGIN = 256

_VERTEX = """
#version 330
void main() {
    // One triangle covering the viewport: (-1,-1), (3,-1), (-1,3).
    vec2 p = vec2(float((gl_VertexID & 1) << 2) - 1.0, float((gl_VertexID & 2) << 1) - 1.0);
    gl_Position = vec4(p, 0.0, 1.0);
}
"""

_FRAGMENT = """
#version 330
uniform mat3 u_rot;          // world-from-view rotation (view looks down +z, x right, y up)
uniform vec4 u_tan;          // frustum tangents: left, right, up, down
uniform vec4 u_viewport;     // x, y, width, height in framebuffer pixels
uniform float u_base;        // dream amount away from the gaze
uniform float u_focus;       // dream amount at the gaze
uniform bool u_has_raw;
uniform sampler2D u_dwell;   // gaze weight, an equirect (R32F, u wraps)
struct Tiles {
    int n;                   // column tiles (1 unless wider than GL_MAX_TEXTURE_SIZE)
    float width;             // panorama width in texels
    float margin;            // columns of the left neighbour in front of each tile
    float tile_width;        // columns in each tile's texture
    vec4 start;              // first column each tile is used for
};
uniform Tiles u_dream_tiles, u_raw_tiles;
uniform sampler2D u_dream0, u_dream1, u_dream2, u_dream3;
uniform sampler2D u_raw0, u_raw1, u_raw2, u_raw3;
out vec4 frag;

#include <equirect_uv>

// A panorama split in column tiles, sampled at global (u, v) with global derivatives.
// Sampler arrays cannot be indexed per pixel in GLSL 3.30, hence the four named samplers.
vec3 pano(Tiles t, sampler2D t0, sampler2D t1, sampler2D t2, sampler2D t3, vec2 uv, vec2 gx, vec2 gy) {
    if (t.n == 1) return textureGrad(t0, uv, gx, gy).rgb;
    float x = uv.x * t.width;
    int i = 0;
    for (int k = 1; k < 4; ++k) if (k < t.n && x >= t.start[k]) i = k;
    vec2 luv = vec2((x - t.start[i] + t.margin) / t.tile_width, uv.y);
    vec2 s = vec2(t.width / t.tile_width, 1.0);
    if (i == 0) return textureGrad(t0, luv, gx * s, gy * s).rgb;
    if (i == 1) return textureGrad(t1, luv, gx * s, gy * s).rgb;
    if (i == 2) return textureGrad(t2, luv, gx * s, gy * s).rgb;
    return textureGrad(t3, luv, gx * s, gy * s).rgb;
}

void main() {
    vec2 px = gl_FragCoord.xy - u_viewport.xy;              // pixel centre, y up
    float sx = (u_tan.y - u_tan.x) / u_viewport.z;           // tangent per pixel right
    float sy = (u_tan.z - u_tan.w) / u_viewport.w;           // tangent per pixel down
    vec3 view = vec3(u_tan.x + px.x * sx, u_tan.z - (u_viewport.w - px.y) * sy, 1.0);
    vec3 r = u_rot * view;
    vec2 uv = equirect_uv(r);
    vec2 gx = uv_grad(r, u_rot[0] * sx);
    vec2 gy = uv_grad(r, -u_rot[1] * sy);
    vec3 dream = pano(u_dream_tiles, u_dream0, u_dream1, u_dream2, u_dream3, uv, gx, gy);
    vec3 color = dream;
    if (u_has_raw) {
        vec3 raw = pano(u_raw_tiles, u_raw0, u_raw1, u_raw2, u_raw3, uv, gx, gy);
        float m = u_base + (u_focus - u_base) * texture(u_dwell, uv).r;
        color = mix(raw, dream, m);
    }
    frag = vec4(color, 1.0);   // linear: the sRGB framebuffer encodes
}
""".replace("#include <equirect_uv>", (Path(__file__).parent / "equirect_uv.glsl").read_text())


@dataclass(frozen=True)
class TileLayout:
    """How a panorama of ``width`` columns is split: tile ``i`` is a texture of ``tile_width``
    columns starting at column ``starts[i] - margin`` (wrapping), and is used for columns
    ``starts[i]`` up to the next start."""

    width: int
    starts: tuple[int, ...]
    margin: int
    tile_width: int

    @classmethod
    def plan(cls, width: int, height: int, max_size: int) -> TileLayout:
        """One texture when it fits (no margin: it wraps by itself), else the fewest aligned tiles."""
        if height > max_size:
            raise VrdreamError(
                f"panorama height {height} exceeds this GPU's texture limit {max_size}; downscale it first"
            )
        if width <= max_size:
            return cls(width, (0,), 0, width)
        margin = 1 << (min(TILE_MARGIN, max_size // 8).bit_length() - 1)
        payload = (max_size - 2 * margin) // margin * margin
        n = math.ceil(width / payload)
        if n > MAX_TILES:
            raise VrdreamError(
                f"panorama width {width} needs {n} tiles of at most {max_size} texels; the viewer supports {MAX_TILES}"
            )
        return cls(width, tuple(i * payload for i in range(n)), margin, payload + 2 * margin)

    def tile(self, image: np.ndarray, i: int) -> np.ndarray:
        """Tile ``i`` (H, tile_width, C) of ``image`` (H, W, C), columns wrapped around the seam."""
        if len(self.starts) == 1:
            return np.ascontiguousarray(image)
        cols = np.arange(self.starts[i] - self.margin, self.starts[i] - self.margin + self.tile_width) % self.width
        return np.ascontiguousarray(image[:, cols])


class SphereRenderer:
    """Draws the photosphere, raw and dream mixed by the gaze, into the bound framebuffer.

    ctx: a moderngl context (GL 3.3+). dream, raw: (H, W, 3) uint8 sRGB equirects (their sizes
    may differ: a dream is often upscaled); ``raw=None`` draws the dream alone.
    dwell_shape: (h, w) of the gaze weight map. max_texture_size: override
    GL_MAX_TEXTURE_SIZE (tests use it to force tiling).
    """

    def __init__(
        self,
        ctx: moderngl.Context,
        dream: np.ndarray,
        raw: np.ndarray | None,
        dwell_shape: tuple[int, int] = (128, 256),
        max_texture_size: int | None = None,
    ) -> None:
        self.ctx = ctx
        self.max_texture_size = max_texture_size or ctx.info["GL_MAX_TEXTURE_SIZE"]
        self.prog = ctx.program(vertex_shader=_VERTEX, fragment_shader=_FRAGMENT)
        self.vao = ctx.vertex_array(self.prog, [])
        self.dwell = ctx.texture(dwell_shape[::-1], 1, np.zeros(dwell_shape, np.float32), dtype="f4")
        self.dwell.repeat_x, self.dwell.repeat_y = True, False
        self.dwell.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self._uniform("u_dwell").value = 0
        # Texture units: 0 dwell, 1-4 dream tiles, 5-8 raw tiles. Without a raw the raw
        # samplers point at the dream units: valid, and never read (u_has_raw is false).
        self.dream = self._upload(dream, "dream", 1)
        self.raw = self._upload(raw, "raw", 5) if raw is not None else None
        if raw is None:
            self._bind_tiles("raw", len(self.dream), 1)
        self._uniform("u_has_raw").value = raw is not None

    def _uniform(self, name: str) -> moderngl.Uniform:
        """The shader's uniform ``name`` (a program member can also be an attribute or a block)."""
        member = self.prog[name]
        if not isinstance(member, moderngl.Uniform):
            raise TypeError(f"shader member {name!r} is a {type(member).__name__}, not a uniform")
        return member

    @property
    def has_raw(self) -> bool:
        return self.raw is not None

    def _bind_tiles(self, name: str, n: int, unit: int) -> None:
        # Unused samplers repeat the last tile's unit.
        for k in range(MAX_TILES):
            self._uniform(f"u_{name}{k}").value = unit + min(k, n - 1)

    def _upload(self, image: np.ndarray, name: str, unit: int) -> list[moderngl.Texture]:
        """SRGB8 textures (one per tile) with GL-generated (linear-light) mipmaps, and their uniforms."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected (H, W, 3) uint8 sRGB, got {image.shape} {image.dtype}")
        layout = TileLayout.plan(image.shape[1], image.shape[0], self.max_texture_size)
        n = len(layout.starts)
        textures = []
        for i in range(n):
            tile = layout.tile(image, i)
            tex = self.ctx.texture((tile.shape[1], tile.shape[0]), 3, tile, alignment=1, internal_format=GL_SRGB8)
            tex.build_mipmaps()
            tex.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
            # One tile wraps around the 0°/360° seam itself; tiles carry their neighbours in margins.
            tex.repeat_x, tex.repeat_y = n == 1, False
            textures.append(tex)
        pad = lambda t: tuple(float(v) for v in t) + (0.0,) * (MAX_TILES - n)  # noqa: E731
        self._uniform(f"u_{name}_tiles.n").value = n
        self._uniform(f"u_{name}_tiles.width").value = float(layout.width)
        self._uniform(f"u_{name}_tiles.margin").value = float(layout.margin)
        self._uniform(f"u_{name}_tiles.tile_width").value = float(layout.tile_width)
        self._uniform(f"u_{name}_tiles.start").value = pad(layout.starts)
        self._bind_tiles(name, n, unit)
        return textures

    def set_dwell(self, dwell: np.ndarray) -> None:
        """Upload the gaze weight map (h, w) float32 (``gaze.dwell_step``)."""
        self.dwell.write(np.ascontiguousarray(dwell, dtype=np.float32))

    def draw(
        self, rotation: np.ndarray, fov: Fov, viewport: tuple[int, int, int, int], base: float = 0.0, focus: float = 1.0
    ) -> None:
        """Draw one view into the bound framebuffer's ``viewport`` (x, y, width, height; GL, y up).

        rotation: world-from-view (3, 3), recentering included. base, focus: dream amount away
        from and at the gaze (``gaze.mix_target``).
        """
        self.ctx.viewport = viewport
        # GL_FRAMEBUFFER_SRGB only encodes into sRGB attachments, so a linear target (a float
        # XR swapchain) gets linear values, as OpenXR wants.
        self.ctx.enable_direct(GL_FRAMEBUFFER_SRGB)
        # Column-major upload: GLSL mat3 columns are the rotation's columns.
        self._uniform("u_rot").write(np.asarray(rotation, dtype=np.float32).T.tobytes())
        self._uniform("u_tan").value = fov.tangents()
        self._uniform("u_viewport").value = tuple(float(v) for v in viewport)
        self._uniform("u_base").value = float(base)
        self._uniform("u_focus").value = float(focus)
        self.dwell.use(0)
        for k, tex in enumerate(self.dream):
            tex.use(1 + k)
        for k, tex in enumerate(self.raw or []):
            tex.use(5 + k)
        self.vao.render(moderngl.TRIANGLES, vertices=3)

    def release(self) -> None:
        for tex in self.dream + (self.raw or []) + [self.dwell]:
            tex.release()
        self.vao.release()
        self.prog.release()


class OffscreenTarget:
    """An sRGB8 colour framebuffer of ``width``×``height`` to draw into and read back."""

    def __init__(self, ctx: moderngl.Context, width: int, height: int) -> None:
        self.size = (width, height)
        self.texture = ctx.texture((width, height), 4, internal_format=GL_SRGB8_ALPHA8)
        self.fbo = ctx.framebuffer(color_attachments=[self.texture])

    def read(self) -> np.ndarray:
        """The stored sRGB pixels (height, width, 3) uint8, row 0 at the top."""
        w, h = self.size
        data = np.frombuffer(self.texture.read(), dtype=np.uint8).reshape(h, w, 4)
        return np.ascontiguousarray(data[::-1, :, :3])

    def release(self) -> None:
        self.fbo.release()
        self.texture.release()


#: Offscreen GL contexts tried in order: (name for the user, moderngl.create_context arguments).
#: EGL needs no display; the platform's own is WGL on Windows, CGL on macOS, GLX with a display.
OFFSCREEN_BACKENDS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("EGL", {"backend": "egl"}),
    ("the platform's OpenGL", {}),
)


def _standalone(backend: dict[str, Any]) -> moderngl.Context:
    return moderngl.create_context(standalone=True, require=330, **backend)


def headless_context() -> moderngl.Context:
    """A standalone GL 3.3+ context on EGL only: no display, and no GPU needed (Mesa llvmpipe).

    What the tests and benchmarks measure; stills use :func:`offscreen_context`, which falls back.
    """
    try:
        return _standalone(OFFSCREEN_BACKENDS[0][1])
    except Exception as exc:  # glcontext raises plain Exceptions with the EGL reason
        raise VrdreamError(
            f"cannot create an offscreen OpenGL context with EGL ({exc}); on Debian/Ubuntu "
            "install libegl1 libegl-mesa0 libgl1-mesa-dri"
        ) from exc


def offscreen_context() -> tuple[moderngl.Context, str]:
    """The first of :data:`OFFSCREEN_BACKENDS` that works, and its name; :class:`VrdreamError`
    giving each one's reason when none does."""
    reasons = []
    for name, backend in OFFSCREEN_BACKENDS:
        try:
            return _standalone(backend), name
        except Exception as exc:  # glcontext raises plain Exceptions (and moderngl its own) with the reason
            text = str(exc).strip()
            reasons.append(f"{name}: {text.splitlines()[0] if text else type(exc).__name__}")
    raise VrdreamError(f"no offscreen OpenGL context ({'; '.join(reasons)})")
