"""Append: new points added to level 0 of a committed store.

Everything an append can be refused for is checked first (:func:`_check_append`),
before the store is touched; then the touched cells are rewritten whole, their
old row counts journaled in the root so that readers (and a recovery) can cut
them back until the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import (
    ValidationError,
)
from zarr_vectors.format import journal
from zarr_vectors.format.cellio import ArrayLayout, cells_to_objects
from zarr_vectors.format.cellsums import known_checksums
from zarr_vectors.format.grid import group_by_cell, world_key
from zarr_vectors.format.journal import (
    Pending,
)
from zarr_vectors.format.lease import RootLease
from zarr_vectors.format.levels import (
    ATTRIBUTES,
    VERTICES,
    encode_level,
    fetch_cells,
    shard_docs,
)
from zarr_vectors.format.metadata import (
    RootMetadata,
    dump_json,
)
from zarr_vectors.format.plan import WritePlan
from zarr_vectors.format.scaled import Scaling, positions_dtype
from zarr_vectors.format.snapshot import Snapshot
from zarr_vectors.format.store_transaction import (
    is_transactional,
)
from zarr_vectors.format.validate import check_fits, check_inside
from zarr_vectors.format.writesteps import (
    CommitResult,
    _cell_codecs,
    _level_doc,
    _prune_log,
    _with_pending,
    put_chunks,
    record_commit,
)
from zarr_vectors.storage.base import StorageBackend

__all__ = []


@dataclass
class _Append:
    """An append, checked and cast to the store's dtypes."""

    positions: npt.NDArray[Any]
    attributes: dict[str, npt.NDArray[Any]]
    codecs: list[dict[str, Any]]
    #: The store's shard shape (``None``: one object per cell).
    shard_shape: tuple[int, ...] | None = None


def _check_append(snap: Snapshot, plan: WritePlan) -> _Append:
    """Everything an append can be refused for, checked before the store is touched."""
    meta = snap.meta
    pos, cs = plan.positions, plan.chunk_shape
    attrs = dict(plan.attributes)
    codecs = plan.codecs
    shard_shape = plan.shard_shape
    if pos.shape[1] != meta.ndim:
        raise ValidationError(f"the store has {meta.ndim} axes but the points have {pos.shape[1]}")
    if cs is not None and tuple(cs) != tuple(meta.chunk_shape):
        raise ValidationError(
            f"chunk_shape {list(cs)} differs from the store's {list(meta.chunk_shape)}; "
            "leave chunk_shape out when appending"
        )
    if len(meta.levels) > 1 or plan.levels > 1:
        raise ValidationError(
            "appending to a store with coarser levels would leave them stale; rewrite the "
            "store with mode='w' and levels=... holding all the points"
        )
    if plan.bounds is not None and not _same_box(plan.bounds, meta.bounds):
        raise ValidationError(
            f"bounds {[list(c) for c in plan.bounds]} differ from the store's "
            f"{[list(c) for c in meta.bounds]}; an append keeps the store's grid, so leave "
            "bounds out (or rewrite the store with mode='w' and the new bounds)"
        )
    check_inside(pos, meta, append=True)
    lm = snap.level_meta(0)
    vdoc = snap.node(f"0/{VERTICES}")
    stored_names = sorted(snap.children(f"0/{ATTRIBUTES}")) if vdoc is not None else []
    if vdoc is not None and stored_names and sorted(attrs) != stored_names:
        # Also on a store of 0 points: its attribute arrays are there, with their dtypes.
        held = "have" if lm.vertex_count > 0 else "are made for"
        raise ValidationError(
            f"the store's points {held} attributes {stored_names} but the new points have "
            f"{sorted(attrs)}; give the same attributes (one value per point) when appending"
        )
    if vdoc is not None and lm.vertex_count > 0 and sorted(attrs) != stored_names:
        raise ValidationError(
            f"the store's points have no attributes but the new points have {sorted(attrs)}; "
            "append without vertex_attributes, or rewrite the store with mode='w'"
        )
    if vdoc is not None:
        stored = np.dtype(positions_dtype(vdoc["attributes"]))
        if plan.dtype is not None and np.dtype(plan.dtype) != stored:
            raise ValidationError(f"dtype {np.dtype(plan.dtype)} differs from the store's {stored}")
        pos = check_fits("positions", pos, stored)
        codecs, shard_shape = _cell_codecs(vdoc, codecs)
        for name in stored_names:
            adoc = snap.node(f"0/{ATTRIBUTES}/{name}") or {}
            layout = adoc.get("attributes", {})
            adt = np.dtype(layout.get("dtype", attrs[name].dtype))
            shape = tuple(layout.get("row_shape") or ())
            if tuple(attrs[name].shape[1:]) != shape:
                raise ValidationError(
                    f"attribute {name!r} is stored with {list(shape) or 'one value'} per point; "
                    f"the new values have shape {list(attrs[name].shape[1:]) or 'one value'} "
                    "per point"
                )
            attrs[name] = check_fits(f"attribute {name!r}", attrs[name], adt)
    return _Append(pos, attrs, codecs, shard_shape if vdoc is not None else plan.shard_shape)


def _append(
    backend: StorageBackend, snap: Snapshot, plan: WritePlan, lease: RootLease
) -> CommitResult:
    """Add ``plan``'s vertices to level 0 of the store ``snap`` describes."""
    checked = _check_append(snap, plan)
    meta = snap.meta
    pos, attrs = checked.positions, checked.attributes
    lm = snap.level_meta(0)
    vdoc = snap.node(f"0/{VERTICES}")
    old_nonempty = list((vdoc or {}).get("attributes", {}).get("nonempty_chunks") or [])
    new_groups = group_by_cell(pos, meta.chunk_shape)
    touched = {world_key(w) for w in new_groups.world.tolist()}
    old_cells, _, _ = (
        fetch_cells(snap, 0, only=touched & set(old_nonempty), confirm=False)
        if vdoc
        else ([], None, None)
    )
    old_counts = {c.key: len(c.positions) for c in old_cells}
    # Old rows first in every cell (stable grouping keeps this order).
    all_pos = np.concatenate([*(c.positions for c in old_cells), pos]) if old_cells else pos
    all_attrs = {
        n: np.concatenate([*(c.attributes[n] for c in old_cells), a]) if old_cells else a
        for n, a in attrs.items()
    }
    groups = group_by_cell(all_pos, meta.chunk_shape)
    # The untouched cells keep their checksums; the rewritten ones get new ones.
    known = {n: known_checksums(_attrs_of(snap, f"0/{ATTRIBUTES}/{n}")) for n in attrs}
    enc = encode_level(
        "0",
        all_pos,
        groups,
        all_attrs,
        origin=meta.grid_origin(),
        grid_shape=meta.grid_shape(),
        codecs=checked.codecs,
        nonempty_extra=old_nonempty,
        known_checksums=known,
        scaling=Scaling.of_attrs((vdoc or {}).get("attributes", {})),
    )
    total = lm.vertex_count + len(pos)
    docs = shard_docs(enc.docs, checked.shard_shape)
    docs["0"] = _level_doc(0, total, attrs=bool(all_attrs))
    pending = Pending(
        mode="a",
        level="0",
        cells=tuple(sorted(touched)),
        counts=tuple(old_counts.get(k, 0) for k in sorted(touched)),
        vertex_count=lm.vertex_count,
    )
    lease.put(_with_pending(snap.root_doc, pending))
    layouts = {p: ArrayLayout(p, d) for p, d in docs.items() if d.get("node_type") == "array"}
    objects, emptied = cells_to_objects(snap, layouts, enc.chunks)
    node_docs = [(journal.node_key(p), dump_json(d)) for p, d in docs.items()]
    if is_transactional(backend):
        backend.put_many(node_docs)  # arrays before their chunks (see _write_cells)
    put_chunks(backend, objects, plan.progress, lease)
    if emptied:
        backend.delete_many(emptied)
    lease.check()
    if not is_transactional(backend):
        backend.put_many(node_docs)
    new_meta = journal.bump(meta)
    lease.check()
    record_commit(backend, new_meta.generation, pending)
    _commit(backend, snap, new_meta, docs, plan.consolidate, lease)
    _prune_log(backend, new_meta.generation)
    return CommitResult(len(pos), total, len(touched), 1)


def _commit(
    backend: StorageBackend,
    snap: Snapshot,
    meta: RootMetadata,
    docs: dict[str, dict[str, Any]],
    consolidate: bool,
    lease: RootLease,
) -> None:
    """The final root: new metadata, refreshed consolidated metadata, no journal, no lease."""
    merged: dict[str, dict[str, Any]] | None = None
    if consolidate:
        base = snap.consolidated
        if base is None:
            base = journal.gather_node_docs(backend)
        merged = {**base, **docs}
    lease.release(
        journal.root_document(
            meta, consolidated=merged, extra_attributes=snap.root_doc.get("attributes", {})
        )
    )


def _attrs_of(snap: Snapshot, path: str) -> dict[str, Any]:
    return dict((snap.node(path) or {}).get("attributes") or {})


def _same_box(given: Sequence[Sequence[float]], stored: Sequence[Sequence[float]]) -> bool:
    """Whether two boxes are equal (both as float64 corners)."""
    return all(
        [float(v) for v in a] == [float(v) for v in b] for a, b in zip(given, stored, strict=True)
    )
