"""GPano / vrdream XMP parsing and building (vrdream.gpano)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vrdream.errors import InputError
from vrdream.gpano import (
    GPANO_NS,
    MAX_XMP_BYTES,
    RDF_NS,
    VRDREAM_NS,
    GPano,
    build_xmp,
    parse_xmp,
)

SRC = Path("pano.jpg")

FULL = GPano(
    full_width=8000,
    full_height=4000,
    cropped_width=3000,
    cropped_height=1500,
    cropped_left=1234,
    cropped_top=1001,
    pose_heading=12.5,
    pose_pitch=-1.25,
    pose_roll=0.5,
    initial_heading=90.0,
    initial_pitch=10.0,
    initial_roll=0.0,
    initial_hfov=75.0,
)


def _xmp(inner: str, attrs: str = "") -> bytes:
    return (
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF_NS}">'
        f'<rdf:Description rdf:about="" xmlns:GPano="{GPANO_NS}" xmlns:vrdream="{VRDREAM_NS}" {attrs}>'
        f"{inner}</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()


def test_round_trip_all_fields_and_vrdream() -> None:
    ours = {"Raw": '../raw/pano <1> & "2".jpg', "Kind": "dream", "Seed": "7", "Backbone": "googlenet"}
    gp, back = parse_xmp(build_xmp(FULL, ours), SRC)
    assert gp == FULL
    assert back == ours


def test_attribute_form() -> None:
    gp, ours = parse_xmp(
        _xmp(
            "",
            'GPano:ProjectionType="equirectangular" GPano:UsePanoramaViewer="False" '
            'GPano:FullPanoWidthPixels="4000.0" GPano:FullPanoHeightPixels="2000" '
            'GPano:PoseHeadingDegrees="-45.5" vrdream:Kind="upscale"',
        ),
        SRC,
    )
    assert gp == GPano(use_panorama_viewer=False, full_width=4000, full_height=2000, pose_heading=-45.5)
    assert ours == {"Kind": "upscale"}


def test_child_element_form_and_several_descriptions() -> None:
    # Adobe's writers put fields as child elements, sometimes spread over several rdf:Description.
    data = (
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF_NS}">'
        f'<rdf:Description rdf:about="" xmlns:GPano="{GPANO_NS}">'
        "<GPano:ProjectionType>equirectangular</GPano:ProjectionType>"
        "<GPano:CroppedAreaLeftPixels> 10 </GPano:CroppedAreaLeftPixels>"
        "<GPano:CroppedAreaTopPixels>20</GPano:CroppedAreaTopPixels>"
        "</rdf:Description>"
        f'<rdf:Description rdf:about="" xmlns:GPano="{GPANO_NS}" xmlns:vrdream="{VRDREAM_NS}">'
        "<GPano:InitialHorizontalFOVDegrees>80</GPano:InitialHorizontalFOVDegrees>"
        "<vrdream:Raw>raw.jpg</vrdream:Raw>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()
    gp, ours = parse_xmp(data, SRC)
    assert gp == GPano(cropped_left=10, cropped_top=20, initial_hfov=80.0)
    assert ours == {"Raw": "raw.jpg"}


def test_no_gpano_and_padding() -> None:
    gp, ours = parse_xmp(_xmp("") + b" " * 100 + b"\x00\x00", SRC)
    assert gp is None and ours == {}


def test_flat_build_has_no_gpano() -> None:
    data = build_xmp(None, {"Kind": "dream"})
    assert b"GPano:" not in data
    assert parse_xmp(data, SRC) == (None, {"Kind": "dream"})


def test_bad_field_name_is_a_bug() -> None:
    with pytest.raises(ValueError):
        build_xmp(FULL, {"not a name": "x"})


@pytest.mark.parametrize(
    "attrs, problem",
    [
        ('GPano:FullPanoWidthPixels="wide"', "not a number"),
        ('GPano:CroppedAreaLeftPixels="10.5"', "whole number"),
        ('GPano:CroppedAreaLeftPixels="-3"', "whole number"),
        ('GPano:PoseHeadingDegrees="nan"', "finite"),
        ('GPano:UsePanoramaViewer="yes"', "True or False"),
    ],
)
def test_bad_values_name_the_file(attrs: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem) as err:
        parse_xmp(_xmp("", attrs), SRC)
    assert err.value.path == SRC and "\n" not in str(err.value)


def test_entity_expansion_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>' + _xmp(
        "<GPano:ProjectionType>&lol2;</GPano:ProjectionType>"
    )
    with pytest.raises(InputError, match="refused for safety"):
        parse_xmp(bomb, SRC)


def test_oversized_and_malformed_refused() -> None:
    with pytest.raises(InputError, match="over the"):
        parse_xmp(_xmp("", 'vrdream:Big="' + "x" * MAX_XMP_BYTES + '"'), SRC)
    with pytest.raises(InputError, match="not well-formed"):
        parse_xmp(b"<x:xmpmeta><rdf:RDF>", SRC)


@pytest.mark.parametrize("factor", [0.25, 0.5, 1 / 3, 1.0, 2.0, 4.0, 3.7])
def test_scaled_crop_tiles_the_scaled_canvas(factor: float) -> None:
    s = FULL.scaled(factor)
    assert (s.full_width, s.full_height) == (round(8000 * factor), round(4000 * factor))
    # Edges round independently, so the crop is exactly the slice an image of the scaled canvas would take.
    assert s.cropped_left == round(1234 * factor)
    assert s.cropped_left + s.cropped_width == round((1234 + 3000) * factor)
    assert s.cropped_top + s.cropped_height == round((1001 + 1500) * factor)
    assert s.cropped_left + s.cropped_width <= s.full_width
    assert (s.pose_heading, s.initial_hfov) == (FULL.pose_heading, FULL.initial_hfov)  # angles do not scale


def test_scaled_keeps_missing_fields_missing() -> None:
    assert GPano().scaled(2.0) == GPano()
    assert not GPano().has_placement and FULL.has_placement
