"""Sphere geometry (vrdream.equirect, vrdream.cubemap): against py360convert, analytic fields, exact symmetries."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import py360convert
import pytest
import torch
from PIL import Image

from vrdream.cubemap import (
    FACE_BASIS,
    SAMPLE_BAND_POINTS,
    c2e,
    c2e_grid,
    crop_pad,
    cube_coords,
    cubemap_grid,
    e2c,
    e2c_grid,
    face_dirs,
    face_stack,
    pad_faces,
    padded_fov,
    resample_cubemap,
    sample_cubemap,
)
from vrdream.equirect import (
    PAD,
    axis_angle_matrix,
    equirect_dirs,
    grid_sample_batched,
    pad_equirect,
    perspective,
    perspective_dirs,
    random_rotation,
    rotate,
    rotation_matrix,
    sample_equirect,
)

# Face k is the pinhole view looking at (yaw, pitch): F R B L U D.
FACE_VIEWS = [(0, 0), (math.pi / 2, 0), (math.pi, 0), (-math.pi / 2, 0), (0, math.pi / 2), (0, -math.pi / 2)]


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return 10 * math.log10(1 / ((a - b) ** 2).mean().item())


@pytest.fixture(scope="module")
def mars_np(shared_data: Path) -> np.ndarray:
    """(1024, 2048, 3) float32 in [0, 1]."""
    return np.asarray(Image.open(shared_data / "mars.jpg").convert("RGB"), dtype=np.float32) / 255


@pytest.fixture(scope="module")
def mars(mars_np: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(mars_np).permute(2, 0, 1)[None]


def field(dirs: torch.Tensor) -> torch.Tensor:
    """A smooth sphere: colour = 0.5 + 0.5 * unit direction, (..., 3) -> (..., 3)."""
    return 0.5 + 0.5 * dirs / dirs.norm(dim=-1, keepdim=True)


def field_equirect(h: int, w: int, dtype=torch.float64) -> torch.Tensor:
    return field(equirect_dirs(h, w, dtype=dtype)).permute(2, 0, 1)[None]


def field_faces(n: int, pad: int = 0, dtype=torch.float64) -> torch.Tensor:
    return field(face_dirs(n, pad, dtype=dtype)).permute(0, 3, 1, 2)[None]


# --------------------------------------------------------------------------------------- against py360convert


def test_orientation_matches_py360convert(mars_np, mars):
    """Sampled at py360convert's own face pixel positions, our sampler gives its faces (cv2's 1/32-pixel
    fixed-point maps are the only difference): same face order, orientation and equirect mapping."""
    n = 256
    ref = np.stack(py360convert.e2c(mars_np, n, cube_format="list"))  # (6, n, n, 3)
    xyz = torch.from_numpy(py360convert.utils.xyzcube(n).copy()).reshape(n, 6, n, 3).permute(1, 0, 2, 3)
    ours = sample_equirect(mars, xyz[None])[0].permute(1, 2, 3, 0).numpy()
    per_face = np.abs(ours - ref).mean(axis=(1, 2, 3)) * 255
    assert per_face.max() < 0.15, per_face


def test_face_basis_is_py360convert_xyzcube():
    """Our face points are py360convert's, up to the pixel-centre convention (theirs span the face edge to edge)."""
    n = 8
    ref = 2 * py360convert.utils.xyzcube(n).reshape(n, 6, n, 3).transpose(1, 0, 2, 3)  # on the cube |max| = 1
    ours = face_dirs(n, dtype=torch.float64).numpy()
    basis = np.array(FACE_BASIS, dtype=np.float64)  # (6, 3, 3)
    fwd = basis[:, 2][:, None, None, :]
    # Theirs: u in linspace(-1, 1, n); ours: (2i + 1)/n - 1 = linspace(-1, 1, n) * (n - 1)/n.
    np.testing.assert_allclose(fwd + (ref - fwd) * (n - 1) / n, ours, atol=1e-6)


def test_e2c_close_to_py360convert(mars_np, mars):
    """Our pixel-centre faces vs py360convert's edge-to-edge ones: under 1/255 mean abs (at face W/2).

    The conventions differ by up to half a pixel at the face edges, so the gap scales as 1/N:
    1.0/255 at W/4 on mars (whose deck is near-Nyquist detail), 0.5/255 at W/2.
    """
    n = mars.shape[-1] // 2
    ref = np.stack(py360convert.e2c(mars_np, n, cube_format="list"))
    ours = e2c(mars, n)[0].permute(0, 2, 3, 1).numpy()
    assert np.abs(ours - ref).mean() < 1 / 255


def test_c2e_close_to_py360convert():
    """On a smooth sphere both c2e land on the same picture (py360convert's differs by ~half a pixel)."""
    n, h, w = 256, 512, 1024
    faces = field_faces(n, dtype=torch.float32)
    ref = py360convert.c2e(list(faces[0].permute(0, 2, 3, 1).numpy()), h, w, cube_format="list")
    ours = c2e(faces, h, w)[0].permute(1, 2, 0).numpy()
    assert np.abs(ours - ref).mean() < 1 / 255


# ----------------------------------------------------------------------------------------------- round trips


def test_round_trip_mars(mars):
    """e2c -> c2e on mars at face W/4 (bicubic) and 3W/8.

    At W/4 a face's centre pixels are exactly as big as the equirect's equator pixels, so the
    rover deck's near-Nyquist detail is resampled twice at the Nyquist rate: 35.9 dB here, and
    36.0 dB even with scipy's prefiltered cubic spline (the interpolator is not the limit). With
    faces of 3W/8 the round trip clears 40 dB.
    """
    h, w = mars.shape[-2:]
    assert psnr(c2e(e2c(mars, w // 4, mode="bicubic"), h, w, mode="bicubic"), mars) > 35.5
    assert psnr(c2e(e2c(mars, 3 * w // 8, mode="bicubic"), h, w, mode="bicubic"), mars) > 40


def test_round_trip_smooth_at_w4():
    """Away from near-Nyquist detail, e2c -> c2e at face W/4 is lossless to 50 dB (bilinear)."""
    equi = field_equirect(64, 128)
    assert psnr(c2e(e2c(equi, 32), 64, 128), equi) > 50


def test_c2e_any_width():
    """Widths py360convert rejects (not a multiple of 8), odd sizes included, match the analytic sphere."""
    faces = field_faces(48)
    for h, w in [(50, 100), (51, 103), (7, 13)]:
        out = c2e(faces, h, w)
        assert out.shape == (1, 3, h, w)
        assert (out - field_equirect(h, w)).abs().max() < 2e-3


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("eac", [False, True])
def test_sampling_in_bands_is_the_whole_grid(mode, eac):
    """c2e and sample_cubemap sample in bands (bounded memory at 8K): bit-for-bit what one grid for all
    points samples, whatever the band size, turned or not, a batch of rotations included."""
    gen = torch.Generator().manual_seed(3)
    faces = torch.rand(1, 6, 3, 12, 12, generator=gen)
    turns = torch.stack([random_rotation(gen) for _ in range(2)])
    # 256 x 512: the whole grid is cut into one piece per thread (grid_sample_batched), 64-row bands are not
    for (h, w), rotation in [((37, 70), None), ((37, 70), turns[0]), ((37, 70), turns), ((256, 512), turns[1])]:
        grid = c2e_grid(12, h, w, rotation=rotation, mode=mode, eac=eac)
        whole = sample_cubemap(faces, None, mode=mode, eac=eac, grid=grid)  # one grid for every pixel
        assert whole.shape[0] == (1 if rotation is None or rotation.ndim == 2 else 2)
        for band_rows in (None, 1, 5, 36, 64, h, 1000):
            out = c2e(faces, h, w, rotation=rotation, mode=mode, eac=eac, band_rows=band_rows)
            assert torch.equal(out, whole), (h, band_rows)
        assert torch.equal(c2e(faces, h, w, rotation=rotation, mode=mode, eac=eac, grid=grid, band_rows=4), whole)
    # any directions (here a turned cube's padded faces, as a dream's views are), in bands of any size
    dirs = face_dirs(20, 3, rotation=turns, eac=not eac)
    whole = grid_sample_batched(face_stack(faces, mode, eac), cubemap_grid(dirs, 12, PAD[mode], eac), mode)
    for band in (1000, 7, SAMPLE_BAND_POINTS):
        assert torch.equal(sample_cubemap(faces, dirs, mode=mode, eac=eac, band=band), whole), band


# ------------------------------------------------------------------------------------------ wrap and poles


def test_smooth_field_at_poles_and_wrap():
    """Colour = direction: e2c and c2e match analytic values everywhere, incl. the pole rows and the wrap columns."""
    h, w, n = 64, 128, 32
    equi = field_equirect(h, w)
    faces = e2c(equi, n)
    err = (faces - field_faces(n)).abs()
    assert err.max() < 2e-3, err.amax(dim=(0, 2, 3, 4))  # U and D faces include the poles
    back = c2e(field_faces(n), h, w)
    err = (back - equi).abs()[0].amax(0)
    for name, part in [("top row", err[0]), ("bottom row", err[-1]), ("wrap columns", err[:, [0, -1]])]:
        assert part.max() < 2e-3, name
    assert err.max() < 2e-3


def test_no_seam_at_wrap(mars):
    """Looking backwards (yaw 180) equals looking forwards at the equirect rolled by W/2: no black/seam column."""
    w = mars.shape[-1]
    back = perspective(mars, 200, 200, math.radians(60), yaw=math.pi)
    rolled = perspective(torch.roll(mars, w // 2, dims=-1), 200, 200, math.radians(60))
    assert (back - rolled).abs().max() < 1e-4


def test_pole_is_continuous(mars):
    """Over the north pole, a view equals the one of the sphere turned 180 degrees about x (an exact pixel
    permutation of the equirect: rows flipped, columns mirrored and rolled by W/2)."""
    turned = torch.roll(mars.flip(-2).flip(-1), mars.shape[-1] // 2, dims=-1)
    for pitch in (math.pi / 2, -math.pi / 2):
        a = perspective(mars, 64, 64, math.radians(40), pitch=pitch)
        # turned(d) = mars(M d), M = diag(1, -1, -1), and M Rx(pitch) = Ry(pi) Rx(-pitch) Rz(pi).
        b = perspective(turned, 64, 64, math.radians(40), yaw=math.pi, pitch=-pitch, roll=math.pi)
        assert (a - b).abs().max() < 1e-4


def test_pad_equirect_is_the_sphere():
    """The pad of an equirect holds the values of the directions just beyond its border."""
    h, w, p = 16, 32, 2
    padded = pad_equirect(field_equirect(h, w), p)
    col = torch.arange(-p, w + p, dtype=torch.float64)
    row = torch.arange(-p, h + p, dtype=torch.float64)
    yaw = ((col + 0.5) / w - 0.5) * 2 * math.pi
    pitch = (0.5 - (row + 0.5) / h) * math.pi  # beyond +-90 degrees: over the pole
    dirs = torch.stack(
        torch.broadcast_tensors(
            torch.cos(pitch)[:, None] * torch.sin(yaw),
            torch.sin(pitch)[:, None] + 0 * yaw,
            torch.cos(pitch)[:, None] * torch.cos(yaw),
        ),
        -1,
    )
    torch.testing.assert_close(padded[0], field(dirs).permute(2, 0, 1))


# -------------------------------------------------------------------------------------------- padded faces


def test_padded_interior_is_the_face(mars):
    n, p = 64, 5
    plain = e2c(mars, n)
    padded = e2c(mars, n, pad=p)
    assert padded.shape == (1, 6, 3, n + 2 * p, n + 2 * p)
    assert torch.equal(crop_pad(padded, p), plain)


def test_padded_face_is_a_wider_perspective_view(mars):
    n, p = 32, 4
    padded = e2c(mars, n, pad=p)
    for k, (yaw, pitch) in enumerate(FACE_VIEWS):
        view = perspective(mars, n + 2 * p, n + 2 * p, padded_fov(n, p), yaw=yaw, pitch=pitch)
        assert (padded[0, k] - view[0]).abs().max() < 1e-4, k


def test_pad_shows_the_neighbouring_faces():
    """Direction-coloured sphere: every pad pixel has the colour of its direction, i.e. of the neighbour there,
    whether cut from the equirect (e2c) or from the cube itself (pad_faces, resample_cubemap)."""
    n, p = 32, 6
    want = field_faces(n, p)
    assert (e2c(field_equirect(256, 512), n, pad=p) - want).abs().max() < 2e-3
    assert (resample_cubemap(field_faces(n), pad=p) - want).abs().max() < 2e-3
    # pad_faces' ring, corners aside: a corner pixel of the ring looks past the cube's corner, which no
    # face holds, so it takes the nearest corner pixel there (within a pixel).
    err = (pad_faces(field_faces(n), 2) - field_faces(n, 2)).abs()[0].amax(dim=(0, 1))
    corners = torch.zeros_like(err, dtype=torch.bool)
    for rows in (slice(0, 2), slice(-2, None)):
        for cols in (slice(0, 2), slice(-2, None)):
            corners[rows, cols] = True
    assert err[~corners].max() < 2e-3
    assert err[corners].max() < 0.5 / n


def test_pad_takes_the_neighbours_pixels():
    """F's right pad is R's left columns: the right edge of F continues into R, pixel for pixel at the edge row."""
    n, p = 16, 1
    faces = torch.rand(1, 6, 1, n, n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    padded = pad_faces(faces, p)
    # The central rows of F's right border lie within 1/(2n+2) pixel of R's column 0 row centres.
    mid = slice(p + n // 2 - 1, p + n // 2 + 1)
    torch.testing.assert_close(padded[0, 0, 0, mid, -1], faces[0, 1, 0, n // 2 - 1 : n // 2 + 1, 0], atol=0.1, rtol=0)
    # U's bottom border is F's top row (the shared edge), everywhere the border is on F.
    torch.testing.assert_close(padded[0, 4, 0, -1, p + n // 2], faces[0, 0, 0, 0, n // 2], atol=0.1, rtol=0)


def test_cube_coords_inverts_face_dirs():
    n, p = 8, 2
    dirs = face_dirs(n, 0, dtype=torch.float64)
    face, u, v = cube_coords(dirs)
    assert torch.equal(face, torch.arange(6)[:, None, None].expand(6, n, n))
    t = (2 * torch.arange(n, dtype=torch.float64) + 1) / n - 1
    torch.testing.assert_close(u, t.expand(6, n, n))
    torch.testing.assert_close(v, -t[:, None].expand(6, n, n))
    assert padded_fov(n, p) == pytest.approx(2 * math.atan(1.5))


def test_equi_angular_faces_sample_equal_angles_and_round_trip():
    """EAC faces: pixel centres equally spaced in angle along a face's axis (gnomonic ones are not),
    and equirect -> EAC faces -> equirect gives back a smooth field, padded faces agreeing with the cube."""
    n = 16
    along = face_dirs(n, eac=True, dtype=torch.float64)[0, n // 2]  # F face, one row near the equator
    steps = torch.diff(torch.atan2(along[:, 0], along[:, 2]))
    torch.testing.assert_close(steps, torch.full_like(steps, math.pi / 2 / n))
    gnomonic = torch.diff(torch.atan2(*face_dirs(n, dtype=torch.float64)[0, n // 2][:, [0, 2]].T))
    assert gnomonic.max() / gnomonic.min() > 1.7  # nearly twice the angle at the centre as at the edges
    x, y, z = equirect_dirs(64, 128).unbind(-1)
    equi = torch.stack([torch.sin(3 * x) + y, torch.cos(2 * z) * x, y * z])[None]
    faces = e2c(equi, 32, eac=True, mode="bicubic")
    assert (c2e(faces, 64, 128, eac=True, mode="bicubic") - equi).abs().max() < 0.02
    padded = resample_cubemap(faces, pad=4, eac=True)
    assert (crop_pad(padded, 4) - faces).abs().max() < 1e-5  # the faces inside their own padded views
    assert (padded - e2c(equi, 32, pad=4, eac=True)).abs().max() < 0.03  # pads show the neighbours


# --------------------------------------------------------------------------------------------------- rotations


def test_rotation_matrix():
    r = rotation_matrix(0.3, -0.4, 0.2, dtype=torch.float64)
    torch.testing.assert_close(r @ r.T, torch.eye(3, dtype=torch.float64))
    assert torch.linalg.det(r).item() == pytest.approx(1)
    x, y, z = (r @ torch.tensor([0, 0, 1.0], dtype=torch.float64)).tolist()
    assert math.atan2(x, z) == pytest.approx(0.3) and math.asin(y) == pytest.approx(-0.4)


def test_random_rotation_seeded_uniform_and_bounded():
    a = random_rotation(torch.Generator().manual_seed(3), dtype=torch.float64)
    b = random_rotation(torch.Generator().manual_seed(3), dtype=torch.float64)
    assert torch.equal(a, b)
    gen = torch.Generator().manual_seed(0)
    rs = torch.stack([random_rotation(gen, dtype=torch.float64) for _ in range(2000)])
    torch.testing.assert_close(rs @ rs.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand(2000, 3, 3))
    assert torch.linalg.det(rs).min() > 0.999
    assert rs.mean(0).abs().max() < 0.05  # Haar: E[R] = 0
    small = torch.stack([random_rotation(gen, max_angle=0.1, dtype=torch.float64) for _ in range(200)])
    angles = torch.arccos(((small.diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2).clamp(-1, 1))
    assert angles.max() <= 0.1 + 1e-9 and angles.max() > 0.08
    torch.testing.assert_close(small @ small.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand(200, 3, 3))
    yaw = axis_angle_matrix(torch.tensor([0, 2.0, 0], dtype=torch.float64), torch.tensor(0.7, dtype=torch.float64))
    torch.testing.assert_close(yaw, rotation_matrix(yaw=0.7, dtype=torch.float64))


def test_quarter_turn_permutes_the_faces():
    """A cube frame turned 90 degrees in yaw is an exact permutation of the faces (U and D turn in place)."""
    faces = torch.rand(1, 6, 2, 12, 12, generator=torch.Generator().manual_seed(1))
    turned = resample_cubemap(faces, rotation=rotation_matrix(yaw=math.pi / 2))
    for k, src in enumerate([1, 2, 3, 0]):  # the new F is the old R, ...
        torch.testing.assert_close(turned[0, k], faces[0, src], atol=1e-5, rtol=0)
    torch.testing.assert_close(turned[0, 4], torch.rot90(faces[0, 4], -1, dims=(-2, -1)), atol=1e-5, rtol=0)
    torch.testing.assert_close(turned[0, 5], torch.rot90(faces[0, 5], 1, dims=(-2, -1)), atol=1e-5, rtol=0)


def test_rotate_then_back_returns_the_image(mars):
    r = random_rotation(torch.Generator().manual_seed(5))
    h, w = 256, 512
    small = torch.nn.functional.interpolate(mars, size=(h, w), mode="area")
    plain = psnr(c2e(e2c(small, 192, mode="bicubic"), h, w, mode="bicubic"), small)
    turned = psnr(c2e(e2c(small, 192, rotation=r, mode="bicubic"), h, w, rotation=r, mode="bicubic"), small)
    assert turned > plain - 1 and turned > 36  # the turn costs nothing beyond the resampling itself
    # Cube to cube, and equirect to equirect through a rotation and its transpose.
    cube = field_faces(32)
    back = resample_cubemap(resample_cubemap(cube, rotation=r, pad=3)[..., 3:-3, 3:-3], rotation=r.T)
    assert (back - cube).abs().max() < 2e-3
    equi = field_equirect(64, 128)
    dirs = equirect_dirs(64, 128, dtype=torch.float64)[None]
    there = sample_equirect(equi, rotate(dirs, r.double()))
    assert (sample_equirect(there, rotate(dirs, r.double().T)) - equi).abs().max() < 2e-3


def test_batched_rotations():
    """One rotation per batch item: item b equals the unbatched call with its own rotation."""
    gen = torch.Generator().manual_seed(2)
    rs = torch.stack([random_rotation(gen) for _ in range(2)])
    equi = torch.rand(2, 3, 32, 64, generator=gen)
    both = e2c(equi, 8, pad=2, rotation=rs)
    for b in range(2):
        torch.testing.assert_close(both[b], e2c(equi[b : b + 1], 8, pad=2, rotation=rs[b])[0])


# -------------------------------------------------------------------------------------- perspective, dtypes


def test_asymmetric_fov_is_part_of_the_symmetric_view(mars):
    a = math.radians(45)
    b = math.atan(math.tan(a) / 2)  # the vertical half-angle of a 2:1 view with square pixels
    full = perspective(mars, 40, 80, (-a, a, b, -b))
    torch.testing.assert_close(full, perspective(mars, 40, 80, 2 * a))
    right = perspective(mars, 40, 40, (0.0, a, b, -b))
    torch.testing.assert_close(right, full[..., 40:], atol=1e-5, rtol=0)
    assert perspective_dirs(3, 4, math.pi / 2)[..., 0].abs().max() == pytest.approx(0.75)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_dtypes(dtype):
    equi = field_equirect(32, 64, dtype=torch.float32)
    faces = e2c(equi.to(dtype), 16, pad=2)
    assert faces.dtype == dtype
    tol = 1e-2 if dtype != torch.float64 else 1e-12
    assert (faces.double() - e2c(equi.double(), 16, pad=2)).abs().max() < tol + 2e-3 * (dtype != torch.float64)
    assert c2e(faces[..., 2:-2, 2:-2], 32, 64).dtype == dtype


# ----------------------------------------------------------------------------------------------- gradients


def test_gradcheck():
    """The samplers are linear maps of the image; autograd's adjoint matches finite differences."""
    gen = torch.Generator().manual_seed(0)
    equi = torch.rand(1, 2, 6, 12, dtype=torch.float64, generator=gen, requires_grad=True)
    faces = torch.rand(1, 6, 2, 4, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    dirs = torch.randn(1, 5, 7, 3, dtype=torch.float64, generator=gen)
    r = random_rotation(gen, dtype=torch.float64)
    for mode in ("bilinear", "bicubic"):
        assert torch.autograd.gradcheck(lambda x: sample_equirect(x, dirs, mode=mode), (equi,))
        assert torch.autograd.gradcheck(lambda x: sample_cubemap(x, dirs, mode=mode), (faces,))
    assert torch.autograd.gradcheck(lambda x: resample_cubemap(x, pad=2, rotation=r), (faces,))
    assert torch.autograd.gradcheck(lambda x: c2e(x, 5, 9), (faces,))


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_gradient_reaches_the_canvas(mode):
    """Rotated padded faces sampled from a cube canvas (the seamless dream's step) give all their gradient
    back to the canvas: every view pixel's weights sum to 1, the borders brought in from neighbouring faces
    included, so d(sum of views)/d(canvas) sums to the number of view values. Over a few random turns every
    canvas pixel is reached."""
    canvas = torch.rand(1, 6, 3, 16, 16, dtype=torch.float64, requires_grad=True)
    gen = torch.Generator().manual_seed(4)
    for step in range(4):
        views = resample_cubemap(canvas, pad=3, rotation=random_rotation(gen, dtype=torch.float64), mode=mode)
        views.sum().backward()
        assert canvas.grad.sum().item() == pytest.approx((step + 1) * views.numel())
    assert (canvas.grad.abs().sum(2) > 0).all()


# ------------------------------------------------------------------------------------------------- devices


def test_cuda_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device here: CPU/CUDA parity not checked")
    gen = torch.Generator().manual_seed(0)
    equi = torch.rand(2, 3, 64, 128, generator=gen)
    r = random_rotation(gen)
    cpu = e2c(equi, 32, pad=4, rotation=r)
    gpu = e2c(equi.cuda(), 32, pad=4, rotation=r.cuda())
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=0)
    torch.testing.assert_close(
        c2e(gpu[..., 4:-4, 4:-4], 64, 128).cpu(), c2e(cpu[..., 4:-4, 4:-4], 64, 128), atol=1e-4, rtol=0
    )
    grid = e2c_grid(64, 128, 32, device="cuda")
    torch.testing.assert_close(e2c(equi.cuda(), 32, grid=grid).cpu(), e2c(equi, 32), atol=1e-4, rtol=0)


def test_threaded_cpu_path_is_the_same():
    """Big CPU grids are cut into one grid_sample batch item per thread; results are unchanged."""
    equi = torch.rand(1, 3, 128, 256, generator=torch.Generator().manual_seed(0))
    # 6 x 132^2 points: enough to be cut. The grid is computed once: vectorised and scalar atan2 differ
    # by an ulp, and where the vector loop ends depends on the thread count.
    grid = e2c_grid(128, 256, 128, pad=2)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = e2c(equi, 128, pad=2, grid=grid)
        torch.set_num_threads(4)
        with torch.inference_mode():
            four = e2c(equi, 128, pad=2, grid=grid)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, four)


def test_one_image_many_rotations():
    """A batch of rotations on one image gives one set of faces per rotation."""
    gen = torch.Generator().manual_seed(6)
    rs = torch.stack([random_rotation(gen) for _ in range(3)])
    equi = torch.rand(1, 3, 32, 64, generator=gen)
    many = e2c(equi, 8, pad=1, rotation=rs)
    assert many.shape == (3, 6, 3, 10, 10)
    torch.testing.assert_close(many[2], e2c(equi, 8, pad=1, rotation=rs[2])[0])
    canvas = torch.rand(1, 6, 3, 8, 8, generator=gen)
    assert resample_cubemap(canvas, pad=2, rotation=rs).shape == (3, 6, 3, 12, 12)
