"""The store's coordinate reference system (``zarr_vectors.format.crs``).

What ``crs=`` accepts and how it is stored, the one line shown for it, the
authority of a WKT's outermost node only, and reprojection through pyproj.
"""

from __future__ import annotations

from typing import Any

import pytest

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format.crs import (
    describe_crs,
    normalize_crs,
    transformer,
    wkt_authority,
    wkt_name,
)

OREGON = (
    'PROJCS["NAD83 / Oregon GIC Lambert (ft)",GEOGCS["NAD83",DATUM["North_American_Datum_1983",'
    'SPHEROID["GRS 1980",6378137,298.257222101,AUTHORITY["EPSG","7019"]],'
    'AUTHORITY["EPSG","6269"]],AUTHORITY["EPSG","4269"]],UNIT["foot",0.3048],'
    'AUTHORITY["EPSG","2992"]]'
)
#: A compound system whose last authority is its vertical part's, not the whole's.
COMPOUND = (
    'COMPD_CS["NAD83 + NAVD88 height",PROJCS["NAD83",AUTHORITY["EPSG","26910"]],'
    'VERT_CS["NAVD88 height",AUTHORITY["EPSG","5703"]]]'
)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (None, None),
        (2992, {"epsg": 2992}),
        ("EPSG:2992", {"epsg": 2992}),
        (" epsg : 4326 ", {"epsg": 4326}),
        ({"proj": "x"}, {"proj": "x"}),
    ],
)
def test_crs_arguments_are_stored_as_a_dict(given: Any, stored: Any) -> None:
    assert normalize_crs(given) == stored


def test_wkt_keeps_its_text_with_its_code_and_name() -> None:
    assert normalize_crs(OREGON) == {
        "wkt": OREGON,
        "epsg": 2992,
        "name": "NAD83 / Oregon GIC Lambert (ft)",
    }


def test_only_the_outermost_authority_is_the_code_of_the_whole() -> None:
    assert wkt_authority(OREGON) == ("EPSG", 2992)
    assert wkt_authority(COMPOUND) is None
    assert "epsg" not in (normalize_crs(COMPOUND) or {})
    assert wkt_name(COMPOUND) == "NAD83 + NAVD88 height"
    assert wkt_name("not wkt") is None


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({}, "crs= is an empty dict"),
        (True, "crs= must be an EPSG code"),
        ("WGS 84", "crs= must be an EPSG code \\(2992 or 'EPSG:2992'\\), a WKT string"),
        (3.5, "got 3.5"),
    ],
)
def test_anything_else_is_refused_saying_what_to_give(given: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        normalize_crs(given)


def test_a_crs_is_described_in_one_line() -> None:
    assert describe_crs(None) == "none"
    assert describe_crs({"epsg": 2992}) == "EPSG:2992"
    assert describe_crs(normalize_crs(OREGON)) == "EPSG:2992 (NAD83 / Oregon GIC Lambert (ft))"
    assert describe_crs({"wkt": COMPOUND}) == "NAD83 + NAVD88 height"
    assert describe_crs({"epsg": 26910, "vertical_epsg": 5703}) == (
        "EPSG:26910 + vertical EPSG:5703"
    )
    assert describe_crs({"geotiff_keys": [1]}) == "given as geotiff_keys"


def test_a_transformer_reprojects_and_describes_the_target() -> None:
    pytest.importorskip("pyproj")
    to_utm, described = transformer({"epsg": 4326}, "EPSG:32633")
    x, y = to_utm.transform(15.0, 0.0)  # the central meridian of UTM zone 33
    assert x == pytest.approx(500_000.0) and y == pytest.approx(0.0, abs=1e-6)
    assert described["epsg"] == 32633 and "WGS 84 / UTM zone 33N" in described["wkt"]


def test_reprojecting_needs_a_source_crs_pyproj_knows() -> None:
    pytest.importorskip("pyproj")
    with pytest.raises(ValidationError, match="the store has no coordinate reference system"):
        transformer(None, 4326)
    with pytest.raises(ValidationError, match="neither a WKT nor an EPSG code"):
        transformer({"name": "somewhere"}, 4326)
    with pytest.raises(ValidationError, match="target 'EPSG:0': not a coordinate reference"):
        transformer({"epsg": 4326}, "EPSG:0")
