"""String modes: each a ``Literal`` type defined once, checked once where it enters, in one line naming the choices."""

from __future__ import annotations

from typing import get_args

import pytest
import torch

from vrdream import select
from vrdream.device import Precision, autocast_dtype
from vrdream.dream import DreamSettings
from vrdream.equirect import PAD, Interpolation
from vrdream.errors import VrdreamError, check_choice
from vrdream.octave import Normalize
from vrdream.upscale import upscale


def test_check_choice_accepts_the_literal_values_and_names_them_when_refusing():
    for value in get_args(Precision):
        check_choice("precision", value, Precision)
    with pytest.raises(VrdreamError) as err:
        check_choice("precision", "fp64", Precision)
    assert str(err.value) == "precision 'fp64': must be one of auto, fp32, bf16, fp16"
    with pytest.raises(VrdreamError, match="must be one of mean, laplacian"):
        check_choice("normalize", None, Normalize)  # not a string at all: refused the same way


@pytest.mark.parametrize(
    ("field", "value", "choices"),
    [("normalize", "median", "mean, laplacian"), ("precision", "fp64", "auto, fp32, bf16, fp16")],
)
def test_dream_settings_refuse_unknown_modes(field, value, choices):
    with pytest.raises(VrdreamError, match=f"^{field} '{value}': must be one of {choices}$"):
        DreamSettings(**{field: value})
    with pytest.raises(VrdreamError, match=field):
        DreamSettings().replace(**{field: value})  # replacing a field checks it again


def test_dream_settings_take_every_mode():
    for normalize in get_args(Normalize):
        for precision in get_args(Precision):
            s = DreamSettings(normalize=normalize, precision=precision)
            assert (s.normalize, s.precision) == (normalize, precision)


def test_precision_picks_the_dtype():
    cpu = torch.device("cpu")
    assert [autocast_dtype(cpu, p) for p in get_args(Precision)] == [None, None, torch.bfloat16, torch.float16]


def test_upscale_refuses_an_unknown_precision_before_loading_a_model():
    # "no-such-model" would fail to load: the precision is refused first, where it enters.
    with pytest.raises(VrdreamError, match="^precision 'fp64': must be one of"):
        upscale(torch.zeros(1, 3, 8, 8), 2, "no-such-model", sphere=False, precision="fp64")  # type: ignore[arg-type]


def test_region_modes():
    sky, ground = (select.region(16, 32, r) for r in get_args(select.Region))
    assert torch.allclose(sky + ground, torch.ones(1, 1, 16, 32))
    with pytest.raises(VrdreamError, match="^region 'sea': must be one of sky, ground$"):
        select.region(16, 32, "sea")  # type: ignore[arg-type]


def test_every_interpolation_has_its_padding():
    assert set(PAD) == set(get_args(Interpolation))


def test_both_resizes_take_height_and_width_by_name_only() -> None:
    """One size convention: the tensor and the array resize cannot be called with a (w, h) / (h, w) tuple."""
    import inspect

    import numpy as np
    import torch

    from vrdream import octave, photosphere

    for fn in (octave.resize, photosphere.resize):
        params = inspect.signature(fn).parameters
        assert params["height"].kind is params["width"].kind is inspect.Parameter.KEYWORD_ONLY, fn
    assert tuple(octave.resize(torch.rand(1, 3, 8, 16), height=4, width=6).shape) == (1, 3, 4, 6)
    assert photosphere.resize(np.random.rand(8, 16, 3).astype(np.float32), height=4, width=6).shape == (4, 6, 3)
