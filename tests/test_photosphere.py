"""Photosphere I/O (vrdream.photosphere) and ``vrdream info``: formats, modes, GPano placement, bad input."""

from __future__ import annotations

import json
import struct
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import PARTIAL_CROP, SAMPLE_SIZE, phone_exif
from PIL import Image, ImageCms, ImageOps, PngImagePlugin

from vrdream.cli import main
from vrdream.errors import InputError, VrdreamError
from vrdream.fileinfo import panorama_info, probe
from vrdream.gpano import GPANO_NS, RDF_NS, GPano, build_xmp
from vrdream.photosphere import (
    Photosphere,
    describe,
    orient,
    read_photosphere,
    resize,
    summary,
    write_photosphere,
)

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _pattern(w: int = 32, h: int = 16) -> np.ndarray:
    """(h, w, 3) uint8 with every row and column distinct, so flips and rotations show."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x * 7 + y * 13) % 256], -1).astype(np.uint8)


def _gpano_xmp(**attrs: object) -> bytes:
    body = " ".join(f'GPano:{k}="{v}"' for k, v in attrs.items())
    return (
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF_NS}"><rdf:Description rdf:about="" '
        f'xmlns:GPano="{GPANO_NS}" {body}/></rdf:RDF></x:xmpmeta>'
    ).encode()


def _half_crop_xmp(w: int = 32, h: int = 16) -> dict:
    """GPano attributes for a (w/2)×(h/2) image at (w/4, h/4) of a w×h canvas."""
    return dict(
        ProjectionType="equirectangular",
        FullPanoWidthPixels=w,
        FullPanoHeightPixels=h,
        CroppedAreaImageWidthPixels=w // 2,
        CroppedAreaImageHeightPixels=h // 2,
        CroppedAreaLeftPixels=w // 4,
        CroppedAreaTopPixels=h // 4,
    )


@pytest.fixture
def tagged_source(tmp_path: Path, sample_pano: Path) -> Path:
    """A small full panorama with EXIF, an sRGB ICC profile, GPano pose fields and vrdream fields."""
    path = tmp_path / "src.jpg"
    with Image.open(sample_pano) as im:
        small = im.resize((128, 64), Image.Resampling.LANCZOS)
    gp = GPano(
        full_width=128,
        full_height=64,
        cropped_width=128,
        cropped_height=64,
        cropped_left=0,
        cropped_top=0,
        pose_heading=30.0,
        initial_heading=15.0,
        initial_hfov=75.0,
    )
    small.save(path, quality=95, exif=phone_exif().tobytes(), icc_profile=SRGB, xmp=build_xmp(gp, {"Kind": "raw"}))
    return path


def _exif_make(exif: bytes | None) -> str | None:
    ex = Image.Exif()
    ex.load(exif)
    return ex.get(0x010F)


# ---------------------------------------------------------------------------- the sample and round trips


def test_sample_is_a_tagged_full_sphere(sample_pano: Path) -> None:
    with Image.open(sample_pano) as im:
        assert im.size == SAMPLE_SIZE and im.format == "JPEG"
        desc = im.getxmp()["xmpmeta"]["RDF"]["Description"]  # Pillow's own XMP reader, independent of ours
    assert desc["ProjectionType"] == "equirectangular" and desc["FullPanoWidthPixels"] == str(SAMPLE_SIZE[0])
    assert sample_pano.stat().st_size <= 1 << 20
    ps = read_photosphere(sample_pano)
    w, h = SAMPLE_SIZE
    assert (ps.width, ps.height, ps.crop) == (w, h, None)
    assert ps.pixels.dtype == np.float32 and ps.pixels.shape == (h, w, 3)
    assert 0 <= ps.pixels.min() and ps.pixels.max() <= 1 and np.all(ps.mask == 1)
    assert f"6×{w // 4}² cubemap" in describe(ps)


@pytest.mark.parametrize("suffix, mean_tol", [(".jpg", 0.01), (".png", 0.0), (".webp", 0.02)])
def test_round_trip_keeps_pixels_and_metadata(
    tmp_path: Path, tagged_source: Path, suffix: str, mean_tol: float
) -> None:
    ps = read_photosphere(tagged_source)
    out = write_photosphere(tmp_path / f"out{suffix}", ps.pixels, ps, vrdream={"Kind": "dream", "Seed": "3"})
    back = read_photosphere(out)
    err = np.abs(back.pixels - ps.pixels)
    assert err.mean() <= mean_tol + 1e-6 and (suffix != ".png" or err.max() <= 0.5 / 255 + 1e-6)
    assert back.gpano == ps.gpano and back.gpano.pose_heading == 30.0 and back.gpano.initial_hfov == 75.0
    assert back.vrdream == {"Kind": "dream", "Seed": "3"}
    assert back.icc == SRGB
    assert _exif_make(back.exif) == "Google"
    with Image.open(out) as im:  # viewers read it: Pillow's own XMP reader sees the GPano fields
        assert im.getxmp()["xmpmeta"]["RDF"]["Description"]["UsePanoramaViewer"] == "True"


def test_upscaled_output_scales_gpano(tmp_path: Path, tagged_source: Path) -> None:
    ps = read_photosphere(tagged_source)
    big = np.repeat(np.repeat(ps.pixels, 4, 0), 4, 1)
    back = read_photosphere(write_photosphere(tmp_path / "x4.jpg", big, ps))
    assert (back.width, back.height) == (512, 256)
    assert back.gpano == ps.gpano.scaled(4)
    ex = Image.Exif()
    ex.load(back.exif)
    assert ex[0x0112] == 1


def test_like_built_in_code_gets_a_full_gpano(tmp_path: Path) -> None:
    # Commands that make a panorama from scratch pass a bare GPano(); the writer fills in every pixel field.
    px = np.random.default_rng(1).random((16, 32, 3), dtype=np.float32)
    like = Photosphere(
        pixels=px, mask=np.ones((16, 32), np.float32), gpano=GPano(), crop=(4, 2, 10, 6), exif=None, icc=None
    )
    back = read_photosphere(write_photosphere(tmp_path / "x3.png", np.repeat(np.repeat(px, 3, 0), 3, 1), like))
    assert back.crop == (12, 6, 30, 18) and (back.width, back.height) == (96, 48)
    assert np.allclose(back.pixels[6:24, 12:42], np.repeat(np.repeat(px, 3, 0), 3, 1)[6:24, 12:42], atol=0.5 / 255)


# ---------------------------------------------------------------------------- partial photospheres


def test_partial_is_placed_by_its_cropped_fields(partial_photosphere: Path, sample_pano: Path) -> None:
    ps = read_photosphere(partial_photosphere)
    left, top, w, h = PARTIAL_CROP
    assert (ps.width, ps.height) == (1024, 512) and ps.is_partial and ps.crop == PARTIAL_CROP
    inside = np.zeros((512, 1024), bool)
    inside[top : top + h, left : left + w] = True
    assert np.all(ps.mask[inside] == 1) and np.all(ps.mask[~inside] == 0) and np.all(ps.pixels[~inside] == 0)
    full = resize(read_photosphere(sample_pano).pixels, height=512, width=1024)
    assert np.abs(ps.pixels[inside] - full[inside]).mean() < 0.02  # same place, JPEG requantised
    gp = ps.gpano
    assert (gp.pose_heading, gp.pose_pitch, gp.pose_roll) == (30.0, 1.5, -0.5)
    assert (gp.initial_heading, gp.initial_pitch, gp.initial_roll, gp.initial_hfov) == (15.0, 5.0, 0.0, 75.0)
    assert _exif_make(ps.exif) == "Google"
    cov = summary(ps)["coverage"]
    assert cov["yaw_min"] == pytest.approx(-90, abs=0.5) and cov["yaw_max"] == pytest.approx(120, abs=0.5)
    assert cov["pitch_min"] == pytest.approx(-40, abs=0.5) and cov["pitch_max"] == pytest.approx(50, abs=0.5)


def test_partial_written_back_in_its_crop_at_any_scale(tmp_path: Path, partial_photosphere: Path) -> None:
    ps = read_photosphere(partial_photosphere)
    left, top, w, h = PARTIAL_CROP
    same = write_photosphere(tmp_path / "same.jpg", ps.pixels, ps)
    with Image.open(same) as im:
        assert im.size == (w, h)
        d = im.getxmp()["xmpmeta"]["RDF"]["Description"]
    assert [
        int(d[k])
        for k in (
            "CroppedAreaLeftPixels",
            "CroppedAreaTopPixels",
            "CroppedAreaImageWidthPixels",
            "CroppedAreaImageHeightPixels",
            "FullPanoWidthPixels",
            "FullPanoHeightPixels",
        )
    ] == [left, top, w, h, 1024, 512]
    assert float(d["PoseHeadingDegrees"]) == 30.0
    back = read_photosphere(same)
    assert back.crop == PARTIAL_CROP and back.gpano == ps.gpano

    x2 = write_photosphere(tmp_path / "x2.png", np.repeat(np.repeat(ps.pixels, 2, 0), 2, 1), ps)
    back2 = read_photosphere(x2)
    assert back2.crop == (2 * left, 2 * top, 2 * w, 2 * h) and (back2.width, back2.height) == (2048, 1024)
    assert back2.gpano.pose_heading == 30.0

    full = write_photosphere(tmp_path / "full.png", ps.pixels, ps, crop=False, mask=ps.mask)
    with Image.open(full) as im:
        assert im.size == (1024, 512) and im.mode == "RGBA"
    back3 = read_photosphere(full)
    assert back3.crop is None and np.array_equal(back3.mask, ps.mask)


def test_partial_smaller_than_its_tags_gives_a_smaller_canvas(tmp_path: Path, partial_photosphere: Path) -> None:
    # A phone photosphere downsized after tagging: CroppedAreaImage* still says 597×256.
    path = tmp_path / "half.jpg"
    with Image.open(partial_photosphere) as im:
        im.resize((298, 128)).save(path, xmp=im.info["xmp"])
    ps = read_photosphere(path)
    assert (ps.width, ps.height) == (512, 256) and ps.crop == (128, 57, 298, 128)
    assert ps.mask.sum() == 298 * 128


def test_full_pano_not_2_to_1_is_resampled_onto_a_2_to_1_canvas(tmp_path: Path) -> None:
    path = tmp_path / "squat.png"
    Image.fromarray(_pattern(32, 10)).save(
        path,
        pnginfo=_png_text(
            _gpano_xmp(
                FullPanoWidthPixels=32,
                FullPanoHeightPixels=10,
                CroppedAreaImageWidthPixels=32,
                CroppedAreaImageHeightPixels=10,
                CroppedAreaLeftPixels=0,
                CroppedAreaTopPixels=0,
            )
        ),
    )
    ps = read_photosphere(path)
    assert (ps.width, ps.height, ps.crop) == (32, 16, None) and np.all(ps.mask == 1)


# ---------------------------------------------------------------------------- modes and formats


def _png_text(xmp: bytes, how: str = "itxt") -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    if how == "itxt":
        info.add_itxt("XML:com.adobe.xmp", xmp.decode(), zip=False)
    elif how == "itxt-zip":
        info.add_itxt("XML:com.adobe.xmp", xmp.decode(), zip=True)
    elif how in ("text", "ztxt"):
        info.add_text("XML:com.adobe.xmp", xmp.decode(), zip=how == "ztxt")
    else:  # ImageMagick: hex dump in a zTXt "Raw profile type xmp"
        hexdump = "\n".join(xmp.hex()[i : i + 72] for i in range(0, 2 * len(xmp), 72))
        info.add_text("Raw profile type xmp", f"\nxmp\n{len(xmp):8d}\n{hexdump}\n", zip=True)
    return info


@pytest.mark.parametrize("how", ["itxt", "itxt-zip", "text", "ztxt", "imagemagick"])
def test_png_xmp_from_other_writers(tmp_path: Path, how: str) -> None:
    path = tmp_path / f"{how}.png"
    Image.fromarray(_pattern(16, 8)).save(path, pnginfo=_png_text(_gpano_xmp(**_half_crop_xmp()), how))
    assert read_photosphere(path).crop == (8, 4, 16, 8)


def test_tiff_and_webp_xmp_are_read(tmp_path: Path) -> None:
    xmp = _gpano_xmp(**_half_crop_xmp())
    Image.fromarray(_pattern(16, 8)).save(tmp_path / "a.tif", tiffinfo={700: xmp})
    Image.fromarray(_pattern(16, 8)).save(tmp_path / "a.webp", lossless=True, xmp=xmp)
    for name in ("a.tif", "a.webp"):
        ps = read_photosphere(tmp_path / name)
        assert ps.crop == (8, 4, 16, 8)
        assert np.allclose(ps.pixels[4:12, 8:24], _pattern(16, 8) / 255, atol=1e-6)


def _rgb(a: np.ndarray) -> np.ndarray:
    return np.repeat(a[..., None], 3, -1) if a.ndim == 2 else a


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "P", "PA-trns", "CMYK-tif", "CMYK-jpg"])
def test_8bit_modes(tmp_path: Path, mode: str) -> None:
    rgb = _pattern()
    alpha = np.where(np.arange(32) < 16, 255, 0).astype(np.uint8)[None].repeat(16, 0)
    im = Image.fromarray(rgb)
    if mode in ("L", "LA"):
        im = im.convert("L")
    if mode in ("LA", "RGBA"):
        im.putalpha(Image.fromarray(alpha))
    if mode.startswith("P"):
        im = im.quantize(16)
        if mode == "PA-trns":
            im.info["transparency"] = 0
    if mode.startswith("CMYK"):
        im = im.convert("CMYK")
    path = tmp_path / ("x.jpg" if mode == "CMYK-jpg" else "x.tif" if mode == "CMYK-tif" else "x.png")
    im.save(path, transparency=im.info["transparency"]) if mode == "PA-trns" else im.save(path)
    ps = read_photosphere(path)
    with Image.open(path) as ref:
        assert ps.file.mode == ref.mode
        expected = np.asarray(ref.convert("RGBA" if ref.mode in ("LA", "RGBA") or mode == "PA-trns" else "RGB"))
    tol = 0.05 if mode == "CMYK-jpg" else 1e-6
    assert np.abs(ps.pixels - expected[..., :3] / 255).mean() <= tol
    if expected.shape[2] == 4:  # alpha is a validity mask; colour under it is not composited onto black
        assert np.allclose(ps.mask, expected[..., 3] / 255)
        assert ps.pixels[expected[..., 3] == 0].max() > 0 or mode == "PA-trns"
    else:
        assert np.all(ps.mask == 1)


def test_16bit_grey_and_colour(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 65536, (8, 16), dtype=np.uint16)
    colour = rng.integers(0, 65536, (8, 16, 3), dtype=np.uint16)
    alpha = rng.integers(0, 65536, (8, 16), dtype=np.uint16)
    Image.fromarray(grey).save(tmp_path / "g.png")  # Pillow mode I;16
    Image.fromarray(grey).save(tmp_path / "g.tif")
    cv2.imwrite(str(tmp_path / "c.png"), colour[..., ::-1])  # OpenCV writes BGR
    cv2.imwrite(str(tmp_path / "c.tif"), colour[..., ::-1])
    cv2.imwrite(str(tmp_path / "ca.png"), np.dstack([colour[..., ::-1], alpha]))
    for name, rgb, a in [
        ("g.png", _rgb(grey), None),
        ("g.tif", _rgb(grey), None),
        ("c.png", colour, None),
        ("c.tif", colour, None),
        ("ca.png", colour, alpha),
    ]:
        ps = read_photosphere(tmp_path / name)
        assert ps.file.bits == 16, name
        # Exact to 16 bits: an 8-bit decode would be off by up to 128/65535.
        assert np.abs(ps.pixels - rgb / 65535).max() < 1e-6, name
        if a is not None:
            assert np.abs(ps.mask - a / 65535).max() < 1e-6


def test_float_tiff_is_clipped(tmp_path: Path) -> None:
    a = np.tile(np.array([-0.5, 0.25, 2.0, 0.75], np.float32), (4, 2))  # (4, 8), mode "F"
    Image.fromarray(a).save(tmp_path / "f.tif")
    ps = read_photosphere(tmp_path / "f.tif")
    assert np.allclose(ps.pixels[..., 1], np.clip(a, 0, 1)) and ps.file.mode == "F"


def test_cmyk_with_an_rgb_profile_is_converted_without_it(tmp_path: Path) -> None:
    # An ICC oddity: the profile does not describe the pixels; Pillow's own CMYK conversion is used and
    # the profile is not carried to outputs (they are sRGB).
    path = tmp_path / "cmyk.jpg"
    Image.fromarray(_pattern()).convert("CMYK").save(path, icc_profile=SRGB, quality=95)
    ps = read_photosphere(path)
    assert ps.icc is None and np.abs(ps.pixels - _pattern() / 255).mean() < 0.05


def test_corrupt_icc_profile_is_dropped_with_a_warning(tmp_path: Path) -> None:
    # Decision: a corrupt profile is metadata, not pixels; the image is read as sRGB.
    path = tmp_path / "badicc.png"
    Image.fromarray(_pattern()).save(path, icc_profile=b"not an icc profile" * 10)
    with pytest.warns(UserWarning, match="corrupt ICC profile"):
        ps = read_photosphere(path)
    assert ps.icc is None and np.allclose(ps.pixels, _pattern() / 255)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orient_matches_pillow(orientation: int) -> None:
    a = np.arange(5 * 3 * 3, dtype=np.uint8).reshape(5, 3, 3)
    im = Image.fromarray(a)
    im.getexif()[0x0112] = orientation
    assert np.array_equal(orient(a, orientation), np.asarray(ImageOps.exif_transpose(im)))


def test_rotated_jpeg_reads_upright(tmp_path: Path) -> None:
    upright = Image.fromarray(_pattern(64, 32))
    path = tmp_path / "rot.jpg"
    exif = phone_exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display": the file stores it turned 90° anticlockwise
    upright.transpose(Image.Transpose.ROTATE_90).save(path, quality=95, exif=exif.tobytes())
    ps = read_photosphere(path)
    assert (ps.width, ps.height) == (64, 32) and ps.file.orientation == 6
    with Image.open(path) as im:
        assert np.allclose(ps.pixels, np.asarray(ImageOps.exif_transpose(im)) / 255, atol=1e-6)
    assert np.abs(ps.pixels - _pattern(64, 32) / 255).mean() < 0.03  # and that is the upright picture
    ex = Image.Exif()
    ex.load(ps.exif)
    assert ex[0x0112] == 1


# ---------------------------------------------------------------------------- not 2:1, fov and flat


def test_not_2_to_1_without_gpano_is_refused_with_the_way_out(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    Image.fromarray(_pattern(30, 20)).save(path)
    with pytest.raises(InputError, match=r"--fov H,V") as err:
        read_photosphere(path)
    assert err.value.path == path and "\n" not in str(err.value)


def test_fov_places_it_centred(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    Image.fromarray(_pattern(30, 20)).save(path)
    ps = read_photosphere(path, fov=(90, 60))
    assert (ps.width, ps.height) == (120, 60) and ps.crop == (45, 20, 30, 20)
    assert np.allclose(ps.pixels[20:40, 45:75], _pattern(30, 20) / 255, atol=1e-6)
    assert ps.mask.sum() == 30 * 20
    with pytest.raises(VrdreamError, match="--fov"):
        read_photosphere(path, fov=(0, 60))


def test_flat_reads_any_picture_and_writes_no_gpano(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    Image.fromarray(_pattern(30, 20)).save(path)
    ps = read_photosphere(path, flat=True)
    assert (ps.width, ps.height, ps.crop) == (30, 20, None)
    out = write_photosphere(tmp_path / "out.png", ps.pixels, ps, vrdream={"Kind": "dream"})
    with Image.open(out) as im:
        assert b"GPano" not in im.info["xmp"]
    assert read_photosphere(out, flat=True).vrdream == {"Kind": "dream"}


def test_shared_rgba_alpha_is_the_mask(shared_data: Path) -> None:
    ps = read_photosphere(shared_data / "mars_rgba.png")
    with Image.open(shared_data / "mars_rgba.png") as im:
        ref = np.asarray(im)
    assert 0.4 < ps.mask.mean() < 0.6  # the sky is transparent
    assert np.allclose(ps.mask, ref[..., 3] / 255)
    real = ref[..., 3] == 255
    assert np.allclose(ps.pixels[real], ref[..., :3][real] / 255)
    assert "50% of the canvas is real" in describe(ps)


# ---------------------------------------------------------------------------- bad input


def _png_header_only(w: int, h: int) -> bytes:
    """A PNG whose header claims w×h pixels, with almost no data: a decompression-bomb header."""

    def chunk(cid: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + cid + data + struct.pack(">I", zlib.crc32(cid + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def _bad_files(tmp_path: Path, sample_pano: Path) -> dict[str, tuple[Path, str]]:
    """name → (path, expected problem) for every kind of bad input."""

    def write(name: str, data: bytes) -> Path:
        (tmp_path / name).write_bytes(data)
        return tmp_path / name

    def tagged(name: str, size: tuple[int, int], **attrs: object) -> Path:
        Image.fromarray(_pattern(*size)).save(tmp_path / name, xmp=_gpano_xmp(**attrs))
        return tmp_path / name

    sample = sample_pano.read_bytes()
    png = tmp_path / "ok.png"
    Image.fromarray(_pattern(256, 128)).save(png)
    half = _half_crop_xmp()
    return {
        "missing": (tmp_path / "missing.jpg", "no such file"),
        "folder": (tmp_path, "not a file"),
        "empty": (write("empty.jpg", b""), "empty"),
        "text": (write("notes.jpg", b"these are not pixels\n" * 10), "not a JPEG, PNG, TIFF or WebP"),
        "gif": (write("x.gif", b"GIF89a" + b"\0" * 64), "not a JPEG, PNG, TIFF or WebP"),
        "truncated-jpeg": (write("cut.jpg", sample[: len(sample) // 2]), "truncated or corrupt"),
        "truncated-png": (write("cut.png", png.read_bytes()[:200]), "truncated or corrupt"),
        "bomb": (write("bomb.png", _png_header_only(40000, 20000)), "over the limit"),
        "outside": (tagged("outside.jpg", (16, 8), **{**half, "CroppedAreaLeftPixels": 24}), "outside the full"),
        "non-numeric": (tagged("nan.jpg", (16, 8), **{**half, "FullPanoWidthPixels": "wide"}), "not a number"),
        "no-left": (
            tagged("noleft.jpg", (16, 8), **{k: v for k, v in half.items() if k != "CroppedAreaLeftPixels"}),
            "no CroppedAreaLeftPixels",
        ),
        "shape": (tagged("shape.jpg", (16, 16), **half), "different shape"),
        "no-full": (
            tagged("nofull.jpg", (16, 8), CroppedAreaImageWidthPixels=16, CroppedAreaImageHeightPixels=8),
            "no \\(or zero\\) FullPano",
        ),
        "projection": (tagged("cyl.jpg", (32, 16), ProjectionType="cylindrical"), "only equirectangular"),
    }


BAD = [
    "missing",
    "folder",
    "empty",
    "text",
    "gif",
    "truncated-jpeg",
    "truncated-png",
    "bomb",
    "outside",
    "non-numeric",
    "no-left",
    "shape",
    "no-full",
    "projection",
]


@pytest.mark.parametrize("read", [read_photosphere, probe], ids=["read", "probe"])
@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_line_naming_the_file(
    tmp_path: Path, sample_pano: Path, case: str, read: Callable[[Path], object]
) -> None:
    path, problem = _bad_files(tmp_path, sample_pano)[case]
    with pytest.raises(InputError, match=problem) as err:
        read(path)
    assert err.value.path == path and "\n" not in str(err.value)


def test_max_pixels_is_the_users_to_raise(tmp_path: Path) -> None:
    path = tmp_path / "p.png"
    Image.fromarray(_pattern(32, 16)).save(path)
    with pytest.raises(InputError, match="--max-pixels"):
        read_photosphere(path, max_pixels=32 * 16 - 1)
    assert read_photosphere(path, max_pixels=32 * 16).width == 32


def test_fov_is_refused_for_a_tagged_file(partial_photosphere: Path) -> None:
    with pytest.raises(InputError, match="already carries"):
        read_photosphere(partial_photosphere, fov=(90, 60))


@pytest.mark.parametrize("case", ["empty", "outside"])
def test_cli_bad_input_exits_2_with_one_line(
    tmp_path: Path, sample_pano: Path, case: str, capsys: pytest.CaptureFixture
) -> None:
    path, problem = _bad_files(tmp_path, sample_pano)[case]
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("vrdream: error: ") and str(path) in err and problem in err
    assert "Traceback" not in err


def _probe_cases(tmp_path: Path, partial_photosphere: Path) -> list[tuple[Path, dict]]:
    """(file, read options) of every kind ``vrdream info`` meets: formats, modes, orientation, placements."""
    cases: list[tuple[Path, dict]] = [(partial_photosphere, {})]
    pattern = Image.fromarray(_pattern())
    for mode, name in [
        ("1", "x1.png"),
        ("L", "l.png"),
        ("RGB", "rgb.webp"),
        ("P", "p.png"),
        ("CMYK", "cmyk.tif"),
        ("CMYK", "cmyk.jpg"),
        ("RGBA", "rgba.png"),  # alpha: read in full
        ("LA", "la.png"),
    ]:
        im = pattern.convert(mode)
        if mode in ("RGBA", "LA"):
            im.putalpha(Image.fromarray(np.where(np.arange(32) < 12, 255, 0).astype(np.uint8)[None].repeat(16, 0)))
        im.save(tmp_path / name)
        cases.append((tmp_path / name, {}))
    Image.fromarray(_pattern()[..., 0].astype(np.uint16) * 257).save(tmp_path / "g16.png")  # Pillow mode I;16
    cv2.imwrite(str(tmp_path / "c16.png"), _pattern().astype(np.uint16) * 257)  # 16-bit colour: OpenCV, in full
    Image.fromarray(_pattern()[..., 0] / np.float32(255)).save(tmp_path / "f.tif")
    cases += [(tmp_path / "g16.png", {}), (tmp_path / "c16.png", {}), (tmp_path / "f.tif", {})]
    small = tmp_path / "small.jpg"  # a partial photosphere downsized after tagging: the canvas follows the file
    with Image.open(partial_photosphere) as im:
        im.resize((298, 128)).save(small, xmp=im.info["xmp"])
    squat = tmp_path / "squat.png"  # a full panorama that is not 2:1: resampled onto a 2:1 canvas
    tags = {"FullPanoWidthPixels": 32, "FullPanoHeightPixels": 10, "CroppedAreaLeftPixels": 0}
    tags |= {"CroppedAreaTopPixels": 0, "CroppedAreaImageWidthPixels": 32, "CroppedAreaImageHeightPixels": 10}
    Image.fromarray(_pattern(32, 10)).save(squat, pnginfo=_png_text(_gpano_xmp(**tags)))
    rotated = tmp_path / "rot.jpg"
    exif = phone_exif()
    exif[0x0112] = 6
    Image.fromarray(_pattern(32, 48)).save(rotated, exif=exif.tobytes(), icc_profile=SRGB)
    photo = tmp_path / "photo.jpg"
    Image.fromarray(_pattern(30, 20)).save(photo)
    cases += [(small, {}), (squat, {}), (rotated, {"fov": (100, 70)}), (rotated, {"flat": True})]
    return cases + [(photo, {"fov": (90, 60)}), (photo, {"fov": (77, 33)}), (photo, {"flat": True})]


def test_probe_answers_as_a_full_read(tmp_path: Path, sample_pano: Path, partial_photosphere: Path) -> None:
    """``vrdream info`` reads no pixels onto a canvas (fileinfo.probe): it must say what a full read says."""
    probed = [probe(sample_pano)]
    assert probed[0] == panorama_info(read_photosphere(sample_pano))
    for path, options in _probe_cases(tmp_path, partial_photosphere):
        info = probe(path, **options)
        assert info == panorama_info(read_photosphere(path, **options)), (path.name, options)
        probed.append(info)
    kinds = {(i.file.format, i.file.mode, i.file.bits, i.file.orientation) for i in probed if i.file}
    assert {("JPEG", "CMYK", 8, 1), ("PNG", "I;16", 16, 1), ("TIFF", "F", 32, 1), ("JPEG", "RGB", 8, 6)} <= kinds
    assert len({i.real_fraction for i in probed}) >= 6  # partial canvases, alpha and odd fractions covered


def test_cli_info(partial_photosphere: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["info", str(partial_photosphere)]) == 0
    text = capsys.readouterr().out
    assert "partial" in text and "written back in its crop" in text and "pose_heading=30" in text
    assert main(["info", str(partial_photosphere), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["crop"] == list(PARTIAL_CROP) and data["exif_orientation"] == 1 and data["format"] == "JPEG"
    photo = tmp_path / "photo.jpg"
    Image.fromarray(_pattern(30, 20)).save(photo)
    assert main(["info", str(photo), "--fov", "90,60", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "partial"
    assert main(["info", str(photo), "--flat"]) == 0 and "flat" in capsys.readouterr().out
    assert main(["info", str(photo), "--max-pixels", "10"]) == 2


# ---------------------------------------------------------------------------- atomic outputs


def test_outputs_are_atomic_and_never_replace_inputs(
    tmp_path: Path, tagged_source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ps = read_photosphere(tagged_source)
    before = tagged_source.read_bytes()
    with pytest.raises(VrdreamError, match="input"):
        write_photosphere(tagged_source, ps.pixels, ps, overwrite=True)  # like.source is an input
    assert tagged_source.read_bytes() == before

    out = write_photosphere(tmp_path / "out.png", ps.pixels, ps)
    first = out.read_bytes()
    with pytest.raises(VrdreamError, match="--overwrite"):
        write_photosphere(out, ps.pixels * 0.5, ps)
    assert out.read_bytes() == first
    write_photosphere(out, ps.pixels * 0.5, ps, overwrite=True)
    assert out.read_bytes() != first
    with pytest.raises(VrdreamError, match="use .jpg, .png or .webp"):
        write_photosphere(tmp_path / "out.bmp", ps.pixels, ps)

    def crash(*args: object, **kw: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        write_photosphere(tmp_path / "crashed.jpg", ps.pixels, ps)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png", "src.jpg"]  # no temp file, no half output


# ---------------------------------------------------------------------------- big images


@pytest.mark.slow
def test_8k_reads_without_needless_copies(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    Image.new("RGB", (8192, 4096), (200, 100, 50)).save(path, quality=50)
    tracemalloc.start()
    ps = read_photosphere(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    canvas = ps.pixels.nbytes  # 400 MB of float32 RGB
    assert ps.pixels.shape == (4096, 8192, 3)
    # canvas + mask (1/3 of it) + one uint8 decode (1/4): anything more is a needless copy.
    assert peak < canvas * (1 + 1 / 3 + 1 / 4) * 1.05, (
        f"peak {peak / 2**20:.0f} MiB for a {canvas / 2**20:.0f} MiB canvas"
    )
