"""The write journal and the root document that carries it (``zarr_vectors.format.journal``).

A journal entry round-trips through the root document, a malformed one is a corrupt
store, readers learn from it which rows and which prefix belong to the committed
state, and the root is written with consolidated metadata in zarr-python's order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zarr_vectors.exceptions import CorruptStoreError, StoreError
from zarr_vectors.format.journal import (
    ROOT_KEY,
    Pending,
    bump,
    gather_node_docs,
    is_private,
    log_key,
    node_key,
    put_root,
    root_document,
    sorted_consolidated,
)
from zarr_vectors.format.snapshot import load_snapshot
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.types.points import write_points

APPEND = Pending(mode="a", level="1", cells=("0.0.0", "1.0.0"), counts=(5, 0), vertex_count=9)
MOVING = Pending(mode="w", staged=".zv-staged-3", state="moving", cleared=True)


def test_keys() -> None:
    assert log_key(42) == ".zv-log/000000000042.json"
    assert node_key("") == ROOT_KEY and node_key("0/vertices") == "0/vertices/zarr.json"
    assert is_private(".zv-claims/x") and not is_private("0/zarr.json")


@pytest.mark.parametrize(
    "entry", [APPEND, MOVING, Pending(mode="w"), Pending(mode="w", staged="s", overlay=True)]
)
def test_entries_round_trip_through_json(entry: Pending) -> None:
    assert Pending.from_json(entry.to_json(), "x") == entry


@pytest.mark.parametrize(
    "entry",
    [
        {"mode": "r"},
        {"mode": "a", "cells": ["0.0.0"], "counts": []},
        {"mode": "a", "counts": ["many"], "cells": ["0.0.0"]},
        ["not", "a", "dict"],
    ],
)
def test_a_malformed_entry_is_a_corrupt_store(entry: Any) -> None:
    with pytest.raises(CorruptStoreError, match="the log record 7 is malformed"):
        Pending.from_json(entry, "the log record 7")


def test_readers_learn_the_committed_rows_and_where_to_read() -> None:
    assert APPEND.row_limits(1) == {"0.0.0": 5, "1.0.0": 0}
    assert APPEND.row_limits("0") == {} and MOVING.row_limits(0) == {}
    assert MOVING.data_prefix == ".zv-staged-3/"
    assert APPEND.data_prefix == ""
    assert Pending(mode="w", staged="s", state="writing").data_prefix == ""


def test_only_an_unfinished_first_write_is_unreadable() -> None:
    MOVING.check_readable("here")
    APPEND.check_readable("here")
    with pytest.raises(StoreError, match="here: a write that replaces this store did not finish"):
        Pending(mode="w").check_readable("here")


def test_consolidated_nodes_are_ordered_by_depth_then_name() -> None:
    docs = {"b/x": {}, "B": {}, "a": {"k": 1}, "a/y/z": {}}
    got = sorted_consolidated(docs)
    assert list(got["metadata"]) == ["a", "B", "b/x", "a/y/z"]
    assert got["kind"] == "inline" and got["metadata"]["a"] == {"k": 1}


def test_the_root_carries_the_journal_and_a_store_round_trips(tmp_path: Path) -> None:
    write_points(tmp_path / "s", np.zeros((3, 3)), chunk_shape=(1.0,) * 3, consolidate=False)
    with LocalBackend(tmp_path / "s") as backend:
        meta = load_snapshot(backend).meta
        doc = root_document(meta, pending=APPEND, extra_attributes={"mine": 1})
        assert Pending.from_root(doc) == APPEND and doc["attributes"]["mine"] == 1
        assert Pending.from_root(root_document(meta)) is None
        nodes = gather_node_docs(backend)
        assert "0" in nodes and "0/vertices" in nodes and "" not in nodes
        put_root(backend, bump(meta), consolidated=nodes)
        again = load_snapshot(backend)
        assert again.generation == meta.generation + 1
        assert again.consolidated is not None and set(again.consolidated) == set(nodes)


def test_root_attributes_that_are_not_an_object_are_corrupt() -> None:
    with pytest.raises(CorruptStoreError, match="the root's attributes are not a JSON object"):
        Pending.from_root({"attributes": [1]})
