"""A level's cells encoded for a write and its arrays' documents (``format.levelwrite``).

Every occupied cell gets one object per array holding exactly its rows in input
order; the documents list the nonempty cells (those from before an append too), the
origin, the attributes' shapes and checksum tables; sharding rewrites array documents only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zarr_vectors.format.cells import CellCodec, codec_chain
from zarr_vectors.format.cellsums import TABLE
from zarr_vectors.format.fragments import decode_fragment_rows
from zarr_vectors.format.grid import group_by_cell
from zarr_vectors.format.levelwrite import EncodedLevel, encode_level, level_array_docs, shard_docs

CS = (10.0, 10.0)
#: Five points in three cells, the cells' rows interleaved in the input.
PTS = np.array([[1, 1], [15, 1], [2, 2], [1, 15], [16, 3]], dtype=np.float32)
IDS = np.array([10, 11, 12, 13, 14], dtype=np.int64)
RGB = np.arange(15, dtype=np.uint8).reshape(5, 3)


def encoded(**kw: Any) -> EncodedLevel:
    groups = group_by_cell(PTS, CS)
    return encode_level(
        "0",
        PTS,
        groups,
        {"id": IDS, "rgb": RGB},
        origin=(0, 0),
        grid_shape=(2, 2),
        codecs=codec_chain(None),
        **kw,
    )


def test_each_cell_holds_its_rows_in_input_order() -> None:
    enc = encoded()
    objects = dict(enc.chunks)
    assert enc.nonempty == ["0.0", "0.1", "1.0"]
    assert sorted(objects) == sorted(
        f"0/{a}/c/{g}"
        for a in ("vertices", "vertex_fragments", "vertex_attributes/id", "vertex_attributes/rgb")
        for g in ("0/0", "0/1", "1/0")
    )
    codec = CellCodec(tuple(codec_chain(None)))
    cell = np.frombuffer(bytes(codec.decode(objects["0/vertices/c/1/0"])), np.float32)
    np.testing.assert_array_equal(cell.reshape(-1, 2), PTS[[1, 4]])
    ids = np.frombuffer(bytes(codec.decode(objects["0/vertex_attributes/id/c/1/0"])), np.int64)
    np.testing.assert_array_equal(ids, [11, 14])
    rgb = np.frombuffer(bytes(codec.decode(objects["0/vertex_attributes/rgb/c/0/0"])), np.uint8)
    np.testing.assert_array_equal(rgb.reshape(-1, 3), RGB[[0, 2]])
    assert decode_fragment_rows(bytes(codec.decode(objects["0/vertex_fragments/c/0/0"]))) == 2


def test_the_documents_list_the_cells_and_their_checksums() -> None:
    enc = encoded(nonempty_extra=["1.1"])  # a cell that holds data from before
    assert enc.nonempty == ["0.0", "0.1", "1.0", "1.1"]
    vdoc = enc.docs["0/vertices"]["attributes"]
    assert vdoc["nonempty_chunks"] == enc.nonempty and vdoc["dtype"] == "float32"
    rgb = enc.docs["0/vertex_attributes/rgb"]["attributes"]
    assert rgb["row_shape"] == [3] and rgb["channel_names"] == ["ch0", "ch1", "ch2"]
    assert set(enc.checksums["id"]) == {"0.0", "0.1", "1.0"}
    assert TABLE not in rgb  # the cell from before has no checksum known: no table
    known = {"id": {"1.1": 7}, "rgb": {"1.1": 8}}
    with_table = encoded(nonempty_extra=["1.1"], known_checksums=known)
    assert TABLE in with_table.docs["0/vertex_attributes/rgb"]["attributes"]
    assert with_table.checksums["id"]["1.1"] == 7
    assert with_table.docs["0/vertex_attributes"]["node_type"] == "group"


def test_an_origin_off_zero_is_recorded() -> None:
    docs = level_array_docs(
        "1",
        dtype="float64",
        attributes={},
        origin=(-2, 0),
        grid_shape=(4, 2),
        codecs=codec_chain(None),
        nonempty=["-2.0"],
    )
    assert set(docs) == {"1/vertices", "1/vertex_fragments"}  # no attributes: no group
    assert docs["1/vertices"]["attributes"]["chunk_grid_origin"] == [-2, 0]
    plain = level_array_docs(
        "0", dtype="f4", attributes={}, origin=(0, 0), grid_shape=(1, 1), codecs=[], nonempty=[]
    )
    assert "chunk_grid_origin" not in plain["0/vertices"]["attributes"]


def test_sharding_rewrites_the_array_documents_only() -> None:
    docs = encoded().docs
    assert shard_docs(docs, None) == docs
    sharded = shard_docs(docs, (2, 2))
    assert sharded["0/vertex_attributes"] == docs["0/vertex_attributes"]
    for path in ("0/vertices", "0/vertex_attributes/id"):
        assert sharded[path]["codecs"][0]["name"] == "sharding_indexed"
        assert sharded[path]["attributes"] == docs[path]["attributes"]
