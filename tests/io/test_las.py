"""LAS/LAZ surveys through a store and back, on real files from laspy's test data and
on files made here with laspy.

A survey must come back whole: every point field, the coordinate system (GeoTIFF
keys and WKT), the other VLRs and EVLRs, and the scale and offset that make its
coordinates exact. The files are under ``tests/data/las`` (laspy's BSD licence).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import laspy
import numpy as np
import pytest

from tests.helpers.cli import run
from zarr_vectors.exceptions import ValidationError
from zarr_vectors.io.las_header import crs_of_header
from zarr_vectors.io.points_files import iter_point_batches, open_point_file, read_point_file
from zarr_vectors.lazy import open_zv
from zarr_vectors.types.points import read_points, write_points

DATA = Path(__file__).resolve().parents[1] / "data" / "las"
#: Records the writer makes anew (compression, extra-bytes descriptions, COPC's index).
REMADE = {("laszip encoded", 22204), ("LASF_Spec", 4), ("copc", 1), ("copc", 1000)}
FILES = ["autzen_trim.laz", "autzen_geo_proj.las", "1_4_w_evlr.laz", "simple.copc.laz"]


def records(vlrs: object) -> list[tuple[str, int, bytes]]:
    out = []
    for v in vlrs or []:  # type: ignore[attr-defined]
        if (v.user_id, v.record_id) in REMADE:
            continue
        try:
            data = bytes(v.record_data_bytes())
        except NotImplementedError:
            data = bytes(v.record_data)
        out.append((v.user_id, v.record_id, data))
    return out


def in_order(las: laspy.LasData) -> np.ndarray:
    """An order of the points independent of how a store grouped them."""
    return np.lexsort((las.Z, las.Y, las.X, las.gps_time))


def through_store(tmp_path: Path, name: str, suffix: str = ".laz", *extra: str) -> Path:
    store, out = tmp_path / "s.zv", tmp_path / f"out{suffix}"
    code, text = run("write-points", DATA / name, store, "-c", "500", *extra)
    assert code == 0, text
    code, text = run("read-points", store, "-o", out)
    assert code == 0, text
    return out


@pytest.mark.parametrize("name", FILES)
def test_a_survey_comes_back_whole_and_bit_exact(tmp_path: Path, name: str) -> None:
    out = through_store(tmp_path, name)
    src, got = laspy.read(DATA / name), laspy.read(out)
    assert (str(got.header.version), got.point_format.id) == (
        str(src.header.version),
        src.point_format.id,
    )
    # the integers LAS stores, not just the scaled floats: bit-exact coordinates
    assert np.array_equal(got.header.scales, src.header.scales)
    assert np.array_equal(got.header.offsets, src.header.offsets)
    a, b = in_order(src), in_order(got)
    for dim in src.point_format.dimension_names:
        assert np.array_equal(np.asarray(src[dim])[a], np.asarray(got[dim])[b]), dim
    assert records(got.header.vlrs) == records(src.header.vlrs)
    assert records(got.header.evlrs) == records(src.header.evlrs)
    assert crs_of_header(got.header) == crs_of_header(src.header)


def test_unusual_scales_are_not_rounded(tmp_path: Path) -> None:
    """1.16e-6 scales used to come back rounded to a power of ten (errors up to 5e-7)."""
    out = through_store(tmp_path, "1_4_w_evlr.laz", ".las")
    src, got = laspy.read(DATA / "1_4_w_evlr.laz"), laspy.read(out)
    assert got.header.scales[0] == pytest.approx(1.16451354e-06, rel=0, abs=0)
    a, b = in_order(src), in_order(got)
    assert np.array_equal(np.asarray(src.x)[a], np.asarray(got.x)[b])


def test_the_crs_is_in_the_root_metadata_as_the_specification_says(tmp_path: Path) -> None:
    store = tmp_path / "s.zv"
    assert run("write-points", DATA / "autzen_geo_proj.las", store, "-c", "500")[0] == 0
    root = json.loads((store / "zarr.json").read_text())["attributes"]["zarr_vectors"]
    assert root["crs"]["epsg"] == 2994  # from the GeoTIFF ProjectedCSTypeGeoKey
    assert root["las"]["scales"] == [0.01, 0.01, 0.01]
    code, text = run("info", store)
    assert code == 0 and "EPSG:2994" in text
    with open_zv(store) as zv:
        assert zv.crs is not None and zv.crs["epsg"] == 2994
        assert "EPSG:2994" in zv._repr_html_()
    cloud = read_points(store)
    assert cloud.crs == root["crs"] and "EPSG:2994" in cloud._repr_html_()
    assert cloud.metadata["las"]["point_format"] == 1


def test_wkt_gives_the_code_of_the_whole_system_not_its_last_part(tmp_path: Path) -> None:
    reader = open_point_file(DATA / "simple.copc.laz")
    assert reader.crs is not None
    assert "epsg" not in reader.crs  # 6360 is the vertical part's code; the compound has none
    assert reader.crs["wkt"].startswith("COMPD_CS[")
    assert reader.description.startswith("COPC 1.4")


def test_copc_input_is_streamed_in_batches() -> None:
    batches = list(iter_point_batches(DATA / "simple.copc.laz", batch_points=300))
    assert [len(p) for p, _ in batches] == [300, 300, 300, 165]
    whole = laspy.read(DATA / "simple.copc.laz")
    got = np.concatenate([p for p, _ in batches])
    assert np.array_equal(got, np.column_stack([whole.x, whole.y, whole.z]))


def test_reprojection_on_the_way_out(tmp_path: Path) -> None:
    pytest.importorskip("pyproj")
    store, out = tmp_path / "s.zv", tmp_path / "lonlat.laz"
    assert run("write-points", DATA / "autzen_geo_proj.las", store, "-c", "500")[0] == 0
    code, text = run("read-points", store, "-o", out, "--crs", "EPSG:4326")
    assert code == 0, text
    got = laspy.read(out)
    assert -124 < got.x.min() < got.x.max() < -122  # Oregon, in degrees
    assert 43 < got.y.min() < got.y.max() < 45
    crs = crs_of_header(got.header)
    assert crs is not None and crs["epsg"] == 4326
    assert all(v.record_id != 34735 for v in got.header.vlrs)  # the old GeoTIFF keys dropped


def test_reprojection_of_a_store_without_a_crs_says_why(tmp_path: Path) -> None:
    store = tmp_path / "s.zv"
    write_points(store, np.random.default_rng(1).uniform(0, 10, (50, 3)), chunk_shape=(5, 5, 5))
    code, text = run("read-points", store, "-o", tmp_path / "o.laz", "--crs", "EPSG:4326")
    assert code != 0 and "no coordinate reference system" in text


def test_a_crs_cannot_go_to_csv_and_a_note_says_so(tmp_path: Path) -> None:
    store = tmp_path / "s.zv"
    assert run("write-points", DATA / "autzen_geo_proj.las", store, "-c", "500")[0] == 0
    code, text = run("read-points", store, "-o", tmp_path / "o.csv")
    assert code == 0 and "EPSG:2994" in text and "no place" in text


def test_waveform_formats_export_with_a_note(tmp_path: Path) -> None:
    store, out = tmp_path / "s.zv", tmp_path / "o.laz"
    assert run("write-points", DATA / "fullwave.laz", store, "-c", "500")[0] == 0
    code, text = run("read-points", store, "-o", out)
    assert code == 0, text
    assert "waveform samples" in text
    assert laspy.read(out).point_format.id == 10


def test_point_format_4_is_written_as_las_1_3(tmp_path: Path) -> None:
    """Format 4 with version 1.2 crashed inside laspy; 4 and 5 need LAS 1.3."""
    rng = np.random.default_rng(3)
    header = laspy.LasHeader(point_format=4, version="1.3")
    src = laspy.LasData(header)
    src.x, src.y, src.z = (rng.uniform(0, 100, 200) for _ in range(3))
    src.wavepacket_size = np.full(200, 64)
    src.write(tmp_path / "w.las")
    store, out = tmp_path / "s.zv", tmp_path / "o.las"
    assert run("write-points", tmp_path / "w.las", store, "-c", "50")[0] == 0
    code, text = run("read-points", store, "-o", out)
    assert code == 0, text
    got = laspy.read(out)
    assert (str(got.header.version), got.point_format.id) == ("1.3", 4)


def test_a_box_that_misses_the_data_shows_the_store_bounds(tmp_path: Path) -> None:
    store = tmp_path / "s.zv"
    assert run("write-points", DATA / "autzen_geo_proj.las", store, "-c", "500")[0] == 0
    code, text = run("read-points", store, "-o", tmp_path / "o.npy", "--bbox", "0,0,0,10,10,10")
    assert code == 0
    assert "misses the data" in text and "635616" in text  # the survey's easting, in feet


def test_crs_and_metadata_arguments_are_checked_before_writing(tmp_path: Path) -> None:
    pts = np.zeros((3, 3))
    with pytest.raises(ValidationError, match="crs="):
        write_points(tmp_path / "a.zv", pts, chunk_shape=(1, 1, 1), crs=3.5)
    with pytest.raises(ValidationError, match="cannot set"):
        write_points(tmp_path / "b.zv", pts, chunk_shape=(1, 1, 1), metadata={"bounds": 1})
    assert not (tmp_path / "a.zv").exists() and not (tmp_path / "b.zv").exists()
    write_points(tmp_path / "c.zv", pts, chunk_shape=(1, 1, 1), crs="EPSG:32633")
    assert read_points(tmp_path / "c.zv").crs == {"epsg": 32633}


def test_positions_as_a_dask_array(tmp_path: Path) -> None:
    pytest.importorskip("dask")
    store = tmp_path / "s.zv"
    assert run("write-points", DATA / "1_4_w_evlr.laz", store, "-c", "500")[0] == 0
    lazy = read_points(store, as_dask="array")
    assert lazy.ndim == 2 and lazy.shape[1] == 3
    got = lazy.compute()
    want = read_points(store).positions
    assert np.array_equal(got[np.lexsort(got.T)], want[np.lexsort(want.T)])
    with pytest.raises(ValidationError, match="as_dask"):
        read_points(store, as_dask="frame")  # type: ignore[call-overload]


def test_a_survey_store_is_compressed_and_sharded_by_default(tmp_path: Path) -> None:
    store = tmp_path / "s.zv"
    code, text = run("write-points", DATA / "autzen_trim.laz", store, "-c", "100")
    assert code == 0, text
    doc = json.loads((store / "0" / "vertices" / "zarr.json").read_text())
    names = [c["name"] for c in doc["codecs"]]
    assert names[0] == "sharding_indexed"  # 12 x 6 cells: above the 64 of the default
    inner = doc["codecs"][0]["configuration"]["codecs"]
    assert inner[1]["name"] == "blosc" and inner[1]["configuration"]["typesize"] == 12
    small = tmp_path / "small.zv"
    assert run("write-points", DATA / "autzen_trim.laz", small, "-c", "2000")[0] == 0
    doc = json.loads((small / "0" / "vertices" / "zarr.json").read_text())
    assert [c["name"] for c in doc["codecs"]][:2] == ["vlen-bytes", "blosc"]
    gps = json.loads((small / "0" / "vertex_attributes" / "gps_time" / "zarr.json").read_text())
    assert gps["codecs"][1]["configuration"]["typesize"] == 8  # shuffled by its own width


def test_a_survey_keeps_its_integers_with_their_scale_and_offset(tmp_path: Path) -> None:
    store = tmp_path / "s.zv"
    assert run("write-points", DATA / "1_4_w_evlr.laz", store, "-c", "500")[0] == 0
    attrs = json.loads((store / "0" / "vertices" / "zarr.json").read_text())["attributes"]
    src = laspy.read(DATA / "1_4_w_evlr.laz")
    assert attrs["dtype"] == "int32"
    assert attrs["scale"] == list(src.header.scales)
    assert attrs["offset"] == list(src.header.offsets)
    got = read_points(store).positions
    assert got.dtype == np.float64
    want = np.column_stack([src.x, src.y, src.z])
    assert np.array_equal(got[np.lexsort(got.T)], want[np.lexsort(want.T)])
    floats = tmp_path / "f.zv"
    assert (
        run("write-points", DATA / "1_4_w_evlr.laz", floats, "-c", "500", "--dtype", "float64")[0]
        == 0
    )
    attrs = json.loads((floats / "0" / "vertices" / "zarr.json").read_text())["attributes"]
    assert attrs["dtype"] == "float64" and "scale" not in attrs


def test_scale_offset_is_checked_before_anything_is_written(tmp_path: Path) -> None:
    pts = np.array([[0.0, 0.0, 0.0], [1.005, 2.0, 3.0]])
    with pytest.raises(ValidationError, match="not an integer times scale"):
        write_points(
            tmp_path / "a.zv", pts, chunk_shape=(1, 1, 1), scale_offset=([0.01] * 3, [0] * 3)
        )
    with pytest.raises(ValidationError, match="3 scales"):
        write_points(
            tmp_path / "a.zv", pts, chunk_shape=(1, 1, 1), scale_offset=([0.01] * 2, [0] * 2)
        )
    with pytest.raises(ValidationError, match="32-bit"):
        write_points(
            tmp_path / "a.zv", pts * 1e6, chunk_shape=(1e6,) * 3, scale_offset=([1e-9] * 3, [0] * 3)
        )
    assert not (tmp_path / "a.zv").exists()
    ok = np.array([[0.0, 0.0, 0.0], [1.25, 2.5, 3.75]])
    box = ((0, 0, 0), (5, 5, 5))
    write_points(
        tmp_path / "b.zv", ok, chunk_shape=(1, 1, 1), bounds=box, scale_offset=([0.25] * 3, [0] * 3)
    )
    write_points(tmp_path / "b.zv", ok + 0.25, mode="a")  # an append keeps the store's scaling
    got = read_points(tmp_path / "b.zv").positions
    assert sorted(map(tuple, got)) == sorted(map(tuple, np.concatenate([ok, ok + 0.25])))
    with pytest.raises(ValidationError, match="not an integer times scale"):
        write_points(tmp_path / "b.zv", ok + 0.1, mode="a")
    assert len(read_points(tmp_path / "b.zv")) == 4


def test_appending_a_survey_in_another_crs_is_refused_before_writing(tmp_path: Path) -> None:
    store = tmp_path / "s.zv"
    assert run("write-points", DATA / "autzen_geo_proj.las", store, "-c", "500")[0] == 0
    before = read_points(store)
    code, text = run("write-points", DATA / "1_4_w_evlr.laz", store, "--mode", "a")
    assert code != 0 and "EPSG:2903" in text and "EPSG:2994" in text
    assert len(read_points(store)) == len(before)
    code, text = run("write-points", DATA / "autzen_geo_proj.las", store, "--mode", "a")
    assert code == 0, text  # the same system appends
    assert len(read_points(store)) == 2 * len(before)


def test_a_survey_gets_an_overview_by_default_and_preview_draws_it_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zarr_vectors.cli import points_cmd
    from zarr_vectors.cli.preview_cmd import select_points

    # 1_4_w_evlr's 1,000 points stand for a survey ten times the default's size
    monkeypatch.setattr(points_cmd, "OVERVIEW_POINTS", 100)
    store = tmp_path / "s.zv"
    code, text = run("write-points", DATA / "1_4_w_evlr.laz", store, "-c", "500")
    assert code == 0 and "2 level(s)" in text, text
    zv = open_zv(store)
    counts = [zv.level(k).vertex_count for k in zv.levels]
    assert counts[0] == 1_000
    assert 25 <= counts[1] <= 400  # about OVERVIEW_POINTS
    bins = json.loads((store / "zarr.json").read_text())["attributes"]["zarr_vectors"]
    assert all(500 / b == int(500 / b) for b in bins["base_bin_shape"])
    level1 = read_points(store, level=1).positions
    lo, hi = np.array(bins["bounds"][0]), np.array(bins["bounds"][1])
    assert np.all((level1 >= lo) & (level1 <= hi))
    sel = select_points(zv, max_points=500)
    assert sel.level == 1 and sel.cells_read is None  # a whole level, not a sample of cells
    by_intensity = select_points(zv, max_points=500, attribute="intensity")
    assert by_intensity.level == 1 and by_intensity.values is not None  # the overview's own
    # The overview carries the fields a viewer colours by, each a value of a point of its
    # bin, and not the others (GPS time would double its bytes).
    coarse, fine = read_points(store, level=1), read_points(store)
    assert {"intensity", "classification"} <= set(coarse.vertex_attributes)
    assert set(coarse.vertex_attributes) <= set(points_cmd.OVERVIEW_FIELDS)
    assert "gps_time" in fine.vertex_attributes
    for name, values in coarse.vertex_attributes.items():
        assert set(values.tolist()) <= set(fine.vertex_attributes[name].tolist())
    flat = tmp_path / "flat.zv"
    code, text = run("write-points", DATA / "1_4_w_evlr.laz", flat, "-c", "500", "--levels", "1")
    assert code == 0 and "1 level(s)" in text, text


def test_bin_shape_must_divide_the_chunk_shape(tmp_path: Path) -> None:
    pts = np.random.default_rng(1).uniform(0, 100, (2000, 3))
    with pytest.raises(ValidationError, match="divide chunk_shape"):
        write_points(
            tmp_path / "a.zv", pts, chunk_shape=(50, 50, 50), levels=2, bin_shape=(7, 7, 7)
        )
    assert not (tmp_path / "a.zv").exists()
    write_points(tmp_path / "a.zv", pts, chunk_shape=(50, 50, 50), levels=2, bin_shape=(5, 5, 5))
    coarse = read_points(tmp_path / "a.zv", level=1)
    plain = tmp_path / "b.zv"
    write_points(plain, pts, chunk_shape=(50, 50, 50), levels=2)
    assert len(coarse) > 10 * len(read_points(plain, level=1))  # bins of 10, not of 100


# -- files made here with laspy (scale 0.01, offset 1000, 2000, 0) ------------------
def by_position(positions: np.ndarray, *columns: np.ndarray) -> list[np.ndarray]:
    """Rows sorted by position (stores return points grouped by cell)."""
    order = np.lexsort(positions.T[::-1])
    return [positions[order], *(c[order] for c in columns)]


def make_las(path: Path, n: int = 2000, point_format: int = 3) -> laspy.LasData:
    """A LAS/LAZ file with scale 0.01, offset (1000, 2000, 0) and several standard fields."""
    rng = np.random.default_rng(5)
    header = laspy.LasHeader(point_format=point_format, version="1.2")
    header.scales = np.array([0.01, 0.01, 0.01])
    header.offsets = np.array([1000.0, 2000.0, 0.0])
    las = laspy.LasData(header)
    las.x = 1000 + np.round(rng.uniform(0, 500, n), 2)
    las.y = 2000 + np.round(rng.uniform(0, 500, n), 2)
    las.z = np.round(rng.uniform(0, 50, n), 2)
    las.intensity = rng.integers(0, 65535, n)
    las.classification = rng.integers(0, 19, n)
    las.return_number = rng.integers(1, 4, n)
    las.gps_time = rng.uniform(0, 1e5, n)
    las.red = rng.integers(0, 65535, n)
    las.write(str(path))
    return laspy.read(str(path))


@pytest.mark.parametrize("suffix", [".las", ".laz"])
def test_las_fields_become_attributes_and_coordinates_keep_their_scale(
    tmp_path: Path, suffix: str
) -> None:
    src = make_las(tmp_path / f"in{suffix}")
    code, out = run("write-points", tmp_path / f"in{suffix}", tmp_path / "s", "-c", "100")
    assert code == 0, out
    assert "scale (0.01, 0.01, 0.01), offset (1000, 2000, 0)" in out
    got = read_points(tmp_path / "s")
    assert got.positions.dtype == np.float64
    want = np.column_stack([src.x, src.y, src.z])
    pos, cls, inten = by_position(
        got.positions,
        got.vertex_attributes["classification"],
        got.vertex_attributes["intensity"],
    )
    wpos, wcls, winten = by_position(
        want, np.asarray(src.classification), np.asarray(src.intensity)
    )
    np.testing.assert_array_equal(pos, wpos)
    np.testing.assert_array_equal(cls, wcls)
    np.testing.assert_array_equal(inten, winten)
    assert got.vertex_attributes["intensity"].dtype == np.uint16
    assert {"gps_time", "red", "return_number", "point_source_id"} <= set(got.vertex_attributes)

    # ... and back out as LAS/LAZ: the same scale, the same integers, the same fields
    code, out = run("read-points", tmp_path / "s", "-o", tmp_path / f"out{suffix}")
    assert code == 0, out
    back = laspy.read(str(tmp_path / f"out{suffix}"))
    assert back.header.point_format.id == src.header.point_format.id
    np.testing.assert_array_equal(back.header.scales, src.header.scales)
    bpos, bcls, bgps = by_position(
        np.column_stack([back.x, back.y, back.z]),
        np.asarray(back.classification),
        np.asarray(back.gps_time),
    )
    spos, scls, sgps = by_position(want, np.asarray(src.classification), np.asarray(src.gps_time))
    np.testing.assert_array_equal(bpos, spos)
    np.testing.assert_array_equal(bcls, scls)
    np.testing.assert_array_equal(bgps, sgps)


def test_las_is_read_in_batches(tmp_path: Path) -> None:
    make_las(tmp_path / "in.laz", n=1050)
    reader = open_point_file(tmp_path / "in.laz")
    assert reader.count == 1050
    sizes = [len(p) for p, _ in reader.batches(400)]
    assert sizes == [400, 400, 250]
    whole = read_point_file(tmp_path / "in.laz")
    parts = list(iter_point_batches(tmp_path / "in.laz", batch_points=400))
    np.testing.assert_array_equal(np.concatenate([p for p, _ in parts]), whole.positions)


def test_truncated_las_is_refused_from_its_header(tmp_path: Path) -> None:
    make_las(tmp_path / "full.las", n=1000)
    data = (tmp_path / "full.las").read_bytes()
    (tmp_path / "cut.las").write_bytes(data[: len(data) // 2])
    code, out = run("write-points", tmp_path / "cut.las", tmp_path / "s", "-c", "100")
    assert code == 2, out
    assert "promises 1,000 points" in out and "truncated" in out
    assert "Traceback" not in out and not (tmp_path / "s").exists()


def _patched(data: bytes, at: int, value: bytes) -> bytes:
    return data[:at] + value + data[at + len(value) :]


def test_damaged_laz_headers_are_refused_before_the_decompressor_runs(tmp_path: Path) -> None:
    """lazrs sizes its buffers from these fields and aborts the process when it cannot
    allocate them, so each is checked against the file first (found by fuzzing)."""
    import struct

    make_las(tmp_path / "ok.laz", n=500)
    data = (tmp_path / "ok.laz").read_bytes()
    with laspy.open(str(tmp_path / "ok.laz")) as reader:
        start = reader.header.offset_to_point_data
    with (tmp_path / "ok.laz").open("rb") as fh:
        header = laspy.LasHeader.read_from(fh)
    vlr = bytes(header.vlrs.get("LasZipVlr")[0].record_data)
    vlr_at = data.find(vlr)
    (table_at,) = struct.unpack_from("<q", data, start)
    cases = {
        "chunk.laz": (_patched(data, vlr_at + 12, struct.pack("<I", 1_500_000_000)), "chunk of"),
        "table.laz": (_patched(data, table_at + 4, struct.pack("<I", 900_000_000)), "chunks for"),
        "where.laz": (_patched(data, start, struct.pack("<q", 10**12)), "chunk table is said"),
        "count.laz": (_patched(data, 107, struct.pack("<I", 4_000_000_000)), "points per byte"),
        "vlrs.laz": (_patched(data, 100, struct.pack("<I", 3_000_000)), "VLRs"),
    }
    for name, (content, needle) in cases.items():
        (tmp_path / name).write_bytes(content)
        start_time = time.perf_counter()
        code, out = run("write-points", tmp_path / name, tmp_path / "s", "-c", "100")
        assert time.perf_counter() - start_time < 10, name
        assert code == 2, (name, out)
        assert needle in out and "Traceback" not in out, (name, out)


def test_las_output_refuses_what_las_cannot_hold(tmp_path: Path) -> None:
    pos = np.random.default_rng(1).uniform(0, 10, (50, 3))
    cases = [
        ({"classification": np.full(50, 300)}, "'classification'"),
        ({"intensity": np.full(50, 0.5)}, "fractions"),
    ]
    from zarr_vectors.types.points import write_points

    for i, (attrs, needle) in enumerate(cases):
        write_points(tmp_path / f"s{i}", pos, chunk_shape=(5.0,) * 3, vertex_attributes=attrs)
        code, out = run("read-points", tmp_path / f"s{i}", "-o", tmp_path / f"o{i}.las")
        assert code == 2, out
        assert needle in out and "Traceback" not in out
    write_points(tmp_path / "flat", pos[:, :2], chunk_shape=(5.0, 5.0))
    code, out = run("read-points", tmp_path / "flat", "-o", tmp_path / "flat.las")
    assert code == 2 and "LAS holds 3-D points" in out


def test_las_output_of_random_floats_says_it_rounded(tmp_path: Path) -> None:
    pos = np.random.default_rng(2).uniform(0, 10, (50, 3))  # float64, every digit used
    from zarr_vectors.types.points import write_points

    write_points(tmp_path / "s", pos, chunk_shape=(5.0,) * 3)
    code, out = run("read-points", tmp_path / "s", "-o", tmp_path / "o.las")
    assert code == 0, out
    assert "Note: LAS stores coordinates as 32-bit integers" in out
    back = laspy.read(str(tmp_path / "o.las"))
    got = by_position(np.column_stack([back.x, back.y, back.z]))[0]
    np.testing.assert_allclose(got, by_position(pos)[0], atol=1e-6)
