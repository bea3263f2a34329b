"""Cube-map files (vrdream.layout) and the `vrdream cubemap` / `vrdream equirect` commands."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import py360convert
import pytest
from PIL import Image
from test_photosphere import BAD, _bad_files

from vrdream.cli import main
from vrdream.cubemap import e2c
from vrdream.equirect import equirect_dirs
from vrdream.errors import InputError, VrdreamError
from vrdream.faces import FACES
from vrdream.layout import (
    covered_rect,
    cubemap_file,
    detect_layout,
    equirect_file,
    face_axis,
    face_naming,
    face_of,
    face_paths,
    from_dice,
    from_horizon,
    order_faces,
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


# ---------------------------------------------------------------------------- faces named in file names

#: Naming schemes other tools write, face by face in F R B L U D order.
SCHEMES = {
    "vrdream": ["cube_F", "cube_R", "cube_B", "cube_L", "cube_U", "cube_D"],
    "lower-letters": ["cube_f", "cube_r", "cube_b", "cube_l", "cube_u", "cube_d"],
    "words": ["front", "right", "back", "left", "up", "down"],
    "words-top-bottom": ["Sky_Front", "Sky_Right", "Sky_Back", "Sky_Left", "Sky_Top", "Sky_Bottom"],
    "opengl": ["pz", "px", "nz", "nx", "py", "ny"],
    "opengl-long": ["env-posz", "env-posx", "env-negz", "env-negx", "env-posy", "env-negy"],
    "word-then-size": ["front_4k", "right_4k", "back_4k", "left_4k", "top_4k", "bottom_4k"],
}


@pytest.mark.parametrize("scheme", SCHEMES)
def test_face_names_decide_the_order(tmp_path, scheme):
    """Faces named by any scheme, handed over in shell-glob (alphabetical) or reversed order, read as F R B L U D."""
    faces = labelled_faces(4)
    written = write_cubemap(tmp_path / "cube.png", faces, "faces")
    named = [p.rename(tmp_path / f"{scheme}-{stem}.png") for p, stem in zip(written, SCHEMES[scheme])]
    assert [face_of(p) for p in named] == list("FRBLUD")
    for order in (sorted(named), named[::-1]):
        assert order != named  # the names, not the order given, must decide
        np.testing.assert_array_equal(read_cubemap(order), read_cubemap(named))
        assert np.abs(read_cubemap(order) - faces).max() <= 0.5 / 255 + 1e-6


def test_names_without_a_face_keep_the_order_given():
    plain = [Path(f"shot{i}.png") for i in range(6)]
    assert all(face_of(p) is None for p in plain)
    assert order_faces(plain) == plain and order_faces(plain[::-1]) == plain[::-1]


@pytest.mark.parametrize(
    ("names", "problem"),
    [
        (["c_F", "c_R", "c_B", "c_L", "c_U"], "the D \\(-y\\) face is missing"),
        (["c_F", "c_R", "c_B", "c_L", "c_U", "c_D", "other_front"], "other_front.png: is the F \\(\\+z\\) face again"),
        (["c_F", "c_R", "c_B", "c_L", "c_U", "x_2"], "x_2.png: its name carries no face while c_F.png's does"),
        (["a", "b2", "c"], "give six face files"),
    ],
)
def test_face_missing_twice_or_unnamed_is_refused(names, problem):
    with pytest.raises(VrdreamError, match=problem):
        order_faces([Path(f"{n}.png") for n in names])


def test_face_axes_are_vrdreams_frame():
    """F looks along +z (forward), R +x, U +y: the axes --help names, from vrdream.cubemap's basis."""
    assert [face_axis(f) for f in "FRBLUD"] == ["+z", "+x", "-z", "-x", "+y", "-y"]
    assert "px posx (+x)" in face_naming() and "top py posy (+y)" in face_naming()


def test_opengl_names_are_opengl_cube_map_faces(tmp_path):
    """Faces named px nx py ny pz nz, uploaded to an OpenGL cube texture as +X -X +Y -Y +Z -Z (rows top first),
    give back at every direction the colour vrdream's faces hold there: the names and orientation are OpenGL's."""
    moderngl = pytest.importorskip("moderngl")
    try:
        ctx = moderngl.create_context(standalone=True, backend="egl", require=330)
    except Exception as exc:  # glcontext raises plain Exceptions with the EGL reason
        pytest.skip(f"no offscreen OpenGL context here ({exc})")
    h, w, n = 64, 128, 32
    dirs = equirect_dirs(h, w)
    coded = (dirs / dirs.norm(dim=-1, keepdim=True) + 1) / 2  # colour = direction: any swap or flip shows
    faces = e2c(coded.permute(2, 0, 1)[None].float(), n)[0].permute(0, 2, 3, 1).numpy()
    written = write_cubemap(tmp_path / "cube.tif", faces, "faces")  # TIFF: no 8-bit rounding question here
    gl_names = ["px", "nx", "py", "ny", "pz", "nz"]
    files = {name: written[FACES.index(face_of(name))].rename(tmp_path / f"sky_{name}.tif") for name in gl_names}
    data = np.concatenate([np.asarray(Image.open(files[name]), np.float32) / 255 for name in gl_names])
    tex = ctx.texture_cube((n, n), 3, np.ascontiguousarray(data, "f4").tobytes(), dtype="f4")
    prog = ctx.program(
        vertex_shader="#version 330\nin vec2 p; void main() { gl_Position = vec4(p, 0, 1); }",
        fragment_shader=f"""#version 330
        uniform samplerCube cube; out vec4 colour;
        void main() {{  // row y of the output is equirect row y (row 0 up), as docs/conventions.md
            float yaw = (gl_FragCoord.x / {w}.0 - 0.5) * 6.283185307179586;
            float pitch = (0.5 - gl_FragCoord.y / {h}.0) * 3.141592653589793;
            colour = vec4(texture(cube, vec3(cos(pitch) * sin(yaw), sin(pitch), cos(pitch) * cos(yaw))).rgb, 1);
        }}""",
    )
    vao = ctx.vertex_array(prog, [(ctx.buffer(np.array([-1, -1, 3, -1, -1, 3], "f4").tobytes()), "2f", "p")])
    fbo = ctx.framebuffer([ctx.renderbuffer((w, h), 4, dtype="f4")])
    fbo.use()
    tex.use(0)
    vao.render()
    seen = np.frombuffer(fbo.read(components=3, dtype="f4"), "f4").reshape(h, w, 3)
    ctx.release()
    assert np.abs(seen - coded.numpy()).max() < 3 / 255  # a swapped or mirrored face is off by up to 1


def test_cli_glob_order_joins_as_the_ordered_faces(tmp_path, sample_pano, capsys):
    """`vrdream cubemap pano -o out/cube.png`, then `vrdream equirect out/cube_*.png` (the shell's B D F L R U)."""
    out = tmp_path / "out"
    assert main(["cubemap", str(sample_pano), "-o", str(out / "cube.png"), "--face-size", "48"]) == 0
    faces = face_paths(out / "cube.png")
    assert capsys.readouterr().out.splitlines() == [f"wrote {p}" for p in faces]
    globbed = sorted(out.glob("cube_*.png"))
    assert [face_of(p) for p in globbed] == list("BDFLRU")
    assert main(["equirect", *map(str, faces), "-o", str(tmp_path / "ordered.png"), "-q"]) == 0
    assert main(["equirect", *map(str, globbed), "-o", str(tmp_path / "globbed.png")]) == 0
    assert capsys.readouterr().out == f"wrote {tmp_path / 'globbed.png'}\n"
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "globbed.png")), np.asarray(Image.open(tmp_path / "ordered.png"))
    )
    assert psnr(read_photosphere(tmp_path / "globbed.png").pixels, read_photosphere(sample_pano).pixels[::8, ::8]) > 20


@pytest.mark.parametrize(
    ("drop", "add", "problem"),
    [("D", None, "the D (-y) face is missing"), (None, "F", "is the F (+z) face again")],
)
def test_cli_face_missing_or_twice(tmp_path, capsys, drop, add, problem):
    paths = write_cubemap(tmp_path / "cube.png", labelled_faces(4), "faces")
    args = [str(p) for p in paths if p.stem[-1] != drop] + [str(p) for p in paths if p.stem[-1] == add]
    assert main(["equirect", *args, "-o", str(tmp_path / "e.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and problem in err and not (tmp_path / "e.png").exists()


# ---------------------------------------------------------------------------- library calls


def test_library_calls_write_what_the_cli_writes(tmp_path, sample_pano):
    paths = cubemap_file(sample_pano, tmp_path / "d.png", layout="dice", face_size=32, interpolation="bilinear")
    assert paths == [tmp_path / "d.png"] and Image.open(paths[0]).size == (128, 96)
    back = equirect_file(paths, tmp_path / "e.webp", width=100, interpolation="bilinear", quality=90)
    assert back == tmp_path / "e.webp" and read_photosphere(back).pixels.shape == (50, 100, 3)
    flags = ["--layout", "dice", "--face-size", "32", "--interpolation", "bilinear", "-q"]
    assert main(["cubemap", str(sample_pano), "-o", str(tmp_path / "c.png"), *flags]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "c.png")), np.asarray(Image.open(paths[0])))


@pytest.mark.parametrize(
    ("call", "problem"),
    [
        (lambda s, d: cubemap_file(s, d, layout="cross"), "layout 'cross': must be one of faces, dice, horizon"),
        (lambda s, d: cubemap_file(s, d, interpolation="lanczos"), "interpolation 'lanczos'"),
        (lambda s, d: equirect_file([s], d, interpolation="nearest"), "interpolation 'nearest'"),
        (lambda s, d: cubemap_file(s, d, quality=0), "--quality 0"),
    ],
)
def test_library_modes_are_checked_where_they_enter(tmp_path, sample_pano, call, problem):
    with pytest.raises(VrdreamError, match=problem):
        call(sample_pano, tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- partial panoramas


def test_partial_round_trip_is_a_partial_photosphere(tmp_path, partial_photosphere, capsys):
    """partial in -> RGBA faces -> equirect: the covered area again, as a GPano crop, with alpha."""
    src = read_photosphere(partial_photosphere)
    assert main(["cubemap", str(partial_photosphere), "-o", str(tmp_path / "c.png"), "-q"]) == 0
    faces = sorted(tmp_path.glob("c_*.png"))
    assert all(Image.open(p).mode == "RGBA" for p in faces)
    assert main(["equirect", *map(str, faces), "-o", str(tmp_path / "back.png"), "-q"]) == 0
    back = read_photosphere(tmp_path / "back.png")
    assert back.is_partial and back.crop is not None and src.crop is not None
    assert np.abs(np.subtract(back.crop, src.crop)).max() <= 2
    real = (src.mask > 0.99) & (back.mask > 0.99)
    assert real.sum() > 0.95 * src.mask.sum() and np.abs(back.pixels - src.pixels)[real].mean() < 0.01
    assert main(["info", str(tmp_path / "back.png"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "partial"
    # JPEG has no alpha: the crop alone says where the photo is
    assert main(["equirect", *map(str, faces), "-o", str(tmp_path / "back.jpg"), "-q"]) == 0
    assert read_photosphere(tmp_path / "back.jpg").crop == back.crop


def test_partial_to_jpeg_faces_is_refused_before_writing(tmp_path, partial_photosphere, capsys):
    assert main(["cubemap", str(partial_photosphere), "-o", str(tmp_path / "c.jpg")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(partial_photosphere) in err and "need alpha" in err
    assert sorted(tmp_path.iterdir()) == [partial_photosphere]


def test_dice_with_transparent_empty_cells_is_a_full_sphere(tmp_path):
    """A cross whose empty cells are transparent (as image editors export them) holds six opaque faces."""
    faces = np.concatenate([labelled_faces(8), np.ones((6, 8, 8, 1), np.float32)], axis=-1)
    dice = tmp_path / "cross.png"
    Image.fromarray((to_dice(faces) * 255).round().astype(np.uint8)).save(dice)
    assert Image.open(dice).mode == "RGBA" and read_cubemap([dice]).shape == (6, 8, 8, 3)
    back = read_photosphere(equirect_file([dice], tmp_path / "e.png"))
    assert not back.is_partial and back.mask.min() == 1 and Image.open(tmp_path / "e.png").mode == "RGB"


def test_covered_rect():
    alpha = np.zeros((8, 16), np.float32)
    alpha[2:5, 3:9] = 1
    alpha[6, 10] = 0.4  # below COVERED: not part of the photo
    assert covered_rect(alpha) == (3, 2, 6, 3)
    assert covered_rect(np.ones((8, 16), np.float32)) is None
    with pytest.raises(VrdreamError, match="transparent everywhere"):
        covered_rect(np.zeros((8, 16), np.float32))


# ---------------------------------------------------------------------------- bad files and options


#: Bad files of every kind a face can be (test_photosphere's), found before any placement.
FILE_PROBLEMS = ("missing", "empty", "text", "gif", "truncated-jpeg", "truncated-png", "bomb")


def _bad_face_sets(tmp_path: Path, sample_pano: Path) -> dict[str, tuple[list[Path], str]]:
    """name -> (six files for `equirect`, five good faces and a bad D face last; the expected problem)."""
    good = write_cubemap(tmp_path / "good" / "cube.png", labelled_faces(8), "faces")[:5]
    sets = {}
    for case, (path, problem) in _bad_files(tmp_path, sample_pano).items():
        if case in FILE_PROBLEMS:  # named as the D face, so the names order them and the file itself is read
            face = tmp_path / f"{case}_D{path.suffix}"
            if path.is_file():
                face.write_bytes(path.read_bytes())
            sets[case] = ([*good, face], problem)
    Image.new("RGB", (6, 6)).save(tmp_path / "small_D.png")
    Image.new("RGB", (8, 6)).save(tmp_path / "wide_D.png")
    sets["unequal"] = ([*good, tmp_path / "small_D.png"], "every face must be 8×8")
    sets["not-square"] = ([*good, tmp_path / "wide_D.png"], "face is 8×6")
    return sets


@pytest.mark.parametrize("case", [*FILE_PROBLEMS, "unequal", "not-square"])
def test_equirect_bad_faces_one_line_nothing_written(tmp_path, sample_pano, capsys, case):
    files, problem = _bad_face_sets(tmp_path, sample_pano)[case]
    before = {p: p.read_bytes() for p in files if p.is_file()}
    out = tmp_path / "out" / "e.png"
    assert main(["equirect", *map(str, files), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("vrdream: error: ") and str(files[-1]) in err
    assert re.search(problem, err) and "Traceback" not in err
    assert not out.parent.exists() and {p: p.read_bytes() for p in before} == before


@pytest.mark.parametrize("case", BAD)
def test_cubemap_bad_panorama_one_line_nothing_written(tmp_path, sample_pano, capsys, case):
    path, problem = _bad_files(tmp_path, sample_pano)[case]
    out = tmp_path / "out" / "cube.png"
    assert main(["cubemap", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and re.search(problem, err)
    assert not out.parent.exists()


@pytest.mark.parametrize(
    ("command", "flags", "problem"),
    [
        ("cubemap", ["--face-size", "0"], "--face-size 0: must be at least 1"),
        ("cubemap", ["--face-size", "100000"], "over the limit"),
        ("cubemap", ["-o", "OUT/c.gif"], "cannot write .gif"),
        ("cubemap", ["--layout", "dice", "-o", "OUT/c"], "cannot write files without a suffix"),
        ("cubemap", ["--quality", "101"], "--quality 101: must be 1 to 100"),
        ("equirect", ["--width", "301"], "--width 301: must be an even number"),
        ("equirect", ["--width", "0"], "--width 0"),
        ("equirect", ["--width", "100000"], "over the limit"),
        ("equirect", ["-o", "OUT/e.tif"], "cannot write .tif"),
    ],
)
def test_options_are_checked_before_the_input_is_read(tmp_path, capsys, command, flags, problem):
    """An empty input file would fail when read: the option must be refused first."""
    unread = tmp_path / "unread.png"
    unread.write_bytes(b"")
    out = ["-o", str(tmp_path / "out" / "x.png")]
    args = [command, str(unread), *out, *[f.replace("OUT", str(tmp_path / "out")) for f in flags]]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and problem in err and "empty" not in err
    assert not (tmp_path / "out").exists()
