"""float → uint8: one rule (clip, ×255, round half to even), the same bytes from numpy and torch, and no second copy."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from vrdream.quantize import ROWS_PER_BLOCK, to_uint8, to_uint8_tensor

REPO = Path(__file__).resolve().parent.parent
#: A multiplication by 255 (``* 255``, ``* 255.0``, ``* np.float32(255)``): the start of a float → uint8 conversion.
TIMES_255 = re.compile(r"\*\s*(?:np\.float32\(\s*)?255(?:\.0*)?\b")


def _exact_halves() -> np.ndarray:
    """float32 values x with x·255 exactly k + 0.5 in float32 (the ties the rounding rule decides), k = 0..254."""
    found = []
    for k in range(255):
        x = np.float32((k + 0.5) / 255)
        # The nearest float32 may miss the tie by an ulp: try its neighbours too.
        for c in (x, np.nextafter(x, np.float32(0)), np.nextafter(x, np.float32(1))):
            if np.float32(c) * np.float32(255) == np.float32(k + 0.5):
                found.append(c)
                break
    return np.array(found, np.float32)


def _values(seed: int = 0) -> np.ndarray:
    """Random values in and out of [0, 1], every exact tie, the ends, and infinities: a (rows, 7) float32 array."""
    rng = np.random.default_rng(seed)
    special = np.array([0, 1, -0.0, -1e-9, 1 + 1e-7, -3, 7, np.inf, -np.inf], np.float32)
    v = np.concatenate([rng.uniform(-0.5, 1.5, 4000).astype(np.float32), _exact_halves(), special])
    v = np.concatenate([v, np.zeros((-len(v)) % 7, np.float32)])
    return v.reshape(-1, 7)


def test_there_are_exact_ties_to_test():
    halves = _exact_halves()
    assert len(halves) > 100  # otherwise the agreement test below would not exercise the rounding of ties
    assert np.all(np.float32(255) * halves % 1 == 0.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_and_torch_agree_bit_for_bit(dtype):
    v = _values().astype(dtype)
    a = to_uint8(v)
    b = to_uint8_tensor(torch.from_numpy(v)).numpy()
    assert a.dtype == np.uint8 and b.dtype == np.uint8 and a.shape == v.shape
    np.testing.assert_array_equal(a, b)


def test_the_rule_clips_and_rounds_half_to_even():
    x = np.array([-1, -np.inf, 0, 1, 2, np.inf], np.float32)
    np.testing.assert_array_equal(to_uint8(x[None]), [[0, 0, 0, 255, 255, 255]])
    halves = _exact_halves()
    k = np.floor(halves * np.float32(255)).astype(np.int64)  # each value is k + 0.5
    expected = np.where(k % 2 == 0, k, k + 1)  # ties go to the even neighbour
    np.testing.assert_array_equal(to_uint8(halves[None])[0], expected)
    np.testing.assert_array_equal(to_uint8_tensor(torch.from_numpy(halves)).numpy(), expected)


def test_row_blocks_and_out_give_the_whole_image_result():
    rng = np.random.default_rng(1)
    img = rng.uniform(-0.1, 1.1, (2 * ROWS_PER_BLOCK + 7, 5, 3)).astype(np.float32)
    whole = np.rint(np.clip(img * np.float32(255), 0, 255)).astype(np.uint8)  # one pass, no blocks
    np.testing.assert_array_equal(to_uint8(img), whole)
    rgba = np.zeros((*img.shape[:2], 4), np.uint8)
    assert to_uint8(img, out=rgba[..., :3]).base is rgba  # writes into a strided view, as photosphere's writer does
    np.testing.assert_array_equal(rgba[..., :3], whole)
    assert not rgba[..., 3].any()
    u8 = whole.copy()
    assert to_uint8(u8) is u8  # already uint8: passed through


def test_quantize_is_the_only_float_to_uint8_conversion():
    """A grep: no module but vrdream/quantize.py multiplies by 255 next to a uint8 cast (a second rounding rule)."""
    offenders = []
    for path in sorted(
        p for folder in ("vrdream", "viewer", "docs", "bench", "samples") for p in REPO.glob(f"{folder}/**/*.py")
    ):
        rel = path.relative_to(REPO).as_posix()
        if rel == "vrdream/quantize.py":
            continue
        text = path.read_text(encoding="utf-8")
        for m in TIMES_255.finditer(text):
            if "uint8" in text[max(0, m.start() - 300) : m.end() + 300]:
                offenders.append(f"{rel}:{text.count(chr(10), 0, m.start()) + 1}")
    assert not offenders, f"quantise with vrdream.quantize.to_uint8 / to_uint8_tensor instead: {offenders}"


def test_the_grep_finds_a_second_copy():
    """The pattern catches the rounding rules this code base has had (so the grep test can fail)."""
    for line in (
        "(x.clamp(0, 1) * 255).round().to(torch.uint8)",
        "np.clip(np.rint(frame * 255.0), 0, 255).astype(np.uint8)",
        "(np.clip(p, 0, 1) * 255 + 0.5).astype(np.uint8)",
        "block = rgb[r0:r1] * np.float32(255)",
    ):
        assert TIMES_255.search(line), line
