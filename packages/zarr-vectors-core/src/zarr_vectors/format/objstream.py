"""Objects larger than memory: a level written from batches of whole objects.

Each batch is encoded on its own (:func:`~zarr_vectors.format.objects.encode_objects`
with ``bases`` from a :class:`~zarr_vectors.format.objgrow.CellTally`, so its
rows and fragments are numbered after the batches before it) and its cell
payloads are appended to one file in a spill directory
(:class:`~zarr_vectors.format.spill.SpillDirectory`: local disk, removed on
close, cleaned after a killed writer). Only the per-object index (ids,
manifests, object attributes) and the list of where each cell's pieces lie
stay in memory. Everything is checked while spilling, before the store is
touched; the commit then joins each cell's pieces (:func:`join_payloads`) a
bounded batch at a time, whole shards together.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format.cells import CellCodec
from zarr_vectors.format.metadata import RootMetadata
from zarr_vectors.format.objects import (
    EncodedObjects,
    ObjectLevel,
    encode_object_index,
    encode_objects,
)
from zarr_vectors.format.objgrow import CellTally, join_docs, join_payloads
from zarr_vectors.format.spill import SpillDirectory, spill_error
from zarr_vectors.format.validate import check_inside

__all__ = ["ObjectStream"]

_INDEX_ARRAYS = ("object_index", "object_attributes", "groups", "group_attributes")


def _layout(values: dict[str, npt.NDArray[Any]]) -> dict[str, tuple[str, tuple[int, ...]]]:
    return {k: (str(v.dtype), tuple(v.shape[1:])) for k, v in sorted(values.items())}


class ObjectStream:
    """A level of objects gathered batch by batch in a spill directory (closed = deleted)."""

    def __init__(
        self,
        meta: RootMetadata,
        *,
        codecs: Sequence[dict[str, Any]],
        index_codecs: Sequence[dict[str, Any]],
        shard_shape: Sequence[int] | None,
        budget: int,
        directory: str | os.PathLike[str] | None = None,
        level: str = "0",
        tally: CellTally | None = None,
        conform: Callable[[ObjectLevel], ObjectLevel] | None = None,
    ) -> None:
        """``tally`` and ``conform`` are an append's (:mod:`.objappend`): rows numbered
        after the store's cells, each batch checked against the store and cast to it."""
        self.meta, self.level = meta, level
        self.codecs, self.index_codecs = list(codecs), list(index_codecs)
        self.shard_shape = None if shard_shape is None else tuple(shard_shape)
        self.budget = budget
        self._space = SpillDirectory(directory)
        self._path = os.path.join(self._space.path, "cells.bin")
        try:
            self._file = open(self._path, "w+b")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            self._space.close()
            raise spill_error(self._space.path, exc) from None
        self._at = 0
        self._pieces: dict[str, list[tuple[int, int]]] = {}
        self._tally = CellTally() if tally is None else tally
        self._conform = conform
        self._sorted = False
        self._docs: dict[str, dict[str, Any]] = {}
        self._ids: list[npt.NDArray[np.int64]] = []
        self._manifests: list[bytes] = []
        self._oattrs: dict[str, list[npt.NDArray[Any]]] = {}
        self._layout: tuple[Any, ...] | None = None
        self._cell_arrays: set[str] = set()
        self.vertex_count = 0
        self.batches = 0

    # -- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        """Close the spill file and delete the directory (idempotent)."""
        self._file.close()
        self._space.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- gathering ------------------------------------------------------------------------
    def add(self, obj: ObjectLevel) -> None:
        """Check, encode and spill one batch of whole objects."""
        if self._conform is not None:
            obj = self._conform(obj)
        layout = (
            obj.positions.shape[1],
            str(obj.positions.dtype),
            _layout(obj.attributes),
            _layout(obj.link_attributes),
            _layout(obj.object_attributes),
            None if obj.links is None else obj.links.shape[1],
        )
        if self._layout is None:
            self._layout = layout
        elif layout != self._layout:
            raise ValidationError(
                f"batch {self.batches} has another layout than batch 0 (axes, dtype, attribute "
                f"names and dtypes, link width): {layout} against {self._layout}; give every "
                "batch the same"
            )
        if obj.groups is not None:
            raise ValidationError("groups cannot be written from batches; write them in memory")
        check_inside(obj.positions, self.meta, append=self._conform is not None)
        enc = encode_objects(
            obj,
            self.meta,
            codecs=self.codecs,
            index_codecs=(),
            shard_shape=self.shard_shape,
            level=self.level,
            bases=self._tally.bases,
            raw=True,
        )
        cells = set(enc.cell_arrays)
        self._cell_arrays |= cells
        try:
            for key, payload in enc.chunks:
                if key.rpartition("/c/")[0] in cells:
                    self._file.write(payload)
                    self._pieces.setdefault(key, []).append((self._at, len(payload)))
                    self._at += len(payload)
        except OSError as exc:
            raise spill_error(self._space.path, exc) from None
        assert enc.world is not None and enc.cell_rows is not None and enc.cell_frags is not None
        self._tally.add(enc.world, enc.cell_rows, enc.cell_frags)
        index = tuple(f"{self.level}/{a}" for a in _INDEX_ARRAYS)
        own = {p: d for p, d in enc.docs.items() if not p.startswith(index)}
        self._docs = join_docs(self._docs, own) if self._docs else own
        self._ids.append(obj.object_ids)
        self._manifests.extend(enc.manifests)
        for name, values in obj.object_attributes.items():
            self._oattrs.setdefault(name, []).append(values)
        self.vertex_count += len(obj.positions)
        self.batches += 1

    # -- the level ----------------------------------------------------------------------
    @property
    def docs(self) -> dict[str, dict[str, Any]]:
        """The level's documents but the object index's, as the batches made them."""
        return self._docs

    @property
    def cell_arrays(self) -> list[str]:
        return sorted(self._cell_arrays)

    @property
    def cell_count(self) -> int:
        return len({k.rpartition("/c/")[2] for k in self._pieces})

    def index_rows(
        self,
    ) -> tuple[npt.NDArray[np.int64], list[bytes], dict[str, npt.NDArray[Any]]]:
        """All the objects' ids (ascending), manifests and object attributes, in id order.

        Refuses an id given twice across the batches.
        """
        if not self.batches:
            raise ValidationError("the batches are empty: give at least one object")
        ids = np.concatenate(self._ids)
        if not self._sorted:
            order = np.argsort(ids, kind="stable")
            ids = ids[order]
            dup = np.flatnonzero(ids[1:] == ids[:-1])
            if len(dup):
                raise ValidationError(
                    f"object id {int(ids[dup[0]])} is given to more than one object across the "
                    "batches; ids must be unique"
                )
            self._manifests = [self._manifests[i] for i in order.tolist()]
            self._ids = [ids]
            self._oattrs = {k: [np.concatenate(v)[order]] for k, v in self._oattrs.items()}
            self._sorted = True
        return ids, self._manifests, {k: v[0] for k, v in self._oattrs.items()}

    def finish(self) -> EncodedObjects:
        """The level's documents and object index; its cells come joined from ``chunk_batches``."""
        ids, manifests, oattrs = self.index_rows()
        docs, chunks = encode_object_index(
            self.level,
            ids,
            manifests,
            num_present=sum(1 for m in manifests if len(m) > 4),
            ndim=self.meta.ndim,
            object_attributes=oattrs,
            index_codecs=self.index_codecs,
        )
        self._file.flush()
        return EncodedObjects(
            chunks,
            {**self._docs, **docs},
            self.cell_arrays,
            self.vertex_count,
            self.cell_count,
            chunk_batches=self.joined,
        )

    def joined(
        self, committed: Callable[[Iterable[str]], Mapping[str, bytes]] | None = None
    ) -> Iterator[list[tuple[str, bytes]]]:
        """Every cell, its pieces joined and encoded, in batches of whole shards.

        ``committed(keys)`` (an append's) gives the store's payloads of those
        cells, which go before the spilled pieces.
        """
        self._file.flush()
        codec = CellCodec(tuple(dict(c) for c in self.codecs))
        fd = self._file.fileno()
        # An append's batch also holds the committed payloads: half the spilled bytes.
        for keys in self._planned(max(self.budget // (16 if committed else 8), 4 << 20)):
            old = committed(keys) if committed is not None else {}
            batch = []
            for key in keys:
                path = key.rpartition("/c/")[0]
                parts = [os.pread(fd, n, at) for at, n in self._pieces[key]]
                if key in old:
                    parts.insert(0, old[key])
                payload = join_payloads(path, self._docs[path], parts)
                batch.append((key, codec.encode(payload)))
            yield batch

    def _planned(self, limit: int) -> Iterator[list[str]]:
        """The cell keys in batches of whole shards, about ``limit`` spilled bytes each."""

        def shard_of(key: str) -> tuple[Any, ...]:
            path, _, grid = key.rpartition("/c/")
            cell = [int(g) for g in grid.split("/")]
            if self.shard_shape is None:
                return (path, *cell)
            return (path, *(c // s for c, s in zip(cell, self.shard_shape, strict=True)))

        batch: list[str] = []
        size, last = 0, None
        for key in sorted(self._pieces, key=shard_of):
            group = key if self.shard_shape is None else shard_of(key)
            if size >= limit and group != last:
                yield batch
                batch, size = [], 0
            last = group
            batch.append(key)
            size += sum(n for _, n in self._pieces[key])
        if batch:
            yield batch
