"""What a LAS header says besides its points: its CRS, the ``las`` block kept, records put back."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from zarr_vectors.io.las_header import RECORDS_LIMIT, crs_of_header, las_block, restore_records

laspy = pytest.importorskip("laspy")

DATA = Path(__file__).resolve().parents[1] / "data" / "las"
WKT = 'PROJCS["NAD83 / Oregon GIC Lambert (ft)",GEOGCS["NAD83"],AUTHORITY["EPSG","2994"]]'


def header(version: str = "1.4", point_format: int = 6) -> object:
    return laspy.LasHeader(point_format=point_format, version=version)


def test_a_wkt_record_gives_the_wkt_its_code_and_name() -> None:
    h = header()
    h.vlrs.append(laspy.vlrs.known.WktCoordinateSystemVlr(WKT))
    assert crs_of_header(h) == {
        "wkt": WKT,
        "epsg": 2994,
        "name": "NAD83 / Oregon GIC Lambert (ft)",
        "source": "las",
    }


def test_geotiff_keys_give_the_code_and_are_kept_whole() -> None:
    with laspy.open(str(DATA / "autzen_geo_proj.las")) as reader:
        crs = crs_of_header(reader.header)
    assert crs is not None and crs["epsg"] == 2994 and crs["source"] == "las"
    assert all(len(key) == 4 for key in crs["geotiff_keys"])
    assert crs["name"]  # from the GeoAsciiParams record


def test_a_header_without_crs_records_has_none() -> None:
    assert crs_of_header(header()) is None


def test_the_las_block_keeps_scales_and_records_but_not_those_made_anew() -> None:
    h = header()
    h.scales = [0.5, 0.25, 0.125]
    h.vlrs.append(laspy.VLR(user_id="mine", record_id=7, description="d", record_data=b"abc"))
    h.vlrs.append(laspy.VLR(user_id="LASF_Spec", record_id=4, record_data=b"x" * 192))
    notes: list[str] = []
    block = las_block(h, notes)
    assert (block["version"], block["point_format"], block["scales"]) == (
        "1.4",
        6,
        [0.5, 0.25, 0.125],
    )
    assert block["vlrs"] == [
        {
            "user_id": "mine",
            "record_id": 7,
            "description": "d",
            "data": base64.b64encode(b"abc").decode(),
        }
    ]
    assert block["evlrs"] == [] and notes == []


def test_records_beyond_the_budget_are_left_out_with_a_note() -> None:
    h = header()
    h.vlrs.append(laspy.VLR(user_id="big", record_id=1, record_data=b"x" * (RECORDS_LIMIT + 1)))
    h.vlrs.append(laspy.VLR(user_id="small", record_id=2, record_data=b"y"))
    notes: list[str] = []
    block = las_block(h, notes)
    assert [r["user_id"] for r in block["vlrs"]] == ["small"]
    assert len(notes) == 1 and "the VLR big/1 (1,048,577 bytes) was not kept" in notes[0]


def test_kept_records_go_back_and_evlrs_need_las_1_4() -> None:
    source = header()
    source.vlrs.append(laspy.vlrs.known.WktCoordinateSystemVlr(WKT))
    block = las_block(source, [])
    block["system_identifier"] = "scanner 9"
    block["evlrs"] = [dict(block["vlrs"][0])]
    new = header("1.2", 3)
    notes = restore_records(laspy, new, block, None)
    assert notes == [
        "1 EVLR(s) of the source were not written: LAS 1.2 has no EVLRs (write a point "
        "format >= 6 to keep them)"
    ]
    assert [(str(v.user_id), int(v.record_id)) for v in new.vlrs] == [("LASF_Projection", 2112)]
    assert new.system_identifier == "scanner 9"
    wide = header()
    assert restore_records(laspy, wide, block, None) == []
    assert len(wide.evlrs) == 1 and wide.global_encoding.wkt


def test_a_crs_given_as_wkt_is_written_and_one_without_a_record_is_noted() -> None:
    h = header()
    assert restore_records(laspy, h, None, {"wkt": WKT}) == []
    assert crs_of_header(h)["epsg"] == 2994  # type: ignore[index]
    notes = restore_records(laspy, header("1.2", 3), None, {"epsg": 2994, "name": "x"})
    assert notes == [
        "the store's CRS has no WKT or GeoTIFF record to write (it was given as epsg, name); "
        "the LAS file carries none"
    ]
