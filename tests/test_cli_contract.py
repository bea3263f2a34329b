"""What every command promises: the dream flags reach the engine in every command that dreams, and a bad
file given to any command is one line and exit 2, with nothing written and the input untouched."""

from __future__ import annotations

import argparse
import os
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from videos import load_panorama, make_video

from vrdream.cli import build_parser, main
from vrdream.engine import EngineOptions

# --------------------------------------------------------------------------- every dream flag reaches the engine

#: A value for each flag of the "dream" option group that differs from every preset's. A flag added to the group
#: without a row here fails the test, so it must be checked in every command that dreams.
DREAM_FLAG_VALUES: dict[str, str] = {
    "preset": "parts",
    "backbone": "efficientnet_lite1",
    "weights": "WEIGHTS",
    "objective": "blocks.2[3,4]",
    "guide": "GUIDE",
    "octaves": "2",
    "octave_scale": "1.3",
    "steps": "3",
    "pattern_deg": "20.5",
    "detail_steps": "1",
    "step_size": "0.0123",
    "normalize": "laplacian",
    "jitter": "5",
    "seed": "7",
    "precision": "fp32",
    "device": "cpu",
    "threads": "1",
    "tile": "64",
}
#: Flags that are not engine options: what they change is checked separately.
NOT_ENGINE = {"threads"}


class Built(Exception):
    """Raised by the stand-in engine builder: the command got as far as building its engine."""

    def __init__(self, options: EngineOptions) -> None:
        self.options = options


def _replace_engine_builder(monkeypatch: pytest.MonkeyPatch, stand_in: object) -> None:
    """Put ``stand_in`` in place of :func:`vrdream.engine.build_dreamer` in every module that binds it."""
    import vrdream.batch
    import vrdream.engine
    import vrdream.pipeline
    import vrdream.video
    import vrdream.zoom  # noqa: F401  (loaded so that every module that binds the builder is patched)

    original = vrdream.engine.build_dreamer
    for name, module in list(sys.modules.items()):
        if name.startswith("vrdream") and getattr(module, "build_dreamer", None) is original:
            monkeypatch.setattr(module, "build_dreamer", stand_in)


def _dream_commands() -> list[str]:
    """The commands whose parser has the dream option group."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(
        name
        for name, p in sub.choices.items()
        if any(g.title == "dream" for g in p._action_groups)  # type: ignore[attr-defined]
    )


#: The flags of a still's pattern scale on the sphere: ``vrdream video``, ``zoom`` and ``stimuli`` dream at one
#: width, so these would be ignored there; they are hidden there and refused with a reason instead.
SCALE_FLAGS = ("pattern_deg", "detail_steps")


@pytest.mark.parametrize("command", ["stimuli", "video", "zoom"])
@pytest.mark.parametrize("flag", ["--pattern-deg", "--detail-steps"])
def test_commands_that_dream_at_one_width_refuse_the_pattern_scale(
    command: str, flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One line naming the flag and why, exit 2, before any work; the flag is not in the command's --help."""
    out = tmp_path / ("out" if command == "stimuli" else "out.mp4")
    assert main([command, "in.mp4", "-o", str(out), flag, "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and flag in err[0] and f"vrdream {command} dreams every frame at one width" in err[0]
    assert not out.exists()
    assert flag not in _subparsers()[command].format_help()  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", ["dream", "batch"])
@pytest.mark.parametrize("size", [["--dream-width", "512"], ["--upscale", "2"], ["--flat"]])
def test_a_still_sized_another_way_refuses_the_pattern_scale(
    command: str, size: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pattern scale would go unused: one line, exit 2, before any work (nothing is written)."""
    out = tmp_path / ("out.jpg" if command == "dream" else "out")
    assert main([command, "in.jpg", "-o", str(out), "--pattern-deg", "20", *size]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--pattern-deg" in err[0] and size[0] in err[0]
    assert not out.exists()


def test_every_command_that_dreams_is_covered() -> None:
    assert _dream_commands() == ["batch", "dream", "stimuli", "video", "zoom"]


@pytest.fixture(scope="module")
def tiny_inputs(tmp_path_factory: pytest.TempPathFactory, sample_pano: Path) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("contract-inputs")
    pano = load_panorama(sample_pano, 64)
    still = folder / "pano.png"
    Image.fromarray((pano * 255).round().astype(np.uint8)).save(still)
    return {"still": still, "video": make_video(folder / "clip.mp4", pano, frames=2, audio=None)}


@pytest.mark.parametrize("command", ["batch", "dream", "stimuli", "video", "zoom"])
def test_every_dream_flag_reaches_the_engine(
    command: str, tiny_inputs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vrdream.cli._common import LEVEL_FLAGS

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    group = next(g for g in sub.choices[command]._action_groups if g.title == "dream")  # type: ignore[attr-defined]
    shown = [a for a in group._group_actions if a.help != argparse.SUPPRESS]  # hidden: refused (test below)
    dests = {a.dest for a in shown}
    # stimuli's levels choose preset, network, layer and guide: the level flags are not its to take
    levels = set(LEVEL_FLAGS) if command == "stimuli" else set()
    # the pattern scale is a still's (dream_sphere_scaled): the commands that dream at one width refuse it
    unscaled = set(SCALE_FLAGS) if command in ("stimuli", "video", "zoom") else set()
    assert dests == set(DREAM_FLAG_VALUES) - levels - unscaled, "every dream flag needs a value (and a check) here"

    files = {"WEIGHTS": str(tmp_path / "w.pt"), "GUIDE": str(tiny_inputs["still"])}
    video_in = command in ("video", "stimuli")
    argv = [command, str(tiny_inputs["video" if video_in else "still"]), "-o", str(tmp_path / "out")]
    argv[-1] += {"dream": ".jpg", "stimuli": "", "batch": ""}.get(command, ".mp4")
    for action in shown:
        value = DREAM_FLAG_VALUES[action.dest]
        argv += [action.option_strings[-1], files.get(value, value)]

    def stand_in(options: EngineOptions) -> None:
        raise Built(options)

    _replace_engine_builder(monkeypatch, stand_in)
    threads = torch.get_num_threads()
    try:
        with pytest.raises(Built) as built:
            main(argv)
        assert torch.get_num_threads() == int(DREAM_FLAG_VALUES["threads"])
    finally:
        torch.set_num_threads(threads)
    got = built.value.options
    settings = got.settings
    expected = {k: v for k, v in DREAM_FLAG_VALUES.items() if k not in NOT_ENGINE | levels | unscaled}
    if command == "stimuli":
        assert (got.preset, settings.objective) == ("edges", "blocks.1")  # the first default level's
    else:
        assert got.preset == expected.pop("preset")
        assert got.weights == files[expected.pop("weights")]
        assert got.guide == files[expected.pop("guide")]
    for name, text in expected.items():
        value = getattr(settings, name)
        assert str(value) == text or value == type(value)(text), (command, name, value, text)


# --------------------------------------------------------------------------- bad files through every command


def _png_header_only(w: int, h: int) -> bytes:
    """A PNG whose header claims w×h pixels, with almost no data: a decompression-bomb header."""

    def chunk(cid: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + cid + data + struct.pack(">I", zlib.crc32(cid + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _xmp_bomb(path: Path) -> Path:
    """A small PNG whose iTXt XMP packet is 2 MiB of nested elements (over the 1 MiB cap)."""
    packet = "<x:xmpmeta xmlns:x='adobe:ns:meta/'>" + "<a>" * 200_000 + "</a>" * 200_000 + "</x:xmpmeta>"
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", packet)
    Image.new("RGB", (64, 32)).save(path, pnginfo=info)
    return path


BAD_FILES = ["empty", "text", "truncated", "bomb", "xmp-bomb"]


def _bad_file(kind: str, folder: Path, good: Path, suffix: str = ".png") -> Path:
    path = folder / f"bad-{kind}{suffix}"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_bytes(b"these are not pixels\n" * 10)
    elif kind == "truncated":
        data = good.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "bomb":
        path.write_bytes(_png_header_only(40000, 20000))
    else:
        _xmp_bomb(path)
    return path


def _argv(command: str, bad: Path, good: Path, video: Path, out: Path) -> list[str]:
    """The command line that gives ``bad`` to ``command`` (as its input, or as one of its input files)."""
    few = ["--steps", "1", "--octaves", "1", "-q"]
    return {
        "dream": ["dream", str(bad), "-o", str(out / "d.jpg"), *few],
        "dream --mask": ["dream", str(good), "--mask", str(bad), "-o", str(out / "d.jpg"), *few],
        "dream --guide": [
            "dream",
            str(good),
            "--objective",
            "guide:blocks.2",
            "--guide",
            str(bad),
            "-o",
            str(out / "d.jpg"),
            *few,
        ],
        "upscale": ["upscale", str(bad), "-o", str(out / "u.jpg"), "--sr", "realesr-animevideov3", "-q"],
        "zoom": ["zoom", str(bad), "-o", str(out / "z.mp4"), "--frames", "2", *few],
        "fade raw": ["fade", str(bad), str(good), "-o", str(out / "f.mp4"), "--seconds", "0.1", "-q"],
        "fade dream": ["fade", str(good), str(bad), "-o", str(out / "f.mp4"), "--seconds", "0.1", "-q"],
        "cubemap": ["cubemap", str(bad), "-o", str(out / "cube.png"), "-q"],
        "equirect": ["equirect", str(bad), "-o", str(out / "e.jpg"), "-q"],
        "view": ["view", str(bad), "--screenshot", str(out / "v.png"), "-q"],
        "info": ["info", str(bad)],
    }[command]


COMMANDS = [
    "dream",
    "dream --mask",
    "dream --guide",
    "upscale",
    "zoom",
    "fade raw",
    "fade dream",
    "cubemap",
    "equirect",
    "view",
    "info",
]


def _snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.iterdir() if p.is_file()}


def _one_line_error(argv: list[str], capsys: pytest.CaptureFixture, out: Path, inputs: Path, before: dict) -> str:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert 1 <= len(err) <= 2 and "Traceback" not in "\n".join(err), err
    assert not out.exists() or not any(out.iterdir()), list(out.iterdir())  # nothing written, no checkpoints
    assert _snapshot(inputs) == before  # the inputs are untouched
    return err[-1]


@pytest.mark.parametrize("kind", BAD_FILES)
@pytest.mark.parametrize("command", COMMANDS)
def test_a_bad_file_is_one_line_in_every_command(
    command: str, kind: str, tiny_inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    good = inputs / "good.png"
    good.write_bytes(tiny_inputs["still"].read_bytes())
    bad = _bad_file(kind, inputs, good)
    out = tmp_path / "out"
    before = _snapshot(inputs)
    line = _one_line_error(_argv(command, bad, good, tiny_inputs["video"], out), capsys, out, inputs, before)
    assert bad.name in line


@pytest.mark.parametrize("kind", ["empty", "text", "truncated"])
@pytest.mark.parametrize("command", ["video", "stimuli"])
def test_a_bad_video_is_one_line(
    command: str, kind: str, tiny_inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    bad = _bad_file(kind, inputs, tiny_inputs["video"], ".mp4")
    out = tmp_path / "out"
    before = _snapshot(inputs)
    target = out / "v.mp4" if command == "video" else out / "set"
    argv = [command, str(bad), "-o", str(target), "--steps", "1", "--octaves", "1", "-q"]
    assert bad.name in _one_line_error(argv, capsys, out, inputs, before)


class _Payload:
    """Unpickling this runs code: a weights file no one should load."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("flag", ["--weights", "--sr-weights"])
@pytest.mark.parametrize("kind", ["not-a-state-dict", "code", "text"])
def test_a_bad_weights_file_is_refused_in_one_line(
    flag: str, kind: str, tiny_inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    weights = inputs / "w.pth"
    marker = tmp_path / "ran"
    if kind == "not-a-state-dict":
        torch.save([1, 2, 3], weights)
    elif kind == "code":
        torch.save({"conv.weight": _Payload(marker)}, weights)
    else:
        weights.write_text("not weights")
    good = inputs / "good.png"
    good.write_bytes(tiny_inputs["still"].read_bytes())
    out = tmp_path / "out"
    before = _snapshot(inputs)
    if flag == "--weights":
        argv = [
            "dream",
            str(good),
            "--backbone",
            "googlenet",
            "--weights",
            str(weights),
            "-o",
            str(out / "d.jpg"),
            "--steps",
            "1",
            "--octaves",
            "1",
            "-q",
        ]
    else:
        argv = [
            "upscale",
            str(good),
            "--sr",
            "realesrgan-x4plus",
            "--sr-weights",
            str(weights),
            "-o",
            str(out / "u.jpg"),
            "-q",
        ]
    assert weights.name in _one_line_error(argv, capsys, out, inputs, before)
    assert not marker.exists()  # the pickle's code never ran


# --------------------------------------------------------------------------- help: defaults and names


def _subparsers() -> dict[str, object]:
    parser = build_parser()
    return dict(next(a for a in parser._actions if a.dest == "command").choices)  # type: ignore[attr-defined]


def _options(p: object) -> list:
    return [a for a in p._actions if a.option_strings and a.help != "==SUPPRESS=="]  # type: ignore[attr-defined]


def test_every_option_states_its_default() -> None:
    missing = []
    for name, p in _subparsers().items():
        for a in _options(p):
            if a.nargs == 0 or a.required or a.dest in ("help", "output"):
                continue  # switches, required options and help
            if "default" not in (a.help or ""):
                missing.append(f"{name} {a.option_strings[-1]}")
    assert not missing, missing


def test_one_metavar_per_flag_across_commands() -> None:
    seen: dict[str, set[str]] = {}
    for p in _subparsers().values():
        for a in _options(p):
            if a.nargs != 0:
                seen.setdefault(a.option_strings[-1], set()).add(str(a.metavar or a.dest.upper()))
    assert {k: v for k, v in seen.items() if len(v) > 1} == {}


def test_every_command_takes_quiet() -> None:
    assert [n for n, p in _subparsers().items() if "--quiet" not in p._option_string_actions] == []  # type: ignore


def test_negative_angles_need_no_equals_sign() -> None:
    args = build_parser().parse_args(
        __import__("vrdream.cli", fromlist=["x"]).join_negative_values(
            ["zoom", "in.jpg", "-o", "o.mp4", "--toward", "-90,-10", "--spin", "-2"],
            {"--toward", "--spin", "-o"},
        )
    )
    assert args.toward == (-90.0, -10.0) and args.spin == -2.0


def test_the_public_api_resolves() -> None:
    import vrdream

    assert set(vrdream.__all__) == set(vrdream._EXPORTS)
    for name in vrdream.__all__:
        assert callable(getattr(vrdream, name)), name


# --------------------------------------------------------------------------- bad values, refused before the work

#: (command line after the command's input and output, the flag the one line must name, needs the network?)
BAD_VALUES: dict[str, list[tuple[list[str], str, bool]]] = {
    "dream": [
        (["--upscale", "5"], "--upscale", False),
        (["--select", "400,100"], "--select", False),
        (["--select", "0,30", "--region", "ground", "--tolerance", "0.01"], "--select", False),
        (["--flat", "--mask", "IN"], "--mask", False),
        (["--flat", "--dream-width", "256"], "--dream-width", False),
        (["--quality", "0"], "--quality", False),
        (["--steps", "-1"], "steps", False),
        (["--octaves", "0"], "octaves", False),
        (["--normalize", "nope"], "--normalize", False),
        (["--objective", "class:5000"], "class:5000", True),
        (["--objective", "blocks.4[999]"], "blocks.4", True),
        (["--objective", "class:no such thing"], "no such thing", True),
    ],
    "dream.gif": [([], ".gif", False)],
    "dream.tif": [([], ".tif", False)],
    "upscale": [
        (["--memory-budget", "-1"], "--memory-budget", False),
        (["--tile", "4"], "--tile", False),
        (["--upscale", "7"], "--upscale", False),
    ],
    "video": [
        (["--steps-next", "-3"], "--steps-next", False),
        (["--codec", "nosuch"], "--codec", False),
        (["--pix-fmt", "foo"], "--pix-fmt", False),
        (["--encoder-preset", "nope"], "--encoder-preset", False),
    ],
    "video.webm": [([], ".webm", False), (["--codec", "libx265"], ".webm", False)],  # WebM: VP9/AV1 only
    "video.mkv": [(["--codec", "mpeg4"], ".mkv", False)],
    "video.avi": [([], ".avi", False)],
    "zoom": [
        (["--fps", "0"], "--fps", False),
        (["--zoom", "0"], "--zoom", False),
        (["--zoom", "-1"], "--zoom", False),
        (["--frames", "0"], "--frames", False),
        (["--toward", "10,100"], "--toward", False),
        (["--codec", "nosuch"], "--codec", False),
    ],
    "zoom.webm": [([], ".webm", False)],
    "fade": [(["--seconds", "0"], "--seconds", False), (["--hold", "1"], "--hold", False)],
    "fade.webm": [(["--codec", "libx264"], ".webm", False)],
    "fade.mkv": [(["--codec", "mpeg4"], ".mkv", False)],
    "batch": [(["--workers", "0"], "--workers", False)],
}
BAD_VALUE_CASES = [(key, i) for key, rows in BAD_VALUES.items() for i in range(len(rows))]


@pytest.mark.parametrize(("key", "row"), BAD_VALUE_CASES, ids=[f"{k}-{i}" for k, i in BAD_VALUE_CASES])
def test_a_bad_value_is_refused_in_one_line_before_the_work(
    key: str,
    row: int,
    tiny_inputs: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    extra, flag, needs_network = BAD_VALUES[key][row]
    command, _, suffix = key.partition(".")
    inputs = tmp_path / "in"
    inputs.mkdir()
    still = inputs / "pano.png"
    still.write_bytes(tiny_inputs["still"].read_bytes())
    video = inputs / "clip.mp4"
    video.write_bytes(tiny_inputs["video"].read_bytes())
    src = {"video": [str(video)], "fade": [str(still), str(still)]}.get(command, [str(still)])
    ext = suffix or {"video": "mp4", "zoom": "mp4", "fade": "mp4"}.get(command, "jpg")
    out = tmp_path / "out"
    argv = [command, *src, "-o", str(out / f"o.{ext}"), *[str(still) if a == "IN" else a for a in extra], "-q"]
    if not needs_network:  # refused before any model is built
        _replace_engine_builder(monkeypatch, lambda *_: pytest.fail("a model was built"))
    line = _one_line_error(argv, capsys, out, inputs, _snapshot(inputs))
    assert flag in line


@pytest.mark.slow
def test_a_fov_dream_is_a_partial_photosphere_that_every_command_takes(
    tmp_path: Path, tiny_inputs: dict[str, Path], capsys: pytest.CaptureFixture
) -> None:
    from vrdream.photosphere import read_photosphere

    picture = tmp_path / "picture.png"
    Image.open(tiny_inputs["still"]).crop((0, 0, 48, 32)).save(picture)  # 3:2, no Photo Sphere metadata
    dream = tmp_path / "dream.png"
    few = ["--steps", "1", "--octaves", "1", "-q"]
    assert main(["dream", str(picture), "--fov", "120,80", "-o", str(dream), *few]) == 0
    ps = read_photosphere(dream)
    assert ps.is_partial and ps.vrdream["RawFOV"] == "120,80"
    for argv in (
        ["view", str(dream), "--screenshot", str(tmp_path / "view.png"), "-q"],
        ["fade", str(picture), str(dream), "-o", str(tmp_path / "fade.mp4"), "--seconds", "0.1", "-q"],
        [
            "upscale",
            str(dream),
            "-o",
            str(tmp_path / "big.png"),
            "--upscale",
            "2",
            "--sr",
            "realesr-animevideov3",
            "-q",
        ],
        ["cubemap", str(dream), "-o", str(tmp_path / "faces" / "cube.png"), "-q"],
    ):
        assert main(argv) == 0, (argv, capsys.readouterr().err)
    assert read_photosphere(tmp_path / "big.png").crop == tuple(2 * v for v in ps.crop)  # type: ignore[union-attr]


def test_every_command_that_writes_ends_with_a_wrote_line(
    tmp_path: Path, tiny_inputs: dict[str, Path], capsys: pytest.CaptureFixture
) -> None:
    still = str(tiny_inputs["still"])
    faces = [str(tmp_path / "f" / f"cube_{f}.png") for f in "FRBLUD"]
    for argv in (
        ["cubemap", still, "-o", str(tmp_path / "f" / "cube.png")],
        ["equirect", *faces, "-o", str(tmp_path / "e.png")],
        ["view", still, "--screenshot", str(tmp_path / "v.png"), "--size", "64x48"],
        ["fade", still, still, "-o", str(tmp_path / "fade.mp4"), "--seconds", "0.1"],
    ):
        capsys.readouterr()
        assert main(argv) == 0
        assert capsys.readouterr().out.strip().splitlines()[-1].startswith("wrote "), argv


@pytest.mark.parametrize("codec", ["libx264", "libx265", "libvpx-vp9", "mpeg4"])
def test_the_codecs_help_offers_are_accepted(codec: str) -> None:
    """`--codec`'s help gives these as examples: each passes the up-front check (so works) into an MP4."""
    from vrdream.videoio import EncodeSettings, check_encoding

    help_text = next(a.help for a in _options(_subparsers()["video"]) if a.dest == "codec")
    assert codec in help_text
    check_encoding("clip.mp4", EncodeSettings(codec=codec))


def test_one_module_writes_the_provenance_record() -> None:
    """vrdream's XMP fields are written by vrdream/provenance.py alone (read elsewhere, never set)."""
    import re as regex

    from conftest import REPO

    setting = regex.compile(r"""["'](Raw|RawName|RawSHA256|RawFOV|Kind|Upscale|Backbone|Layer|Seed|Preset)["']\s*:""")
    writers = [
        p.relative_to(REPO).as_posix()
        for folder in ("vrdream", "viewer")
        for p in REPO.glob(f"{folder}/**/*.py")
        if setting.search(p.read_text(encoding="utf-8"))
    ]
    assert writers == ["vrdream/provenance.py"]
