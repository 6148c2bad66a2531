"""Steps every write shares (``zarr_vectors.format.writesteps``).

The journal entry set in (and cleared from) a root without its lease, commit records
written, read back and pruned to the last ``LOG_KEEP``, cell objects put in batches
with the lease checked before each, and the small documents a write makes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from zarr_vectors.exceptions import CorruptStoreError
from zarr_vectors.format.journal import LOG_KEEP, LOG_PREFIX, Pending, log_key
from zarr_vectors.format.metadata import WRITER_KEY, LevelMetadata
from zarr_vectors.format.writesteps import (
    _cell_codecs,
    _generation_of,
    _level_doc,
    _prune_log,
    _with_pending,
    put_chunks,
    read_record,
    record_commit,
)
from zarr_vectors.storage.local import LocalBackend

APPEND = Pending(mode="a", cells=("0.0.0",), counts=(4,), vertex_count=4)


def test_the_journal_entry_is_set_and_cleared_and_the_lease_left_out() -> None:
    root = {"attributes": {WRITER_KEY: {"generation": 3, "lease": {"owner": "x"}}, "k": 1}}
    with_entry = _with_pending(root, APPEND)
    assert with_entry["attributes"][WRITER_KEY] == {"generation": 3, "pending": APPEND.to_json()}
    assert with_entry["attributes"]["k"] == 1
    assert "lease" in root["attributes"][WRITER_KEY]  # the document given is not changed
    cleared = _with_pending(with_entry, None)
    assert cleared["attributes"][WRITER_KEY] == {"generation": 3}
    assert _generation_of(with_entry) == 3
    assert _generation_of({}) == 0
    assert _generation_of({"attributes": {WRITER_KEY: {"generation": "x"}}}) == 0


def test_commit_records_round_trip_and_a_damaged_one_is_named(tmp_path: Path) -> None:
    with LocalBackend(tmp_path) as backend:
        record_commit(backend, 5, APPEND)
        assert read_record(backend, 5) == APPEND
        assert read_record(backend, 6) is None  # never written, or no longer kept
        backend.put_bytes(log_key(7), b"{not json")
        with pytest.raises(
            CorruptStoreError, match=r"commit record \.zv-log/000000000007\.json is not JSON"
        ):
            read_record(backend, 7)
        backend.put_bytes(log_key(8), b'{"mode": "x"}')
        with pytest.raises(CorruptStoreError, match=r"000000000008\.json is malformed"):
            read_record(backend, 8)


def test_the_log_keeps_the_last_records(tmp_path: Path) -> None:
    with LocalBackend(tmp_path) as backend:
        for generation in range(1, LOG_KEEP + 4):
            record_commit(backend, generation, APPEND)
        _prune_log(backend, LOG_KEEP)  # not more than are kept yet: nothing goes
        assert len(list(backend.list_prefix(LOG_PREFIX, recursive=True))) == LOG_KEEP + 3
        _prune_log(backend, LOG_KEEP + 3)
        kept = sorted(backend.list_prefix(LOG_PREFIX, recursive=True))
        assert kept == [log_key(g) for g in range(4, LOG_KEEP + 4)]


class Recorder:
    """A backend's ``put_many`` and a lease's ``check``, in the order they are called."""

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def put_many(self, items: list[tuple[str, bytes]]) -> None:
        self.calls.append(len(items))

    def check(self) -> None:
        self.calls.append("check")


def test_cells_are_put_in_batches_each_after_a_lease_check() -> None:
    rec = Recorder()
    seen: list[tuple[int, int]] = []
    chunks = [(f"0/vertices/c/{i}", b"") for i in range(5000)]
    put_chunks(rec, chunks, lambda done, total: seen.append((done, total)), rec)  # type: ignore[arg-type]
    assert rec.calls == ["check", 2048, "check", 2048, "check", 904]
    assert seen == [(0, 5000), (2048, 5000), (4096, 5000), (5000, 5000)]
    rec.calls.clear()
    put_chunks(rec, [], None, rec)  # type: ignore[arg-type]
    assert rec.calls == []


def test_a_level_document_says_what_the_level_holds() -> None:
    base = LevelMetadata.from_attributes(_level_doc(0, 10, attrs=True)["attributes"], "t")
    assert base.vertex_count == 10 and base.parent_level is None
    assert "vertex_attributes" in base.arrays_present
    coarse = LevelMetadata.from_attributes(_level_doc(2, 3, attrs=False)["attributes"], "t")
    assert coarse.parent_level == 1 and coarse.coarsening_method == "grid_centroid"
    assert coarse.arrays_present == ("vertices",)


def test_cell_codecs_come_from_inside_the_shards() -> None:
    default = [{"name": "vlen-bytes", "configuration": {}}]
    assert _cell_codecs({}, default) == (default, None)
    plain = {"codecs": [{"name": "vlen-bytes"}, {"name": "crc32c"}]}
    assert _cell_codecs(plain, default) == (plain["codecs"], None)
    inner = [{"name": "vlen-bytes", "configuration": {}}]
    sharded = {
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4, 4]}},
        "codecs": [
            {
                "name": "sharding_indexed",
                "configuration": {
                    "chunk_shape": [1, 1],
                    "codecs": inner,
                    "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
                    "index_location": "end",
                },
            }
        ],
    }
    assert _cell_codecs(sharded, default) == (inner, (4, 4))
