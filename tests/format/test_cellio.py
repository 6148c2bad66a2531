"""Cell bytes in and out of cell arrays, one object per cell or in shards (``format.cellio``).

Readers and writers speak of cells; here cells become objects (passed through, or
gathered into shards merged with what the shards hold) and come back out: a shard
wanted mostly whole is read whole, one wanted for a few cells by its index and ranges.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any, cast

import pytest

from zarr_vectors.exceptions import CorruptStoreError
from zarr_vectors.format.cellio import ArrayLayout, cells_to_objects, fetch_cell_bytes
from zarr_vectors.format.cells import CellCodec, codec_chain
from zarr_vectors.format.journal import Pending
from zarr_vectors.format.levelwrite import level_array_docs, shard_docs
from zarr_vectors.format.sharding import sharded_array_json
from zarr_vectors.format.snapshot import Snapshot
from zarr_vectors.storage.async_base import AsyncBackend
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.storage.protocol import ObjectInfo, missing_key

DOCS = level_array_docs(
    "0",
    dtype="float32",
    attributes={},
    origin=(0, 0),
    grid_shape=(8, 8),
    codecs=codec_chain(None),
    nonempty=[],
)
PLAIN = ArrayLayout("0/vertices", DOCS["0/vertices"])
SHARDED = ArrayLayout("0/vertices", shard_docs(DOCS, (4, 4))["0/vertices"])
CODEC = CellCodec(tuple(codec_chain(None)))


def cell(grid: tuple[int, int]) -> bytes:
    return CODEC.encode(f"cell {grid}".encode() * 20)


class Store:
    """The part of a snapshot cell I/O uses, in memory, recording each request."""

    max_concurrency = 1

    def __init__(self, objects: list[tuple[str, bytes]] | None = None) -> None:
        self.objects = dict(objects or [])
        self.backend = self
        self.url = "mem://t"
        self.requests: list[tuple[str, str]] = []

    def get_many(self, keys: list[str]) -> dict[str, bytes]:
        self.requests += [("get", k) for k in keys]
        return {k: self.objects[k] for k in keys if k in self.objects}

    def head(self, key: str) -> ObjectInfo:
        self.requests.append(("head", key))
        return ObjectInfo(key, len(self.objects[key]))

    def get_range(self, key: str, start: int, length: int | None) -> bytes:
        self.requests.append(("range", key))
        data = self.objects[key]
        return data[start : None if length is None else start + length]


def snap(store: Store) -> Any:
    return store


def test_cells_of_an_unsharded_array_are_objects_of_their_own() -> None:
    chunks = [(PLAIN.cell_key(g), cell(g)) for g in [(0, 0), (5, 7)]]
    puts, deletes = cells_to_objects(None, {"0/vertices": PLAIN}, chunks, prefix="st/")
    assert puts == [("st/" + k, v) for k, v in chunks] and deletes == []
    store = Store(chunks)
    got = fetch_cell_bytes(snap(store), {"0/vertices": (PLAIN, [(0, 0), (5, 7), (1, 1)])})
    assert got == {("0/vertices", (0, 0)): cell((0, 0)), ("0/vertices", (5, 7)): cell((5, 7))}
    assert len(store.requests) == 3  # one batch; the missing cell is left out


def test_an_array_not_named_in_the_layouts_passes_through() -> None:
    puts, _ = cells_to_objects(None, {}, [("0/vertex_fragments/c/0/0", b"x"), ("zarr.json", b"y")])
    assert puts == [("0/vertex_fragments/c/0/0", b"x"), ("zarr.json", b"y")]


def sharded_store() -> Store:
    grids = [(i, j) for i in range(4) for j in range(4)] + [(4, 0)]
    chunks = [(SHARDED.cell_key(g), cell(g)) for g in grids]
    puts, deletes = cells_to_objects(None, {"0/vertices": SHARDED}, chunks)
    assert sorted(k for k, _ in puts) == ["0/vertices/c/0/0", "0/vertices/c/1/0"]
    assert deletes == []
    return Store(puts)


def test_a_few_cells_of_a_shard_are_read_by_ranges() -> None:
    store = sharded_store()
    wanted = [(0, 1), (3, 3)]
    got = fetch_cell_bytes(snap(store), {"0/vertices": (SHARDED, wanted)})
    assert got == {("0/vertices", g): cell(g) for g in wanted}
    kinds = [kind for kind, _ in store.requests]
    assert kinds[0] == "head" and "get" not in kinds  # the index, then the cells' ranges


def test_a_shard_wanted_mostly_whole_is_read_whole() -> None:
    store = sharded_store()
    wanted = [(i, j) for i in range(4) for j in range(2)] + [(6, 6)]  # half of shard 0/0
    got = fetch_cell_bytes(snap(store), {"0/vertices": (SHARDED, wanted)})
    assert got == {("0/vertices", g): cell(g) for g in wanted if g != (6, 6)}
    assert ("get", "0/vertices/c/0/0") in store.requests
    assert not [r for r in store.requests if r[0] == "range"]


def test_cells_written_into_a_shard_keep_the_cells_it_holds() -> None:
    store = sharded_store()
    layouts = {"0/vertices": SHARDED}
    new = {(0, 0): cell((9, 9)), (1, 1): b""}  # one cell rewritten, one removed
    puts, deletes = cells_to_objects(
        snap(store), layouts, [(SHARDED.cell_key(g), v) for g, v in new.items()]
    )
    assert [k for k, _ in puts] == ["0/vertices/c/0/0"] and deletes == []
    store.objects.update(puts)
    everything = [(i, j) for i in range(4) for j in range(4)]
    got = fetch_cell_bytes(snap(store), {"0/vertices": (SHARDED, everything)})
    assert got[("0/vertices", (0, 0))] == cell((9, 9))
    assert ("0/vertices", (1, 1)) not in got
    assert got[("0/vertices", (2, 3))] == cell((2, 3))
    # the last cell of a shard removed: the shard is deleted
    puts, deletes = cells_to_objects(snap(store), layouts, [(SHARDED.cell_key((4, 0)), b"")])
    assert puts == [] and deletes == ["0/vertices/c/1/0"]


@pytest.mark.parametrize("layout", [PLAIN, SHARDED])
def test_the_layout_decodes_with_the_arrays_cell_codec(layout: ArrayLayout) -> None:
    assert layout.codec.decode(cell((1, 2))) == f"cell {(1, 2)}".encode() * 20
    assert layout.cell_key((1, 2)) == "0/vertices/c/1/2"


ATTR = ArrayLayout("0/vertex_attributes/a", shard_docs(DOCS, (4, 4))["0/vertices"])


class Rounds(Store):
    """A store whose every request waits until ``parties`` requests are in flight together.

    A read that sends its requests one after another never gets past the first
    (the barrier breaks after its timeout, long enough for any machine load);
    one that sends each round at once passes, and ``rounds()`` says what each
    round asked for.
    """

    def __init__(self, objects: list[tuple[str, bytes]], parties: int) -> None:
        super().__init__(objects)
        self.max_concurrency = 8
        self.parties = parties
        self.barrier = threading.Barrier(parties, timeout=60)

    def _wait(self, kind: str, key: str) -> None:
        self.requests.append((kind, key))
        self.barrier.wait()

    def get_many(self, keys: list[str]) -> dict[str, bytes]:
        for k in keys:
            self._wait("get", k)
        return {k: self.objects[k] for k in keys if k in self.objects}

    def head(self, key: str) -> ObjectInfo:
        self._wait("head", key)
        return ObjectInfo(key, len(self.objects[key]))

    def get_range(self, key: str, start: int, length: int | None) -> bytes:
        self._wait("range", key)
        data = self.objects[key]
        return data[start : None if length is None else start + length]

    def rounds(self) -> list[set[tuple[str, str]]]:
        n = self.parties
        return [set(self.requests[i : i + n]) for i in range(0, len(self.requests), n)]


class AsyncRounds(AsyncBackend):
    """:class:`Rounds` as a backend with coroutines of its own (as obstore's), read through a
    :class:`Snapshot`: its requests meet at an :class:`asyncio.Barrier` on the I/O loop."""

    def __init__(self, objects: list[tuple[str, bytes]], parties: int) -> None:
        super().__init__("mem://t")
        self.objects = dict(objects)
        self.parties = parties
        self.requests: list[tuple[str, str]] = []
        self.barrier: asyncio.Barrier | None = None

    async def _wait(self, kind: str, key: str) -> None:
        self.requests.append((kind, key))
        if self.barrier is None:
            self.barrier = asyncio.Barrier(self.parties)
        await asyncio.wait_for(self.barrier.wait(), 60)

    async def _aget(self, key: str) -> bytes:
        await self._wait("get", key)
        try:
            return self.objects[key]
        except KeyError:
            raise missing_key(key, self.url) from None

    async def _ahead(self, key: str) -> ObjectInfo:
        await self._wait("head", key)
        return ObjectInfo(key, len(self.objects[key]))

    async def _aget_range(self, key: str, start: int, length: int | None) -> bytes:
        await self._wait("range", key)
        data = self.objects[key]
        return data[start : None if length is None else start + length]

    async def _aput(self, key: str, data: bytes) -> None:
        raise NotImplementedError

    async def _aexists(self, key: str) -> bool:
        return key in self.objects

    async def _adelete(self, key: str) -> None:
        raise NotImplementedError

    async def _alist(self, prefix: str, recursive: bool) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    rounds = Rounds.rounds


@pytest.mark.parametrize("native", [False, True], ids=["threads", "coroutines"])
@pytest.mark.parametrize("wanted", [[(0, 1)], [(0, 1), (4, 2)]], ids=["1 shard", "2 shards"])
def test_every_array_and_shard_is_read_in_the_same_three_rounds(
    wanted: list[Any], native: bool
) -> None:
    """Sizes, then indexes, then cell bytes: each a round over both arrays and every shard."""
    layouts = {"0/vertices": SHARDED, ATTR.path: ATTR}
    grids = [(i, j) for i in range(8) for j in range(4)]
    chunks = [(lay.cell_key(g), cell(g)) for lay in layouts.values() for g in grids]
    puts, _ = cells_to_objects(None, layouts, chunks)
    store: Any
    reader: Any
    if native:
        store = AsyncRounds(puts, parties=2 * len(wanted))
        reader = Snapshot(store, {}, meta=cast(Any, None), consolidated=None)
    else:
        store = reader = Rounds(puts, parties=2 * len(wanted))
    got = fetch_cell_bytes(reader, {p: (lay, wanted) for p, lay in layouts.items()})
    assert got == {(p, g): cell(g) for p in layouts for g in wanted}
    spec = SHARDED.sharding
    assert spec is not None
    shards = {spec.shard_key(p, spec.locate(g)[0]) for p in layouts for g in wanted}
    assert store.rounds() == [
        {("head", k) for k in shards},
        {("range", k) for k in shards},  # the indexes
        {("range", k) for k in shards},  # the cells' bytes
    ]


class ThreadsOnly(LocalBackend):
    """A thread-based backend that overrides a coroutine primitive without saying it is native."""

    async def _aget_range(self, key: str, start: int, length: int | None) -> bytes:
        raise AssertionError("a round awaited the coroutines of a backend not native_async")


def test_a_backend_not_native_async_is_read_through_its_blocking_calls(tmp_path: Path) -> None:
    """A round awaits the coroutines only where ``native_async`` says so, not on overrides."""
    layouts = {"0/vertices": SHARDED, ATTR.path: ATTR}
    chunks = [(lay.cell_key(g), cell(g)) for lay in layouts.values() for g in [(0, 1), (1, 1)]]
    puts, _ = cells_to_objects(None, layouts, chunks)
    with ThreadsOnly(str(tmp_path)) as backend:
        backend.put_many(puts)
        reader = Snapshot(backend, {}, meta=cast(Any, None), consolidated=None)
        got = fetch_cell_bytes(reader, {p: (lay, [(0, 1)]) for p, lay in layouts.items()})
    assert got == {(p, (0, 1)): cell((0, 1)) for p in layouts}


def test_an_index_at_the_start_is_read_without_a_head() -> None:
    doc = sharded_array_json(DOCS["0/vertices"], (4, 4), index_location="start")
    layout = ArrayLayout("0/vertices", doc)
    chunks = [(layout.cell_key(g), cell(g)) for g in [(0, 1), (2, 2)]]
    puts, _ = cells_to_objects(None, {layout.path: layout}, chunks)
    store = Store(puts)
    got = fetch_cell_bytes(snap(store), {layout.path: (layout, [(0, 1), (1, 3)])})
    assert got == {(layout.path, (0, 1)): cell((0, 1))}
    assert store.requests == [("range", "0/vertices/c/0/0")] * 2  # the index, the cell
    store.objects["0/vertices/c/0/0"] = store.objects["0/vertices/c/0/0"][:300]  # truncated
    with pytest.raises(CorruptStoreError, match="mem://t: 0/vertices/c/0/0"):
        fetch_cell_bytes(snap(store), {layout.path: (layout, [(0, 1)])})


def test_a_shard_shorter_than_its_index_is_named() -> None:
    store = sharded_store()
    store.objects["0/vertices/c/0/0"] = b"short"
    with pytest.raises(CorruptStoreError, match="mem://t: 0/vertices/c/0/0: shard of 5 bytes"):
        fetch_cell_bytes(snap(store), {"0/vertices": (SHARDED, [(0, 1)])})


def test_coroutine_reads_find_a_moving_replace_staged_first() -> None:
    """While a committed replace is moved into place, each shard is read where it is now."""
    layouts = {"0/vertices": SHARDED, ATTR.path: ATTR}
    grids = [(i, j) for i in range(4) for j in range(4)]
    chunks = [(lay.cell_key(g), cell(g)) for lay in layouts.values() for g in grids]
    staged = ".zv-staged/w1"
    puts, _ = cells_to_objects(None, layouts, chunks)
    moved = [(k if k.startswith(ATTR.path) else f"{staged}/{k}", v) for k, v in puts]
    store = AsyncRounds([*moved, ("0/vertices/c/0/0", b"the old store's shard")], parties=1)
    reader = Snapshot(store, {}, meta=cast(Any, None), consolidated=None)
    reader.__dict__["pending"] = Pending(mode="w", staged=staged, state="moving")
    for wanted in ([(0, 1)], grids):  # by ranges (head, index, cells), then whole shards
        got = fetch_cell_bytes(reader, {p: (lay, wanted) for p, lay in layouts.items()})
        assert got == {(p, g): cell(g) for p in layouts for g in wanted}
