"""Cell bytes in and out of a level's arrays, whether each cell is an object or shards hold them.

An unsharded cell array stores each cell as one object (``<array>/c/i/j/k``);
a sharded one (Zarr v3 ``sharding_indexed``, as the published 0.9.2 writes with
``shard_shape=``) stores blocks of cells as one object with an index. Readers
and writers above this module speak of cells only:

* :func:`fetch_cell_bytes` returns each wanted cell's encoded bytes (a cell
  object, or the inner chunk cut out of its shard). For shards it reads the
  index (a ``head`` for the size, then one ranged read) and then only the byte
  ranges of the wanted cells, neighbouring ranges coalesced; a shard that is
  wanted mostly whole is read whole instead. Each step is one concurrent round
  over every array and shard of the read, so a read's latency is three round
  trips however many arrays (vertices, attributes, fragments) it touches.
* :func:`shard_objects` turns encoded cell objects into shard objects, merging
  the cells already stored in the shards it touches (appends).

Decoding is the array's cell codec either way (the inner codecs of a shard are
exactly an unsharded array's codecs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from zarr_vectors.exceptions import CorruptStoreError
from zarr_vectors.format.cells import CellCodec
from zarr_vectors.format.sharding import (
    ByteRange,
    ShardIndex,
    ShardingSpec,
    decode_index,
    parse_sharding,
    plan_ranges,
    slice_ranges,
)
from zarr_vectors.format.snapshot import Snapshot
from zarr_vectors.storage.concurrency import amap_bounded

__all__ = ["ArrayLayout", "cells_to_objects", "fetch_cell_bytes", "shard_objects"]

#: Read a whole shard when at least this share of its cells is wanted.
WHOLE_SHARD_SHARE = 0.5

Grid = tuple[int, ...]


class ArrayLayout:
    """How one cell array stores its cells (from its ``zarr.json``)."""

    def __init__(self, path: str, doc: Mapping[str, Any]) -> None:
        self.path = path
        self.sharding: ShardingSpec | None = parse_sharding(doc)
        codecs = self.sharding.codecs if self.sharding is not None else doc["codecs"]
        self.codec = CellCodec(tuple(dict(c) for c in codecs))

    def cell_key(self, grid: Sequence[int]) -> str:
        return f"{self.path}/c/" + "/".join(str(int(g)) for g in grid)


def fetch_cell_bytes(
    snap: Snapshot, wanted: Mapping[str, tuple[ArrayLayout, Sequence[Grid]]]
) -> dict[tuple[str, Grid], bytes]:
    """Encoded bytes of the wanted cells, by ``(array path, grid cell)``; missing ones left out.

    Every array and every shard is fetched at once, in at most three rounds of
    concurrent requests (:func:`_round`): the cells of unsharded arrays, the
    shards wanted mostly whole, and the size of each other shard (a ``head``,
    only when its index is at its end); then every such shard's index; then
    every byte range those indexes point to. A read of one cell in two arrays
    costs three round trips, not six one after the other.
    """
    plain: dict[str, tuple[str, Grid]] = {}
    shards: list[_ShardRead] = []
    for path, (layout, cells) in wanted.items():
        if layout.sharding is None:
            plain.update({layout.cell_key(g): (path, g) for g in cells})
        elif cells:
            shards.extend(_shard_reads(layout, cells, snap.backend.url))
    first = [read.first_request() for read in shards]
    if plain:
        first.append(("get_many", (list(plain),)))
    answers = _round(snap, first, missing_ok=True)
    out: dict[tuple[str, Grid], bytes] = {}
    if plain:
        out.update({plain[k]: v for k, v in answers.pop().items()})
    for read, answer in zip(shards, answers, strict=True):
        read.took_first(answer)
    sized = [read for read in shards if read.size is not None]
    for read, raw in zip(sized, _round(snap, [r.index_request() for r in sized]), strict=True):
        read.took_index(raw)
    ranged = [read for read in shards if read.blobs is None and read.index is not None]
    jobs: list[_Request] = [
        ("get_range", (read.key, r.start, r.length)) for read in ranged for r in read.ranges
    ]
    parts = _round(snap, jobs)
    done = 0
    for read in ranged:  # the parts come back in the order of ``jobs``: read by read
        read.blobs = slice_ranges(read.ranges, parts[done : done + len(read.ranges)], read.where)
        done += len(read.ranges)
    for read in shards:
        out.update(read.cells())
    return out


#: One request of a round: a :class:`Snapshot` read method and its arguments.
_Request = tuple[Literal["get_many", "head", "get_range"], tuple[Any, ...]]


def _round(snap: Snapshot, requests: list[_Request], *, missing_ok: bool = False) -> list[Any]:
    """The answers to ``requests``, all sent at once: one round trip, in their order.

    A round is one batch on the I/O loop (:func:`~zarr_vectors.storage.runner.run_sync`)
    with at most the backend's ``max_concurrency`` requests in flight: the
    backend's own coroutines where it has them (``native_async``: obstore,
    fsspec, icechunk), else its blocking calls on the loop's long-lived worker
    threads (no thread is started per read). A single request is the blocking
    call itself, in this thread: there is nothing to overlap. With ``missing_ok``
    a missing key answers ``None`` (a shard not stored) instead of raising.
    """

    def answer(request: _Request) -> Any:
        name, args = request
        try:
            return getattr(snap, name)(*args)
        except KeyError:
            if missing_ok:
                return None
            raise

    if len(requests) <= 1:
        return [answer(r) for r in requests]
    import asyncio

    from zarr_vectors.storage.runner import run_sync

    native = bool(getattr(snap.backend, "native_async", False))

    async def ask(request: _Request) -> Any:
        if not native:
            return await asyncio.to_thread(answer, request)
        name, args = request
        try:
            return await getattr(snap, "a" + name)(*args)
        except KeyError:
            if missing_ok:
                return None
            raise

    limit = int(getattr(snap.backend, "max_concurrency", 8))
    return run_sync(amap_bounded(ask, requests, limit))


def _shard_reads(layout: ArrayLayout, cells: Sequence[Grid], url: str) -> list[_ShardRead]:
    """The shards of ``layout`` holding ``cells``, each with the cells wanted from it."""
    spec = layout.sharding
    assert spec is not None
    by_shard: dict[Grid, list[tuple[int, Grid]]] = {}
    for grid in cells:
        shard, inner = spec.locate(grid)
        by_shard.setdefault(shard, []).append((inner, grid))
    return [_ShardRead(layout, shard, found, url) for shard, found in by_shard.items()]


class _ShardRead:
    """One shard of one array being read, and what its rounds have learnt of it.

    The first round reads the whole object (most of its cells wanted), its size
    (a ``head``: the index is at its end) or its index (at its start, which
    needs no size); the second the index at the end; then the cells' byte
    ranges. A shard that is not stored yields no cells.
    """

    def __init__(
        self, layout: ArrayLayout, shard: Grid, wanted: list[tuple[int, Grid]], url: str
    ) -> None:
        assert layout.sharding is not None
        self.layout, self.spec, self.wanted = layout, layout.sharding, wanted
        self.key = self.spec.shard_key(layout.path, shard)
        self.where = f"{url}: {self.key}"
        self.whole = len(wanted) >= WHOLE_SHARD_SHARE * self.spec.n_inner
        #: The object's size, while its index (at the end) is still to be read.
        self.size: int | None = None
        self.index: ShardIndex | None = None
        self.ranges: list[ByteRange] = []
        #: Inner chunk bytes by inner index; ``None`` until fetched.
        self.blobs: dict[int, memoryview] | None = None

    def first_request(self) -> _Request:
        if self.whole:
            return ("get_many", ([self.key],))
        if self.spec.index_location == "end":
            return ("head", (self.key,))
        # An index at the start needs no size: a shard shorter than its index or
        # its ranges comes back short, which decoding and slicing refuse.
        return ("get_range", (self.key, 0, self.spec.index_nbytes))

    def took_first(self, answer: Any) -> None:
        spec = self.spec
        if answer is None:
            return
        if self.whole:
            data = answer.get(self.key)
            if data is None:
                return
            start, length = spec.index_range(len(data))
            raw = data[start : start + length]
            index = decode_index(spec, raw, shard_size=len(data), where=self.where)
            view = memoryview(data)
            self.blobs = {
                i: view[s[0] : s[0] + s[1]] for i, _ in self.wanted if (s := index.span(i))
            }
            self.index = index
        elif spec.index_location == "end":
            self.size = int(answer.size)
        else:
            self._planned(decode_index(spec, answer, where=self.where))

    def index_request(self) -> _Request:
        assert self.size is not None
        try:
            start, length = self.spec.index_range(self.size)
        except CorruptStoreError as exc:
            raise CorruptStoreError(f"{self.where}: {exc}") from None
        return ("get_range", (self.key, start, length))

    def took_index(self, raw: bytes) -> None:
        assert self.size is not None
        self._planned(decode_index(self.spec, raw, shard_size=self.size, where=self.where))
        self.size = None

    def _planned(self, index: ShardIndex) -> None:
        self.index = index
        self.ranges = plan_ranges(index, [i for i, _ in self.wanted])

    def cells(self) -> dict[tuple[str, Grid], bytes]:
        blobs = self.blobs or {}
        return {(self.layout.path, g): bytes(blobs[i]) for i, g in self.wanted if i in blobs}


def shard_objects(
    snap: Snapshot | None,
    layout: ArrayLayout,
    cells: Iterable[tuple[Grid, bytes]],
    *,
    prefix: str = "",
) -> tuple[list[tuple[str, bytes]], list[str]]:
    """Shard objects holding the encoded ``cells``, merged with what their shards hold.

    ``snap`` is the store as it is (``None`` for a new store: nothing to merge).
    An empty ``bytes`` value removes that cell. Returns the shard objects to put
    and the keys of shards left with no cell, to delete.
    """
    from zarr_vectors.format.sharding import assemble_shard

    spec = layout.sharding
    assert spec is not None
    by_shard: dict[Grid, dict[Grid, bytes]] = {}
    for grid, data in cells:
        shard, inner = spec.locate(grid)
        by_shard.setdefault(shard, {})[spec.inner_coords(inner)] = data
    puts: list[tuple[str, bytes]] = []
    deletes: list[str] = []
    for shard, inner_chunks in sorted(by_shard.items()):
        key = spec.shard_key(layout.path, shard)
        if snap is not None:
            inner_chunks = {**_existing_inner(snap, spec, key), **inner_chunks}
        blob = assemble_shard(spec, inner_chunks)
        if blob is None:
            deletes.append(prefix + key)
        else:
            puts.append((prefix + key, blob))
    return puts, deletes


def cells_to_objects(
    snap: Snapshot | None,
    layouts: Mapping[str, ArrayLayout],
    chunks: Iterable[tuple[str, bytes]],
    *,
    prefix: str = "",
) -> tuple[list[tuple[str, bytes]], list[str]]:
    """Encoded cell objects (``<array>/c/i/j/k``) as the objects their arrays store.

    Cells of unsharded arrays pass through; cells of a sharded array (named in
    ``layouts``) are gathered into its shards. Returns objects to put and keys
    to delete.
    """
    sharded: dict[str, list[tuple[Grid, bytes]]] = {}
    puts: list[tuple[str, bytes]] = []
    for key, data in chunks:
        path, sep, grid = key.rpartition("/c/")
        layout = layouts.get(path) if sep else None
        if layout is None or layout.sharding is None:
            puts.append((prefix + key, data))
            continue
        sharded.setdefault(path, []).append((tuple(int(g) for g in grid.split("/")), data))
    deletes: list[str] = []
    for path, cells in sharded.items():
        more, gone = shard_objects(snap, layouts[path], cells, prefix=prefix)
        puts.extend(more)
        deletes.extend(gone)
    return puts, deletes


def _existing_inner(snap: Snapshot, spec: ShardingSpec, key: str) -> dict[Grid, bytes]:
    data = snap.get_many([key]).get(key)
    if data is None:
        return {}
    where = f"{snap.backend.url}: {key}"
    start, length = spec.index_range(len(data))
    index = decode_index(spec, data[start : start + length], shard_size=len(data), where=where)
    view = memoryview(data)
    out: dict[Grid, bytes] = {}
    for i in index.nonempty():
        span = index.span(i)
        if span is None:  # pragma: no cover - nonempty() lists only spans
            raise CorruptStoreError(f"{where}: inner chunk {i} vanished from its index")
        out[spec.inner_coords(i)] = bytes(view[span[0] : span[0] + span[1]])
    return out
