"""Cell bytes in and out of a level's arrays, whether each cell is an object or shards hold them.

An unsharded cell array stores each cell as one object (``<array>/c/i/j/k``);
a sharded one (Zarr v3 ``sharding_indexed``, as the published 0.9.2 writes with
``shard_shape=``) stores blocks of cells as one object with an index. Readers
and writers above this module speak of cells only:

* :func:`fetch_cell_bytes` returns each wanted cell's encoded bytes (a cell
  object, or the inner chunk cut out of its shard). For shards it reads the
  index (a ``head`` for the size, then one ranged read) and then only the byte
  ranges of the wanted cells, neighbouring ranges coalesced; a shard that is
  wanted mostly whole is read whole instead.
* :func:`shard_objects` turns encoded cell objects into shard objects, merging
  the cells already stored in the shards it touches (appends).

Decoding is the array's cell codec either way (the inner codecs of a shard are
exactly an unsharded array's codecs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from zarr_vectors.exceptions import CorruptStoreError
from zarr_vectors.format.cells import CellCodec
from zarr_vectors.format.sharding import (
    ShardingSpec,
    decode_index,
    parse_sharding,
    plan_ranges,
    slice_ranges,
)
from zarr_vectors.format.snapshot import Snapshot
from zarr_vectors.storage.concurrency import map_bounded

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
    """Encoded bytes of the wanted cells, by ``(array path, grid cell)``; missing ones left out."""
    plain: dict[str, tuple[str, Grid]] = {}
    sharded: list[tuple[ArrayLayout, Sequence[Grid]]] = []
    for path, (layout, cells) in wanted.items():
        if layout.sharding is None:
            plain.update({layout.cell_key(g): (path, g) for g in cells})
        elif cells:
            sharded.append((layout, cells))
    out: dict[tuple[str, Grid], bytes] = {}
    if plain:
        got = snap.get_many(list(plain))
        out.update({plain[k]: v for k, v in got.items()})
    for layout, cells in sharded:
        out.update(_from_shards(snap, layout, cells))
    return out


def _from_shards(
    snap: Snapshot, layout: ArrayLayout, cells: Sequence[Grid]
) -> dict[tuple[str, Grid], bytes]:
    spec = layout.sharding
    assert spec is not None
    by_shard: dict[Grid, list[tuple[int, Grid]]] = {}
    for grid in cells:
        shard, inner = spec.locate(grid)
        by_shard.setdefault(shard, []).append((inner, grid))
    jobs = list(by_shard.items())
    limit = int(getattr(snap.backend, "max_concurrency", 8))
    results = map_bounded(lambda job: _one_shard(snap, layout, *job), jobs, limit)
    out: dict[tuple[str, Grid], bytes] = {}
    for part in results:
        out.update(part)
    return out


def _one_shard(
    snap: Snapshot, layout: ArrayLayout, shard: Grid, wanted: list[tuple[int, Grid]]
) -> dict[tuple[str, Grid], bytes]:
    spec = layout.sharding
    assert spec is not None
    key = spec.shard_key(layout.path, shard)
    where = f"{snap.backend.url}: {key}"
    if len(wanted) >= WHOLE_SHARD_SHARE * spec.n_inner:
        data = snap.get_many([key]).get(key)
        if data is None:
            return {}
        start, length = spec.index_range(len(data))
        index = decode_index(spec, data[start : start + length], shard_size=len(data), where=where)
        blobs = {i: memoryview(data)[s[0] : s[0] + s[1]] for i, _ in wanted if (s := index.span(i))}
    else:
        try:
            size = snap.head(key).size
        except KeyError:
            return {}
        start, length = spec.index_range(size)
        raw = snap.get_range(key, start, length)
        index = decode_index(spec, raw, shard_size=size, where=where)
        ranges = plan_ranges(index, [i for i, _ in wanted])
        parts = [snap.get_range(key, r.start, r.length) for r in ranges]
        blobs = slice_ranges(ranges, parts, where)
    return {(layout.path, grid): bytes(blobs[i]) for i, grid in wanted if i in blobs}


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
