"""What the object types share (``types/_objects.py``): results, layout checks, ids, boxes, appends.

The type modules (lines, polylines, graphs, meshes) are tested with their own files;
here are the shared steps, directly where they are pure and through
:func:`write_polylines` / :func:`read_polylines` where they need a store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format.objread import ObjectData
from zarr_vectors.types._objects import (
    ObjectResult,
    _ids,
    _objects_in_box,
    check_groups,
    check_layout,
    check_object_attributes,
    write_stream,
)
from zarr_vectors.types.polylines import read_polylines, write_polylines

CS = (10.0, 10.0, 10.0)
BOX = ((0.0, 0.0, 0.0), (10.0, 10.0, 10.0))


class _Two(ObjectResult):
    """Two vertices of two objects, with a vector attribute."""

    _keys = ("positions", "count")
    _title = "two"

    def __init__(self) -> None:
        self.positions = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]])
        self.count = 2

    def _vertex_table(self) -> tuple[Any, Any, dict[str, Any]]:
        return self.positions, np.array([7, 8]), {"n": np.ones((2, 2)), "<b>": np.zeros(2)}


def test_results_answer_the_keys_of_0_9_2_and_only_those() -> None:
    r = _Two()
    assert r["count"] == 2 and "positions" in r and "other" not in r
    assert r.keys() == ["positions", "count"]
    assert r.get("count") == 2 and r.get("other", "x") == "x"
    with pytest.raises(KeyError):
        r["other"]


def test_to_pandas_names_axes_and_spreads_vector_attributes() -> None:
    pytest.importorskip("pandas")
    frame = _Two().to_pandas()
    assert list(frame.columns) == ["object_id", "x", "y", "z", "n_0", "n_1", "<b>"]
    assert frame["object_id"].tolist() == [7, 8]
    assert list(_Two().to_pandas(axes=["a", "b", "c"]).columns)[1:4] == ["a", "b", "c"]
    with pytest.raises(ValidationError, match=r"axes names \['a'\] do not match the 3 axes"):
        _Two().to_pandas(axes=["a"])


def test_the_notebook_table_escapes_names_and_shows_the_extent() -> None:
    html = _Two()._repr_html_()
    assert "<caption>_Two</caption>" in html
    assert "[0.0, 1.0, 2.0] .. [3.0, 4.0, 5.0]" in html
    assert "attribute &lt;b&gt;" in html and "<b>" not in html


def test_layout_checks_mode_axes_and_makes_the_codec_chains() -> None:
    layout = check_layout("w-", 3, CS, None, None, True, None)
    assert layout.chunk_shape == CS and layout.shard_shape is None
    assert layout.index_codecs == [{"name": "crc32c", "configuration": {}}]
    assert check_layout("w", 3, CS, None, None, False, None).index_codecs == []
    assert check_layout("a", 3, None, None, None, True, None).chunk_shape is None
    assert check_layout("w", 3, CS, None, None, True, 2).shard_shape == (2, 2, 2)
    with pytest.raises(ValidationError, match="chunk_shape has 2 values but the vertices have 3"):
        check_layout("w", 3, (1.0, 1.0), None, None, True, None)
    with pytest.raises(ValidationError, match="mode"):
        check_layout("r", 3, CS, None, None, True, None)


def test_ids_are_one_dimensional_integers() -> None:
    assert _ids(5, "object_ids").tolist() == [5]
    assert _ids([], "object_ids").dtype == np.int64
    for bad in ([1.5], [[1, 2]], ["a"]):
        with pytest.raises(ValidationError, match="object_ids must be a list of integer ids"):
            _ids(bad, "object_ids")


def test_object_attributes_need_one_numeric_value_per_object() -> None:
    got = check_object_attributes({"w": np.array([1, 2], ">i4")}, 2)
    assert got["w"].dtype == np.dtype("<i4")  # stored little-endian
    with pytest.raises(ValidationError, match="object attribute 'w' has 3 values but there are"):
        check_object_attributes({"w": [1, 2, 3]}, 2)
    with pytest.raises(ValidationError, match="link attribute 'w' has a scalar but there are 2"):
        check_object_attributes({"w": 1}, 2, what="link")
    with pytest.raises(ValidationError, match="has dtype <U1; only numeric and bool are stored"):
        check_object_attributes({"w": ["a", "b"]}, 2)
    assert check_object_attributes(None, 2) == {}


def test_groups_are_numbered_from_zero_and_name_written_objects() -> None:
    ids = np.array([10, 11, 12])
    got = check_groups({1: [12], 0: [10, 11]}, ids)
    assert got is not None and [g.tolist() for g in got] == [[10, 11], [12]]
    gap = check_groups({2: [10]}, ids)
    assert gap is not None and [g.tolist() for g in gap] == [[], [], [10]]  # 0 and 1 empty
    assert check_groups(None, ids) is None
    for groups, needle in (
        ([1, 2], "groups must be a dict"),
        ({"a": [10]}, "group ids (the keys of groups) must be integers"),
        ({-1: [10]}, "group ids must be >= 0, got -1"),
        ({0: [10, 99]}, "group 0 names object ids [99] that are not written"),
    ):
        with pytest.raises(ValidationError) as caught:
            check_groups(groups, ids)
        assert needle in str(caught.value)


def test_a_box_keeps_whole_objects_with_a_vertex_inside_and_their_links() -> None:
    data = ObjectData(
        positions=np.array([[0.0, 0], [1, 1], [5, 5], [6, 6], [9, 9]]),
        object_ids=np.array([3, 4, 5]),
        offsets=np.array([0, 2, 4, 5]),
        attributes={"a": np.arange(5)},
        fragment_start=np.zeros(5, bool),
        links=np.array([[1, 0], [3, 2], [4, 3]]),  # the last one crosses objects 4 and 5
        link_attributes={"w": np.array([0.1, 0.2, 0.3])},
        object_attributes={"len": np.array([2, 2, 1])},
    )
    got = _objects_in_box(data, ((4.0, 4.0), (6.5, 6.5)))
    assert got.object_ids.tolist() == [4]
    np.testing.assert_array_equal(got.positions, [[5, 5], [6, 6]])  # whole, not clipped
    assert got.offsets.tolist() == [0, 2] and got.attributes["a"].tolist() == [2, 3]
    assert got.links.tolist() == [[1, 0]] and got.link_attributes["w"].tolist() == [0.2]
    assert got.object_attributes["len"].tolist() == [2]
    assert _objects_in_box(data, ((-1.0, -1.0), (10.0, 10.0))) is data  # every object: as is


def test_a_stream_of_batches_is_refused_before_any_store_is_touched(tmp_path: Path) -> None:
    layout = check_layout("w", 3, CS, None, None, True, None)
    for mode in ("a", "w"):  # an append to nothing creates: it needs bounds too
        with pytest.raises(ValidationError, match="needs bounds"):
            write_stream(
                tmp_path / "s", iter([]), mode=mode, layout=layout,
                geometry_type="streamline", links_convention="implicit_sequential",
            )  # fmt: skip
    assert not (tmp_path / "s").exists()


def _lines(k: int, start: float = 0.0) -> list[np.ndarray]:
    return [np.array([[start + i, 1.0, 1.0], [start + i, 2.0, 2.0]]) for i in range(k)]


def test_appends_need_new_ids_and_the_same_attributes(tmp_path: Path) -> None:
    store = tmp_path / "s"
    write_polylines(
        store, _lines(3), chunk_shape=CS, bounds=BOX, object_attributes={"w": [1, 2, 3]}
    )
    with pytest.raises(ValidationError, match="object id 1 is already in the store"):
        write_polylines(store, _lines(1), object_ids=[1], mode="a", object_attributes={"w": [4]})
    with pytest.raises(ValidationError, match=r"object attributes are \['w'\] but the appended"):
        write_polylines(store, _lines(1), object_ids=[7], mode="a")
    write_polylines(store, _lines(2, 5.0), object_ids=[9, 4], mode="a",
                    object_attributes={"w": [5, 6]})  # fmt: skip
    got = read_polylines(store)
    assert got.object_ids.tolist() == [0, 1, 2, 4, 9]  # rows by id
    assert got.object_attributes["w"].tolist() == [1, 2, 3, 6, 5]
    np.testing.assert_array_equal(got.polylines[3], _lines(2, 5.0)[1])


def test_appending_with_groups_is_refused_before_writing(tmp_path: Path) -> None:
    store = tmp_path / "s"
    write_polylines(store, _lines(2), chunk_shape=CS, groups={0: [0, 1]})
    with pytest.raises(ValidationError, match="appending to or with groups is not supported"):
        write_polylines(store, _lines(1), object_ids=[5], mode="a")
    assert read_polylines(store).object_ids.tolist() == [0, 1]
