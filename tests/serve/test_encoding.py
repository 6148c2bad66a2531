"""Neuroglancer's annotation encoding (zarr_vectors.serve.encoding): properties, records, bytes.

The served chunks are checked against the ``neuroglancer`` package's own record
layout in test_index.py; here the choices this module makes: which attributes
become properties (and under which ids), their order, padding, and a decode
that refuses bytes that are not a whole encoding.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from zarr_vectors.serve.encoding import (
    annotation_dtype,
    decode_annotations,
    encode_annotations,
    encode_single,
    property_specs,
)

LAYOUT: dict[str, tuple[np.dtype[Any], tuple[int, ...]]] = {
    "label": (np.dtype(np.uint8), ()),
    "intensity": (np.dtype(np.float32), ()),
    "normal": (np.dtype(np.float32), (3,)),
    "gps_time": (np.dtype(np.int64), ()),
    "9 lives": (np.dtype(np.int16), ()),
    "wide": (np.dtype(np.uint8), (17,)),
}


def test_numeric_attributes_become_properties_widest_type_first() -> None:
    specs, skipped = property_specs(LAYOUT)
    assert [(s.id, s.type) for s in specs] == [
        ("intensity", "float32"),
        ("normal_0", "float32"),
        ("normal_1", "float32"),
        ("normal_2", "float32"),
        ("a_9_lives", "int16"),  # a valid id: [a-z][a-zA-Z0-9_]*
        ("label", "uint8"),
    ]
    assert [s.column for s in specs] == [None, 0, 1, 2, None, None]
    assert set(skipped) == {"gps_time", "wide"}
    assert "int64 has no Neuroglancer property type" in skipped["gps_time"]
    assert "17 values per point" in skipped["wide"]
    assert specs[1].info()["description"] == "vertex attribute normal[0]"
    # Names that clean up to the same id get distinct ids.
    twins, _ = property_specs({"a-b": (np.dtype("f4"), ()), "a_b": (np.dtype("f4"), ())})
    assert sorted(s.id for s in twins) == ["a_b", "a_b_1"]


def test_records_are_padded_to_four_bytes() -> None:
    specs, _ = property_specs({"label": (np.dtype(np.uint8), ())})
    dt = annotation_dtype(3, specs)
    assert dt.itemsize == 16 and dt.fields is not None and dt.fields["p0"][1] == 12
    assert annotation_dtype(2, []).itemsize == 8


def test_a_chunk_decodes_to_what_was_encoded() -> None:
    specs, _ = property_specs(LAYOUT)
    rng = np.random.default_rng(0)
    positions = rng.uniform(0, 100, (5, 3)).astype(np.float32)
    columns: dict[str, npt.NDArray[Any]] = {
        "intensity": rng.uniform(0, 1, 5).astype(np.float32),
        "normal": rng.normal(size=(5, 3)).astype(np.float32),
        "label": np.arange(5, dtype=np.uint8),
    }  # "9 lives" missing, as on a coarse level: NaN for floats, 0 for integers
    ids = np.arange(10, 15, dtype=np.uint64)
    data = encode_annotations(positions, columns, ids, specs)
    assert len(data) == 8 + 5 * (annotation_dtype(3, specs).itemsize + 8)
    got_positions, props, got_ids = decode_annotations(data, 3, specs)
    np.testing.assert_array_equal(got_positions, positions)
    np.testing.assert_array_equal(got_ids, ids)
    np.testing.assert_array_equal(props["normal_2"], columns["normal"][:, 2])
    np.testing.assert_array_equal(props["label"], columns["label"])
    np.testing.assert_array_equal(props["a_9_lives"], np.zeros(5, np.int16))
    one = encode_single(positions[1], {n: v[1:2] for n, v in columns.items()}, specs)
    assert (
        one
        == data[8:][annotation_dtype(3, specs).itemsize * 1 :][
            : annotation_dtype(3, specs).itemsize
        ]
    )


def test_bytes_that_are_not_a_whole_encoding_are_refused() -> None:
    specs, _ = property_specs({"label": (np.dtype(np.uint8), ())})
    data = encode_annotations(
        np.zeros((2, 3), np.float32), {}, np.arange(2, dtype=np.uint64), specs
    )
    with pytest.raises(ValueError, match="too short"):
        decode_annotations(data[:5], 3, specs)
    with pytest.raises(ValueError, match="do not hold 2 annotations"):
        decode_annotations(data[:-1], 3, specs)
