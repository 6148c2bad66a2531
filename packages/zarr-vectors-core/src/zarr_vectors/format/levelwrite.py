"""Encoding a level's cells and the array documents that list them, for a write.

Grouped points become ``(key, bytes)`` chunk items (one object per cell and
array) plus the ``zarr.json`` documents of the level's cell arrays; sharded
arrays get their documents from :func:`shard_docs` and their objects from
:func:`~zarr_vectors.format.cellio.cells_to_objects`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.format.cells import CellCodec, typed_codecs
from zarr_vectors.format.cellsums import TABLE, table_for
from zarr_vectors.format.fragments import encode_single_range
from zarr_vectors.format.grid import CellGroups, world_key
from zarr_vectors.format.levelkeys import ATTRIBUTES, FRAGMENTS, VERTICES
from zarr_vectors.format.metadata import cell_array_json
from zarr_vectors.format.scaled import Scaling
from zarr_vectors.storage.concurrency import map_bounded

__all__ = ["EncodedLevel", "encode_level", "level_array_docs", "shard_docs"]

#: Threads compressing a level's cell objects (one per core: the work is all CPU).
ENCODE_THREADS = os.cpu_count() or 1


@dataclass
class EncodedLevel:
    """Everything a write puts for one level: chunk items, then node documents."""

    chunks: list[tuple[str, bytes]]
    docs: dict[str, dict[str, Any]]
    nonempty: list[str]
    #: Per attribute, the checksum of each cell written, by world key (see ``cellsums``).
    checksums: dict[str, dict[str, int]]


def encode_level(
    level: str,
    positions: npt.NDArray[Any],
    groups: CellGroups,
    attributes: Mapping[str, npt.NDArray[Any]],
    *,
    origin: Sequence[int],
    grid_shape: Sequence[int],
    codecs: Sequence[Mapping[str, Any]],
    nonempty_extra: Sequence[str] = (),
    known_checksums: Mapping[str, Mapping[str, int]] | None = None,
    scaling: Scaling | None = None,
) -> EncodedLevel:
    """Chunk items and array documents for ``positions`` grouped as ``groups``.

    ``positions`` and ``attributes`` are already in their stored dtypes and in
    input order; the grouping's ``order`` sorts them by cell. ``nonempty_extra``
    lists world cells that hold data from before (appends) and stay listed;
    ``known_checksums`` (per attribute, by world key) the checksums of their
    attribute cells, for the documents' tables. ``scaling`` stores the positions
    as its int32 values (:mod:`zarr_vectors.format.scaled`). Each array's codecs
    are ``codecs`` fitted to its row size and value type
    (:func:`~zarr_vectors.format.cells.typed_codecs`).
    """
    if scaling is not None:
        positions = scaling.encode(positions)
    chunks: list[tuple[str, bytes]] = []
    sorted_pos = groups.sort_rows(positions)
    columns = {n: groups.sort_rows(a) for n, a in attributes.items()}
    pos_buf = sorted_pos.reshape(-1).data.cast("B")
    row_bytes = sorted_pos.shape[1] * sorted_pos.dtype.itemsize
    col_bufs = {
        n: (
            np.ascontiguousarray(c).reshape(-1).data.cast("B"),
            c.dtype.itemsize * int(np.prod(c.shape[1:], dtype=np.int64)),
        )
        for n, c in columns.items()
    }
    vcodec = CellCodec(tuple(typed_codecs(codecs, row_bytes, str(sorted_pos.dtype))))
    fcodec = CellCodec(tuple(typed_codecs(codecs, 1)))
    acodecs = {
        n: CellCodec(tuple(typed_codecs(codecs, rb, str(columns[n].dtype))))
        for n, (_, rb) in col_bufs.items()
    }
    starts = groups.starts.tolist()
    nonempty = set(nonempty_extra)
    vpath, fpath = f"{level}/{VERTICES}", f"{level}/{FRAGMENTS}"
    apaths = {n: f"{level}/{ATTRIBUTES}/{n}" for n in col_bufs}
    known = known_checksums or {}
    sums: dict[str, dict[str, int]] = {n: dict(known.get(n, {})) for n in col_bufs}
    # (object key, codec, payload, attribute name or None, world key): one per object
    jobs: list[tuple[str, CellCodec, bytes | memoryview, str | None, str]] = []
    for i, world in enumerate(groups.world.tolist()):
        s, e = starts[i], starts[i + 1]
        key = world_key(world)
        nonempty.add(key)
        grid = "/".join(str(w - o) for w, o in zip(world, origin, strict=True))
        jobs.append(
            (f"{vpath}/c/{grid}", vcodec, pos_buf[s * row_bytes : e * row_bytes], None, key)
        )
        jobs.append((f"{fpath}/c/{grid}", fcodec, encode_single_range(e - s), None, key))
        for name, (buf, rb) in col_bufs.items():
            jobs.append(
                (f"{apaths[name]}/c/{grid}", acodecs[name], buf[s * rb : e * rb], name, key)
            )
    # Blosc and zstd release the GIL: the objects are compressed on every core.
    blobs = map_bounded(lambda job: job[1].encode(job[2]), jobs, ENCODE_THREADS)
    for (object_key, codec, _, column, cell), blob in zip(jobs, blobs, strict=True):
        if column is not None:
            sums[column][cell] = codec.checksum(blob)
        chunks.append((object_key, blob))
    listed = sorted(nonempty)
    docs = level_array_docs(
        level,
        dtype=str(positions.dtype),
        attributes={n: (str(a.dtype), list(a.shape[1:])) for n, a in attributes.items()},
        origin=origin,
        grid_shape=grid_shape,
        codecs=codecs,
        nonempty=listed,
        checksums=sums,
        scaling=scaling,
    )
    return EncodedLevel(chunks=chunks, docs=docs, nonempty=listed, checksums=sums)


def level_array_docs(
    level: str,
    *,
    dtype: str,
    attributes: Mapping[str, tuple[str, list[int]]],
    origin: Sequence[int],
    grid_shape: Sequence[int],
    codecs: Sequence[Mapping[str, Any]],
    nonempty: list[str],
    checksums: Mapping[str, Mapping[str, int]] | None = None,
    scaling: Scaling | None = None,
) -> dict[str, dict[str, Any]]:
    """Node documents of a level's cell arrays (not the level group itself).

    An attribute array whose cells' checksums are all in ``checksums`` (per
    attribute, by world key) gets its table of them (see ``cellsums``). With
    ``scaling`` the vertices are int32 and their attributes say how to scale them.
    """
    extra: dict[str, Any] = {}
    if any(int(o) != 0 for o in origin):
        extra["chunk_grid_origin"] = [int(o) for o in origin]
    vertex_attrs: dict[str, Any] = {"dtype": dtype}
    if scaling is not None:
        vertex_attrs = scaling.attrs()
    row_bytes = np.dtype(vertex_attrs["dtype"]).itemsize * len(grid_shape)
    docs = {
        f"{level}/{VERTICES}": cell_array_json(
            grid_shape,
            typed_codecs(codecs, row_bytes, vertex_attrs["dtype"]),
            {
                "nonempty_chunks": nonempty,
                **extra,
                "zv_array": "vertices",
                **vertex_attrs,
                "encoding": "raw",
            },
        ),
        f"{level}/{FRAGMENTS}": cell_array_json(
            grid_shape,
            typed_codecs(codecs, 1),
            {
                "nonempty_chunks": nonempty,
                **extra,
                "zv_array": "vertex_fragments",
                "encoding": "fragment_index_v1",
            },
        ),
    }
    if attributes:
        from zarr_vectors.format.metadata import group_json

        docs[f"{level}/{ATTRIBUTES}"] = group_json()
    for name, (adtype, row_shape) in attributes.items():
        described: dict[str, Any] = {
            "nonempty_chunks": nonempty,
            **extra,
            "zv_array": "attribute",
            "name": name,
            "dtype": adtype,
            "row_shape": list(row_shape),
        }
        width = int(np.prod(row_shape, dtype=np.int64)) if row_shape else 1
        table = table_for(nonempty, (checksums or {}).get(name, {}))
        if table is not None:
            described[TABLE] = table
        if width > 1:
            # The published 0.9.2 takes a multi-column attribute's width from its
            # channel names, so they are written for it to read the column whole.
            described["channel_names"] = [f"ch{i}" for i in range(width)]
        rb = np.dtype(adtype).itemsize * width
        docs[f"{level}/{ATTRIBUTES}/{name}"] = cell_array_json(
            grid_shape, typed_codecs(codecs, rb, adtype), described
        )
    return docs


def shard_docs(
    docs: Mapping[str, dict[str, Any]], shard_shape: Sequence[int] | None
) -> dict[str, dict[str, Any]]:
    """``docs`` with every cell array sharded by ``shard_shape`` (unchanged for ``None``)."""
    if shard_shape is None:
        return dict(docs)
    from zarr_vectors.format.sharding import sharded_array_json

    return {
        p: sharded_array_json(d, shard_shape) if d.get("node_type") == "array" else d
        for p, d in docs.items()
    }
