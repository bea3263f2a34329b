"""Seamless 360° dreaming: the method, its seamlessness, selections, and the file pipeline."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import seam_score
from PIL import Image

from vrdream import select
from vrdream.cli import main
from vrdream.cubemap import c2e, pad_faces, padded_fov
from vrdream.dream import Dreamer, DreamSettings
from vrdream.engine import EngineOptions
from vrdream.equirect import equirect_dirs, perspective, rotation_matrix
from vrdream.gradient import input_gradient
from vrdream.photosphere import read_photosphere
from vrdream.pipeline import DreamRequest, dream_file
from vrdream.sphere import (
    SR_CANVAS_DENSITY,
    SphereOptions,
    SphereParam,
    dream_sphere,
    faces_of,
    gather_views,
    pad_overlaps,
)

TINY = DreamSettings(objective="blocks.3", octaves=2, steps=4, precision="fp32", device="cpu")


@pytest.fixture(scope="module")
def sample(sample_equirect) -> torch.Tensor:
    return sample_equirect


def corr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1])


def test_views_that_disagree_blend_smoothly_into_the_canvas():
    """Each view's face keeps its own values; where another view's pad reaches over it, the two are
    mixed with a feather that falls to 0 at the pad's outer border. Six views holding six different
    constants then give a canvas without a jump: a hard cut would jump by up to 5 between pixels."""
    n, p = 32, 8
    overlaps = pad_overlaps(n, p)
    assert overlaps.weight.min() > 0 and overlaps.weight.max() < 1
    values = torch.arange(6.0)[:, None, None, None].expand(6, 1, n + 2 * p, n + 2 * p).contiguous()
    canvas = gather_views(values, overlaps, torch.eye(3))  # (1, 6, 1, n, n), not turned
    assert torch.equal(canvas[0, :, 0, n // 2, n // 2], torch.arange(6.0))  # no pad reaches a face's centre
    ring = pad_faces(canvas, 1)[0, :, 0]  # neighbours' pixels around each face: jumps across edges count too
    jump = max(ring.diff(dim=-1).abs().max(), ring.diff(dim=-2).abs().max())
    assert jump < 0.25 * 5


def test_a_smooth_canvas_survives_views_and_gather():
    """views -> gather is the identity on a smooth field, in any turned frame (up to interpolation)."""
    faces = faces_of(smooth_sphere(), 64)
    param = SphereParam(smooth_sphere(), 64)
    for yaw in (0.3, 2.0):
        views = param.views_at(faces, rotation_matrix(yaw=yaw, pitch=0.2))
        assert (views.to_canvas(views.images) - faces).abs().max() < 0.02


def smooth_sphere(h: int = 256, w: int = 512) -> torch.Tensor:
    """A colour field that varies smoothly with direction: resampling it twice changes it by < 1/200,
    so two routes to the same view give the same image (an input gradient is chaotic otherwise)."""
    x, y, z = equirect_dirs(h, w).unbind(-1)
    return torch.stack(
        [
            0.5 + 0.3 * torch.sin(6 * x + 2 * y),
            0.5 + 0.3 * torch.sin(5 * z - 3 * y + 1),
            0.5 + 0.3 * torch.cos(4 * x * z + 7 * y),
        ]
    )[None]


def blur(t: torch.Tensor, sigma: float = 1.5) -> torch.Tensor:
    k = torch.exp(-0.5 * (torch.arange(-4, 5.0) / sigma) ** 2)
    k = k / k.sum()
    flat = t.reshape(-1, 1, *t.shape[-2:])
    return F.conv2d(F.conv2d(flat, k.reshape(1, 1, 1, -1), padding=(0, 4)), k.reshape(1, 1, -1, 1), padding=(4, 0))


def test_canvas_gradient_at_an_edge_matches_a_view_straddling_it(lite0):
    """Turn the cube by 45° so that one padded view is centred on the canvas's F|R edge. The gradient
    the canvas receives there matches the gradient of a perspective view straddling the edge, made
    independently from the equirect, with the canvas gradient looked at through c2e and that view."""
    sphere = smooth_sphere()
    n = 64
    param = SphereParam(sphere, n)
    p = param.pad_px(n)
    views = param.views_at(param.base((1, 6, 3, n, n)), rotation_matrix(yaw=math.pi / 4))
    obj = Dreamer(TINY, backbone=lite0).objective
    g_canvas = views.to_canvas(input_gradient(lite0, obj, views.images))
    m, fov = n + 2 * p, padded_fov(n, p)
    g_view = input_gradient(lite0, obj, perspective(sphere, m, m, fov, yaw=math.pi / 4))
    seen = perspective(c2e(g_canvas, 256, 512, eac=True), m, m, fov, yaw=math.pi / 4)
    c = slice(m // 2 - 12, m // 2 + 12)  # the middle of the view: the F|R edge runs down its centre
    assert corr(seen[..., c, c], g_view[..., c, c]) > 0.8
    assert corr(blur(seen)[..., c, c], blur(g_view)[..., c, c]) > 0.9


def test_dream_is_as_strong_at_face_edges_as_inside(lite0, sample):
    out = dream_sphere(sample, Dreamer(TINY, backbone=lite0), SphereOptions(dream_width=256))
    detail = (faces_of(out, 64) - faces_of(sample, 64)).abs().mean(dim=2)[0]  # (6, 64, 64)
    edge = torch.zeros(64, 64, dtype=torch.bool)
    edge[:4], edge[-4:], edge[:, :4], edge[:, -4:] = True, True, True, True
    inner = torch.zeros(64, 64, dtype=torch.bool)
    inner[12:-12, 12:-12] = True
    strength = float(detail[:, edge].mean() / detail[:, inner].mean())
    assert float(detail.mean()) > 0.01
    assert 0.8 < strength < 1.25


def test_where_limits_the_dream_exactly(lite0, sample):
    where = select.region(*sample.shape[-2:], "sky")
    out = dream_sphere(
        sample, Dreamer(TINY.replace(octaves=1, steps=2), backbone=lite0), SphereOptions(dream_width=256), where=where
    )
    ground = where[0, 0] == 0
    assert torch.equal(out[0][:, ground], sample[0][:, ground])
    assert (out - sample)[0][:, where[0, 0] == 1].abs().mean() > 0.005


@pytest.mark.slow
@pytest.mark.parametrize("which", ["mars", "sample"])
def test_default_dream_is_seamless(tmp_path, shared_data, sample_pano, which):
    """The issue's bound: ``vrdream dream`` at the default preset scores <= 1.25 on ../shared/data/mars.jpg
    (2048x1024; naive per-face dreaming reads 1.55 with the same settings: docs/seamless.json) and on the
    bundled sample (1536x768), with a mean change that is a real dream, not a faint one."""
    raw = shared_data / "mars.jpg" if which == "mars" else sample_pano
    out = tmp_path / "dream.png"
    assert main(["dream", str(raw), "-o", str(out), "-q"]) == 0
    score = seam_score(shared_data, raw, out)
    assert score["score"] <= 1.25 and score["mean_change"] > 0.04


# ---------------------------------------------------------------------------------------------- selections


def synthetic_pano(h: int = 128, w: int = 256) -> torch.Tensor:
    """Grey sphere with a red patch straddling the 0°/360° wrap and a blue cap over the north pole."""
    img = torch.full((1, 3, h, w), 0.5)
    img[0, :, 50:80, :20] = torch.tensor([0.9, 0.1, 0.1])[:, None, None]
    img[0, :, 50:80, -20:] = torch.tensor([0.9, 0.1, 0.1])[:, None, None]
    img[0, :, :12, :] = torch.tensor([0.1, 0.1, 0.9])[:, None, None]
    return img


def test_a_dream_to_be_upscaled_runs_on_a_finer_canvas():
    """With --upscale the canvas is SR_CANVAS_DENSITY times finer than the dream width (its grain then
    falls below the output's pixels); an explicit face size, or no upscale, is left as asked."""
    assert SphereOptions().face_for(1536) == 384
    assert SphereOptions().for_upscale(1536, 4).face_for(1536) == round(SR_CANVAS_DENSITY * 384) == 480
    assert SphereOptions(dream_width=2048).for_upscale(4096, 2).face_for(2048) == 640
    assert SphereOptions(face_size=100).for_upscale(1536, 4).face_for(1536) == 100
    assert SphereOptions().for_upscale(1536, 1) == SphereOptions()


def test_magic_wand_crosses_the_wrap():
    img = synthetic_pano()
    m = select.magic_wand(img, 175.0, 0.0, feather_deg=0)[0, 0]  # seed on the right side of the wrap
    assert m[65, 5] == 1 and m[65, -5] == 1  # both halves of the patch
    assert m[65, 128] == 0 and m[5, 5] == 0  # not the grey, not the cap


def test_magic_wand_crosses_the_pole():
    img = torch.full((1, 3, 128, 256), 0.5)
    blue = torch.tensor([0.1, 0.1, 0.9])[:, None, None]
    img[0, :, :8, 0:64] = blue  # yaw -180..-90
    img[0, :, :8, 128:192] = blue  # yaw 0..90: half a turn away, touching the first block over the pole
    img[0, :, :8, 80:110] = blue  # a third block, joined to neither in the plane or over the pole
    m = select.magic_wand(img, -150.0, 88.0, feather_deg=0)[0, 0]
    assert m[2, 30] == 1 and m[2, 160] == 1
    assert m[2, 95] == 0 and m[2, 120] == 0


def test_feathered_selection_is_soft_and_wraps():
    img = synthetic_pano()
    m = select.magic_wand(img, 175.0, 0.0, feather_deg=3)[0, 0]
    assert 0 < float(m[65, 21]) < 1  # soft edge
    assert torch.allclose(m[:, 0], m[:, -1], atol=0.15)  # continuous over the wrap


def test_region_sky_and_ground():
    sky, ground = select.region(64, 128, "sky"), select.region(64, 128, "ground")
    assert sky[0, 0, 0, 0] == 1 and sky[0, 0, -1, 0] == 0
    assert torch.allclose(sky + ground, torch.ones_like(sky))


def test_mask_file(tmp_path):
    from PIL import Image

    a = np.zeros((50, 100), np.uint8)
    a[:, 50:] = 255
    Image.fromarray(a).save(tmp_path / "m.png")
    m = select.from_file(tmp_path / "m.png", 64, 128)[0, 0]
    assert m[:, :60].max() == 0 and m[:, 70:].min() == 1


# ------------------------------------------------------------------------------------------------- files


def test_partial_photosphere_dreams_only_real_pixels(tmp_path, partial_photosphere, lite0):
    out = tmp_path / "dream.jpg"
    request = DreamRequest(EngineOptions(TINY.replace(octaves=1, steps=2)), sphere=SphereOptions(dream_width=256))
    dream_file(partial_photosphere, out, request, quiet=True)
    src, res = read_photosphere(partial_photosphere), read_photosphere(out)
    assert res.crop == src.crop and res.gpano == src.gpano
    assert (
        res.vrdream["Kind"] == "dream" and (out.parent / res.vrdream["Raw"]).resolve() == partial_photosphere.resolve()
    )
    assert res.vrdream["RawName"] == partial_photosphere.name
    assert res.vrdream["RawSHA256"] == hashlib.sha256(partial_photosphere.read_bytes()).hexdigest()
    left, top, w, h = src.crop
    change = np.abs(res.pixels - src.pixels)[top : top + h, left : left + w].mean()
    assert change > 0.005
    assert res.pixels[:top].max() == 0  # outside the crop stays unknown


@pytest.mark.slow
def test_cli_flat_dream_and_bad_input(tmp_path, sample_pano, capsys):
    sample_size = Image.open(sample_pano).size
    out = tmp_path / "flat.png"
    assert main(["dream", str(sample_pano), "--flat", "-o", str(out), "--steps", "1", "--octaves", "1", "-q"]) == 0
    assert read_photosphere(out, flat=True).pixels.shape == (*sample_size[::-1], 3)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    assert main(["dream", str(bad), "-o", str(tmp_path / "x.jpg"), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.jpg" in err[0]


def test_laplacian_normalisation_is_seamless_on_the_cube():
    """The gradient's Laplacian bands are filtered across face edges: a field that is smooth on the
    sphere stays smooth (no band-pass response along the cube's edges)."""
    from vrdream.octave import laplacian_bands

    param = SphereParam(smooth_sphere(), 32)
    faces = param.base((1, 6, 3, 32, 32))
    fine = laplacian_bands(faces, 3, param.extend)[0].abs()[0].mean(dim=1)  # (6, 32, 32)
    edge, inner = fine[:, :, [0, -1]].mean(), fine[:, 8:-8, 8:-8].mean()
    assert edge < 2 * inner


class Interrupt(Exception):
    pass


@pytest.mark.slow
def test_interrupted_dream_resumes_to_the_same_result(tmp_path, sample, lite0):
    from vrdream.checkpoint import open_job
    from vrdream.pipeline import CanvasStore

    settings = TINY.replace(octaves=3, steps=2)
    raw = torch.nn.functional.interpolate(sample, size=(128, 256), mode="area")

    def store(name: str) -> CanvasStore:
        src = tmp_path / "src.bin"
        src.write_bytes(b"x")
        return CanvasStore(open_job(src, tmp_path / name, settings, settings.octaves), faces=True)

    class Crashing(CanvasStore):
        def save(self, octave, canvas):
            stored = super().save(octave, canvas)
            if octave == 1:
                raise Interrupt
            return stored

    clean = dream_sphere(raw, Dreamer(settings, backbone=lite0), store=store("clean.jpg"))
    resumable = store("resumed.jpg")
    with pytest.raises(Interrupt):
        dream_sphere(raw, Dreamer(settings, backbone=lite0), store=Crashing(resumable.job, True))

    class Recording(CanvasStore):
        found: list = []

        def load(self, octave):
            got = super().load(octave)
            self.found.append(got is not None)
            return got

    steps = []
    resumed = dream_sphere(
        raw, Dreamer(settings, backbone=lite0), store=Recording(resumable.job, True), on_step=lambda: steps.append(1)
    )
    assert Recording.found == [True, True, False]  # octaves 0 and 1 came from the checkpoints
    assert torch.equal(clean, resumed)
    assert len(steps) == 3 * 2  # the progress bar still counts every step


def test_cli_dream_leaves_no_checkpoints(tmp_path, sample_pano):
    out = tmp_path / "d.jpg"
    assert (
        main(
            ["dream", str(sample_pano), "-o", str(out), "--dream-width", "256", "--steps", "1", "--octaves", "2", "-q"]
        )
        == 0
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.jpg", "d.jpg.vrdream.json"]  # and its record
