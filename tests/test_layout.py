"""Cube-map files (vrdream.layout) and the `vrdream cubemap` / `vrdream equirect` commands."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import py360convert
import pytest
from PIL import Image

from vrdream.cli import main
from vrdream.errors import InputError, VrdreamError
from vrdream.layout import (
    detect_layout,
    face_paths,
    from_dice,
    from_horizon,
    read_cubemap,
    to_dice,
    to_horizon,
    write_cubemap,
)
from vrdream.photosphere import read_photosphere


def labelled_faces(n: int = 4) -> np.ndarray:
    """(6, n, n, 3): face k is filled with k / 10, with a marker in its top-left pixel."""
    faces = np.repeat(np.arange(6, dtype=np.float32)[:, None, None, None] / 10, 3, axis=-1) * np.ones(
        (6, n, n, 3), np.float32
    )
    faces[:, 0, 0] = 1.0
    return faces


def test_dice_is_the_cross():
    """U above F; L F R B across; D below F — each face upright, as py360convert's dice."""
    n = 4
    faces = labelled_faces(n)
    dice = to_dice(faces)
    assert dice.shape == (3 * n, 4 * n, 3)
    cells = {(1, 1): 0, (2, 1): 1, (3, 1): 2, (0, 1): 3, (1, 0): 4, (1, 2): 5}  # (column, row) -> F R B L U D
    for (cx, cy), k in cells.items():
        np.testing.assert_array_equal(dice[cy * n : (cy + 1) * n, cx * n : (cx + 1) * n], faces[k])
    assert dice[:n, :n].max() == 0  # empty cells are black
    np.testing.assert_array_equal(from_dice(dice), faces)


def test_dice_and_horizon_match_py360convert():
    img = np.random.default_rng(0).random((32, 64, 3), dtype=np.float32)
    faces = np.stack(py360convert.e2c(img, 8, cube_format="list"))
    np.testing.assert_array_equal(to_dice(faces), py360convert.e2c(img, 8, cube_format="dice"))
    np.testing.assert_array_equal(to_horizon(faces), py360convert.e2c(img, 8, cube_format="horizon"))
    np.testing.assert_array_equal(from_horizon(to_horizon(faces)), faces)


def test_detect_layout():
    assert detect_layout(400, 300) == "dice"
    assert detect_layout(600, 100) == "horizon"
    assert detect_layout(400, 200) is None
    assert detect_layout(401, 300) is None


def test_face_paths():
    assert [p.name for p in face_paths("out/cube.png")] == [f"cube_{k}.png" for k in "FRBLUD"]
    assert face_paths("out/cube")[0] == Path("out/cube_F.png")


@pytest.mark.parametrize("layout", ["faces", "dice", "horizon"])
def test_write_then_read(tmp_path, layout):
    faces = np.random.default_rng(1).random((6, 8, 8, 3), dtype=np.float32)
    out = tmp_path / "cube.png"
    paths = write_cubemap(out, faces, layout)
    assert all(p.is_file() for p in paths) and len(paths) == (6 if layout == "faces" else 1)
    back = read_cubemap(paths)
    assert np.abs(back - faces).max() <= 0.5 / 255 + 1e-6  # 8-bit rounding only


def test_refuses_existing_outputs_before_writing_any(tmp_path):
    faces = labelled_faces()
    paths = face_paths(tmp_path / "cube.png")
    paths[3].write_bytes(b"keep")
    with pytest.raises(VrdreamError, match="already exists"):
        write_cubemap(tmp_path / "cube.png", faces, "faces")
    assert not paths[0].exists() and paths[3].read_bytes() == b"keep"
    write_cubemap(tmp_path / "cube.png", faces, "faces", overwrite=True)
    assert all(p.is_file() for p in paths)


def test_bad_inputs(tmp_path):
    odd = tmp_path / "odd.png"
    Image.new("RGB", (50, 30)).save(odd)
    with pytest.raises(InputError, match="neither a dice"):
        read_cubemap([odd])
    with pytest.raises(VrdreamError, match="six face files"):
        read_cubemap([odd] * 5)
    square = tmp_path / "sq.png"
    Image.new("RGB", (30, 30)).save(square)
    with pytest.raises(InputError, match="square"):
        read_cubemap([square] * 5 + [odd])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * math.log10(1 / float(((a - b) ** 2).mean()))


def test_cli_round_trip(tmp_path, sample_pano, capsys):
    """`vrdream cubemap` then `vrdream equirect`: faces W/4, six files or one dice, back to a GPano panorama."""
    raw = read_photosphere(sample_pano).pixels
    assert main(["cubemap", str(sample_pano), "-o", str(tmp_path / "m.png"), "-q"]) == 0
    faces = face_paths(tmp_path / "m.png")
    assert Image.open(faces[0]).size == (raw.shape[1] // 4,) * 2
    assert main(["equirect", *map(str, faces), "-o", str(tmp_path / "back.jpg"), "-q"]) == 0
    back = read_photosphere(tmp_path / "back.jpg")
    assert back.gpano.full_width == raw.shape[1] and not back.is_partial
    assert psnr(back.pixels, raw) > 30  # JPEG and PNG 8-bit on top of the resampling

    assert (
        main(
            ["cubemap", str(sample_pano), "-o", str(tmp_path / "d.png"), "--layout", "dice", "--face-size", "64", "-q"]
        )
        == 0
    )
    assert Image.open(tmp_path / "d.png").size == (256, 192)
    assert main(["equirect", str(tmp_path / "d.png"), "-o", str(tmp_path / "w.png"), "--width", "300", "-q"]) == 0
    assert read_photosphere(tmp_path / "w.png").pixels.shape == (150, 300, 3)


def test_cli_errors(tmp_path, sample_pano, capsys):
    out = tmp_path / "m.png"
    assert main(["cubemap", str(sample_pano), "-o", str(out), "-q"]) == 0
    assert main(["cubemap", str(sample_pano), "-o", str(out), "-q"]) == 2  # exists, no --overwrite
    assert "already exists" in capsys.readouterr().err
    assert main(["equirect", str(face_paths(out)[0]), "-o", str(tmp_path / "e.jpg")]) == 2
    assert "neither a dice" in capsys.readouterr().err


def test_cli_partial_faces_are_transparent(tmp_path, partial_photosphere):
    assert main(["cubemap", str(partial_photosphere), "-o", str(tmp_path / "p.png"), "-q"]) == 0
    alpha = np.asarray(Image.open(face_paths(tmp_path / "p.png")[4]))[..., 3]  # U: mostly above the crop
    assert alpha.min() == 0 and np.asarray(Image.open(face_paths(tmp_path / "p.png")[0]))[..., 3].max() == 255
