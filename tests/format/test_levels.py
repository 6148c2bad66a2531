"""Reading a level (``zarr_vectors.format.levels``) while another writer appends.

A batched whole-level read (``levels._read_whole_level``) fetches a level a
batch of cells at a time and confirms the root once, after the last batch. An
append rewrites a cell's arrays one after the other (vertices, fragments, then
each attribute), so a reader may take a cell's positions from before the
append and its attributes from after it. That cell is not corrupt, it is torn
by a commit the snapshot does not include: the read must return the state it
opened (giving way to the usual read, which cuts changed cells back), never
raise :class:`~zarr_vectors.exceptions.CorruptStoreError`.

The interleaving is forced, not hoped for: :class:`AppendBetween` is a real
local backend whose reads run a whole append (``write_points(mode="a")``
through a backend of its own) after the reader has fetched the first cell's
vertices and before it fetches any attribute.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pytest

from zarr_vectors.exceptions import StaleSnapshotError
from zarr_vectors.format import cellread, levels
from zarr_vectors.lazy import open_zv
from zarr_vectors.storage.base import ObjectInfo
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.types.points import read_points, write_points

CHUNK = (100.0, 100.0, 100.0)
BOUNDS = ((0.0, 0.0, 0.0), (400.0, 400.0, 400.0))
VERTICES = "0/vertices/c/"
ATTRIBUTES = "0/vertex_attributes/"


def cloud(seed: int, n: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``n`` points over every cell of the bounds, each with a unique ``id``."""
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, 400, (n, 3)).astype(np.float32)
    return pos, {
        "id": np.arange(seed * 10**6, seed * 10**6 + n, dtype=np.int64),
        "half": (pos[:, 0] / 2).astype(np.float32),
    }


class AppendBetween(LocalBackend):
    """A local backend that runs ``commit`` once, between a read's vertices and attributes.

    The hook sits in the public read methods (``get_many``, ``head``,
    ``get_range``): the first time a key under ``0/vertex_attributes/`` is asked
    for after a key under ``0/vertices/c/`` was read, ``commit`` runs first. A
    ``get_many`` holding both is split there, so the vertices come from before
    the commit and the attributes from after it.
    """

    def __init__(self, root: str, commit: Callable[[], object]) -> None:
        super().__init__(root)
        self.commit: Callable[[], object] | None = commit
        self.vertices_read = False
        self.fired = False

    def _before(self, key: str) -> None:
        if key.startswith(VERTICES):
            self.vertices_read = True
        elif key.startswith(ATTRIBUTES) and self.vertices_read and self.commit is not None:
            commit, self.commit = self.commit, None
            commit()
            self.fired = True

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        part: list[str] = []
        for key in keys:
            if key.startswith(ATTRIBUTES) and self.commit is not None and self.vertices_read:
                found.update(super().get_many(part))
                part = []
            self._before(key)
            part.append(key)
        found.update(super().get_many(part))
        return found

    def head(self, key: str) -> ObjectInfo:
        self._before(key)
        return super().head(key)

    def get_range(self, key: str, start: int, length: int | None = None) -> bytes:
        self._before(key)
        return super().get_range(key, start, length)


@pytest.fixture
def one_cell_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every whole-level read goes batch by batch, one cell per batch."""
    monkeypatch.setattr(levels, "READ_BATCH_BYTES", 64)
    monkeypatch.setattr(levels, "READ_BATCH_MIN_CELLS", 1)


@pytest.mark.usefixtures("one_cell_batches")
@pytest.mark.parametrize("consolidate", [True, False], ids=["consolidated", "loose"])
@pytest.mark.parametrize("shard_shape", [None, (2, 2, 2)], ids=["cells", "shards"])
def test_a_batched_read_torn_by_an_append_returns_the_state_it_opened(
    tmp_path: Path, consolidate: bool, shard_shape: tuple[int, ...] | None
) -> None:
    url = str(tmp_path / "torn.zarr")
    pos, attrs = cloud(1, 4_000)
    write_points(
        url,
        pos,
        vertex_attributes=attrs,
        chunk_shape=CHUNK,
        bounds=BOUNDS,
        shard_shape=shard_shape,
        consolidate=consolidate,
    )
    more, more_attrs = cloud(2, 1_000)  # touches every cell, the first one read included

    def append() -> None:
        write_points(url, more, vertex_attributes=more_attrs, mode="a")

    backend = AppendBetween(url, append)
    got = read_points(backend)
    assert backend.fired, "the append did not run between the vertices and attributes"
    # The state the read opened: the first write's points, each with its own attributes.
    order = np.argsort(got.vertex_attributes["id"])
    np.testing.assert_array_equal(got.vertex_attributes["id"][order], attrs["id"])
    np.testing.assert_array_equal(got.positions[order], pos)
    np.testing.assert_array_equal(got.vertex_attributes["half"][order], attrs["half"])
    # The append did commit: a new read sees both.
    assert read_points(url).vertex_count == len(pos) + len(more)


@pytest.mark.usefixtures("one_cell_batches")
def test_a_handle_read_torn_by_an_append_returns_the_state_it_opened(tmp_path: Path) -> None:
    """The same through ``open_zv``: the handle's snapshot predates the append."""
    url = str(tmp_path / "handle.zarr")
    pos, attrs = cloud(1, 4_000)
    write_points(url, pos, vertex_attributes=attrs, chunk_shape=CHUNK, bounds=BOUNDS)
    more, more_attrs = cloud(2, 1_000)
    backend = AppendBetween(
        url, lambda: write_points(url, more, vertex_attributes=more_attrs, mode="a")
    )
    with open_zv(backend) as zv:
        got = zv.read_points()
        assert backend.fired
        np.testing.assert_array_equal(np.sort(got.vertex_attributes["id"]), attrs["id"])
        assert zv[0].vertex_count == len(pos)


class AppendAfterHead(LocalBackend):
    """A local backend that runs ``commit`` once, between a shard's ``head`` and its reads.

    A read of a few cells of a shard asks for the shard's size (``head``), then
    reads its index and the cells' byte ranges; an append that rewrites the
    shard in between leaves the reader with the old size and the new bytes.
    """

    def __init__(self, root: str, commit: Callable[[], object], times: int = 1) -> None:
        super().__init__(root)
        self.commit = commit
        self.times = times
        self.headed = False

    def head(self, key: str) -> ObjectInfo:
        info = super().head(key)
        self.headed = self.headed or key.startswith(VERTICES)
        return info

    def get_range(self, key: str, start: int, length: int | None = None) -> bytes:
        if self.headed and self.times:
            self.times -= 1
            self.headed = False  # the next time: after the next attempt's head
            self.commit()
        return super().get_range(key, start, length)


def test_a_ranged_shard_read_torn_by_an_append_returns_the_state_it_opened(
    tmp_path: Path,
) -> None:
    """Not the batched path: a box read fetching a few cells of a shard by byte ranges."""
    url = str(tmp_path / "ranged.zarr")
    pos, attrs = cloud(1, 4_000)
    write_points(
        url, pos, vertex_attributes=attrs, chunk_shape=CHUNK, bounds=BOUNDS, shard_shape=(4, 4, 4)
    )
    more, more_attrs = cloud(2, 1_000)
    backend = AppendAfterHead(
        url, lambda: write_points(url, more, vertex_attributes=more_attrs, mode="a")
    )
    box = ((0.0, 0.0, 0.0), (150.0, 150.0, 150.0))  # 8 of the shard's 64 cells
    got = read_points(backend, bbox=box)
    assert backend.times == 0, "the append did not run between head and the ranged reads"
    inside = np.all((pos >= box[0]) & (pos <= box[1]), axis=1)
    np.testing.assert_array_equal(np.sort(got.vertex_attributes["id"]), attrs["id"][inside])
    order = np.argsort(got.vertex_attributes["id"])
    np.testing.assert_array_equal(got.positions[order], pos[inside])


def test_a_read_torn_by_appends_every_time_says_to_read_again(tmp_path: Path) -> None:
    """Appends tearing every attempt: a stale snapshot to read again, not a corrupt store.

    A handle raises it (and reads its own state once the appends stop);
    ``read_points`` takes a new snapshot on it and returns that state.
    """
    url = str(tmp_path / "busy.zarr")
    pos, attrs = cloud(1, 4_000)
    write_points(
        url, pos, vertex_attributes=attrs, chunk_shape=CHUNK, bounds=BOUNDS, shard_shape=(4, 4, 4)
    )
    seeds = iter(range(2, 2 + 2 * cellread.READ_ATTEMPTS))
    appended: list[np.ndarray] = []

    def append() -> None:
        more, more_attrs = cloud(next(seeds), 1_000)
        write_points(url, more, vertex_attributes=more_attrs, mode="a")
        appended.append(more_attrs["id"][np.all(more <= 150.0, axis=1)])

    box = ((0.0, 0.0, 0.0), (150.0, 150.0, 150.0))
    inside = attrs["id"][np.all(pos <= 150.0, axis=1)]
    backend = AppendAfterHead(url, append, times=cellread.READ_ATTEMPTS)
    with open_zv(backend) as zv:
        with pytest.raises(StaleSnapshotError, match="rewritten by appends while it was read"):
            zv.read_points(bbox=box)
        assert backend.times == 0
        # Nothing is wrong with the store: the handle reads the state it opened.
        np.testing.assert_array_equal(
            np.sort(zv.read_points(bbox=box).vertex_attributes["id"]), inside
        )
    backend = AppendAfterHead(url, append, times=cellread.READ_ATTEMPTS)
    got = read_points(backend, bbox=box)  # the last snapshot, taken after the appends
    assert backend.times == 0
    everything = np.concatenate([inside, *appended])
    np.testing.assert_array_equal(np.sort(got.vertex_attributes["id"]), np.sort(everything))


def test_a_fragment_index_naming_rows_past_its_cell_is_a_corrupt_cell(tmp_path: Path) -> None:
    """A 0.9.2-style level (fragments not known to tile) whose index points past the rows.

    Such an index used to reach numpy as an IndexError; it is the cell's
    corruption, named by key, on both read paths.
    """
    import json

    from zarr_vectors.exceptions import CorruptStoreError
    from zarr_vectors.format.cells import CellCodec
    from zarr_vectors.format.fragments import MAGIC

    url = tmp_path / "frag.zarr"
    pos, attrs = cloud(1, 4_000)
    write_points(
        str(url), pos, vertex_attributes=attrs, chunk_shape=CHUNK, bounds=BOUNDS, consolidate=False
    )
    level_doc = url / "0" / "zarr.json"
    doc = json.loads(level_doc.read_text())
    doc["attributes"]["zarr_vectors_level"].pop("fragments_tile", None)  # as 0.9.2 writes it
    level_doc.write_text(json.dumps(doc))
    frag = json.loads((url / "0" / "vertex_fragments" / "zarr.json").read_text())
    codec = CellCodec(tuple(frag["codecs"]))
    blob = b"".join(  # one explicit fragment: rows 0 and 10**6 of a cell of far fewer
        (
            struct.pack("<4sHHII", MAGIC, 1, 0, 1, 0),
            bytes(8),
            struct.pack("<II", 0, 2),
            struct.pack("<qq", 0, 10**6),
        )
    )
    (url / "0" / "vertex_fragments" / "c" / "0" / "0" / "0").write_bytes(codec.encode(blob))
    for batches in (False, True):
        with pytest.MonkeyPatch.context() as mp:
            if batches:
                mp.setattr(levels, "READ_BATCH_BYTES", 64)
                mp.setattr(levels, "READ_BATCH_MIN_CELLS", 1)
            with pytest.raises(CorruptStoreError, match=r"vertex_fragments/c/0/0/0.*outside"):
                read_points(str(url))
