"""The README runs: its flag table is the parsers', its command lines parse, its Python example runs as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from PIL import Image

from vrdream.cli import _value_options, build_parser, join_negative_values
from vrdream.cli._table import flag_table

README = (REPO / "README.md").read_text()
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", README, re.S)


def test_the_flag_table_is_the_parsers() -> None:
    table = README.split("<!-- flags -->\n", 1)[1].split("<!-- /flags -->", 1)[0]
    assert table == flag_table(), "run: python docs/make_flags.py"


def _command_lines() -> list[str]:
    """Every ``vrdream ...`` command the README shows, in code blocks or inline."""
    lines = [ln.split("#")[0].strip() for lang, body in BLOCKS if lang in ("sh", "") for ln in body.splitlines()]
    lines += re.findall(r"`(vrdream [^`]+)`", README)
    return sorted({ln for ln in lines if ln.startswith("vrdream ") and "…" not in ln and "..." not in ln})


@pytest.mark.parametrize("line", _command_lines())
def test_every_command_line_in_the_readme_parses(line: str) -> None:
    parser = build_parser()
    # Placeholders as a reader would fill them in.
    words = {"YAW,PITCH": "30,-10", "H,V": "120,90", "Y,P": "30,-10"}
    argv = [words.get(w, w) for w in shlex.split(line)[1:]]
    if argv[-1] in ("--help", "-h") or len(argv) == 1:  # a command named, not a command line
        sub = next(a for a in parser._actions if a.dest == "command")
        assert argv[0] in sub.choices  # type: ignore[attr-defined]
        return
    try:
        parser.parse_args(join_negative_values(argv, _value_options(parser)))
    except SystemExit as exc:
        pytest.fail(f"{line!r} does not parse (exit {exc.code})")


def test_the_readme_names_no_path_outside_the_repository() -> None:
    assert "../" not in README


@pytest.mark.slow
def test_the_python_example_runs_as_written(tmp_path: Path, sample_pano: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (code,) = [body for lang, body in BLOCKS if lang == "python"]
    small = Image.open(sample_pano).convert("RGB").resize((128, 64), Image.Resampling.LANCZOS)
    small.save(tmp_path / "pano.jpg", quality=95)
    monkeypatch.chdir(tmp_path)
    scope: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), scope)
    for name in ("dream.jpg", "big.jpg", "back.jpg", "fade.mp4", "faces/cube_F.png"):
        assert (tmp_path / name).is_file(), name
    assert Image.open(tmp_path / "big.jpg").size == (256, 128)
    dreamed = scope["dreamed"]
    assert tuple(dreamed.shape) == (1, 3, 64, 128)  # type: ignore[attr-defined]
    raw = np.asarray(small, dtype=np.float32) / 255
    assert np.abs(dreamed[0].permute(1, 2, 0).numpy() - raw).mean() > 0.01  # type: ignore[attr-defined]
