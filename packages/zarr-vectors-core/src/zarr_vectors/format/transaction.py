"""The commit sequence every write follows: plan, journal, cells, documents, commit.

A geometry type validates its input into a :class:`~zarr_vectors.format.plan.WritePlan`
and calls :func:`commit_write`; this module decides whether that creates,
replaces or appends, and runs the order documented in
:mod:`zarr_vectors.format.journal` (journal entry first, root last), including
:func:`recover`, which undoes an append that failed half way. It talks only to
the storage protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from zarr_vectors.core.backends.base import StorageBackend
from zarr_vectors.exceptions import StoreError, StoreExistsError, ValidationError
from zarr_vectors.format import journal
from zarr_vectors.format.cells import codec_chain
from zarr_vectors.format.grid import group_by_cell, world_key
from zarr_vectors.format.journal import ROOT_KEY, Pending
from zarr_vectors.format.levels import (
    ATTRIBUTES,
    FRAGMENTS,
    VERTICES,
    EncodedLevel,
    cell_key,
    encode_level,
    fetch_cells,
)
from zarr_vectors.format.metadata import LevelMetadata, RootMetadata, dump_json, group_json
from zarr_vectors.format.plan import Progress, WritePlan
from zarr_vectors.format.snapshot import Snapshot, load_snapshot
from zarr_vectors.format.validate import check_inside

__all__ = ["CommitResult", "commit_write", "recover"]


@dataclass(frozen=True)
class CommitResult:
    """What a committed write did."""

    vertices_written: int
    vertex_count: int
    cells_written: int
    levels: int


def commit_write(backend: StorageBackend, plan: WritePlan) -> CommitResult:
    """Create, replace or append to the store at ``backend`` as ``plan`` says."""
    snap, existing = _existing(backend, plan.mode)
    if plan.mode == "a" and snap is not None:
        return _append(backend, snap, plan)
    if plan.meta is None:  # appending to nothing: a chunk shape is needed after all
        raise ValidationError(
            "chunk_shape is required to create a store, e.g. chunk_shape=(200.0,) * 3"
        )
    if plan.mode == "a":
        check_inside(plan.positions, plan.meta, append=False)
    generation = snap.meta.generation + 1 if snap is not None else 1
    meta = replace(plan.meta, generation=generation)
    return _write_new(backend, meta, plan, existing)


def _existing(backend: StorageBackend, mode: str) -> tuple[Snapshot | None, bool]:
    """The store already there (if any) and whether anything at all is there."""
    raw = backend.get_many([ROOT_KEY]).get(ROOT_KEY)
    if raw is None:
        keys = list(backend.list_prefix("", recursive=True))
        if keys and mode != "w":
            raise StoreExistsError(
                f"{backend.url} already holds data that is not a Zarr Vectors store "
                f"(e.g. {keys[0]!r}); choose an empty location or pass mode='w' to replace it"
            )
        return None, bool(keys)
    if mode == "w-":
        raise StoreExistsError(
            f"a store already exists at {backend.url}; pass mode='w' to replace it or "
            "mode='a' to append to it"
        )
    if mode == "w":
        try:
            return load_snapshot(backend), True
        except StoreError:
            return None, True
    return load_snapshot(backend), True


def _level_doc(level: int, count: int, *, attrs: bool) -> dict[str, Any]:
    lm = LevelMetadata(
        level=level,
        vertex_count=count,
        arrays_present=("vertices", "vertex_attributes") if attrs else ("vertices",),
        coarsening_method="none" if level == 0 else "grid_centroid",
        parent_level=None if level == 0 else level - 1,
    )
    return group_json(lm.to_attributes())


def _put_chunks(
    backend: StorageBackend, chunks: list[tuple[str, bytes]], progress: Progress | None
) -> None:
    if progress is None:
        backend.put_many(chunks)
        return
    step = max(64, len(chunks) // 50)
    progress(0, len(chunks))
    for i in range(0, len(chunks), step):
        backend.put_many(chunks[i : i + step])
        progress(min(i + step, len(chunks)), len(chunks))


def _write_new(
    backend: StorageBackend, meta: RootMetadata, plan: WritePlan, existing: bool
) -> CommitResult:
    """A whole new store (replacing what is there when ``existing``)."""
    origin, shape = meta.grid_origin(), meta.grid_shape()
    encoded: list[EncodedLevel] = []
    docs: dict[str, dict[str, Any]] = {}
    level_pos = plan.positions
    attrs = plan.attributes
    for level in range(len(meta.levels)):
        if level:
            if plan.coarsen is None:
                raise ValidationError("levels > 1 needs a coarsening rule for this geometry")
            level_pos = plan.coarsen(plan.positions, meta.chunk_shape, 2.0**level)
        groups = group_by_cell(level_pos, meta.chunk_shape)
        enc = encode_level(
            str(level),
            level_pos,
            groups,
            attrs if level == 0 else {},
            origin=origin,
            grid_shape=shape,
            codecs=plan.codecs,
        )
        encoded.append(enc)
        docs[str(level)] = _level_doc(level, len(level_pos), attrs=bool(attrs) and level == 0)
        docs.update(enc.docs)
    # 1. journal, 2. clear what was there, 3. chunks, 4. node docs, 5. commit root.
    journal.put_root(backend, meta, pending=Pending("w"))
    if existing:
        backend.delete_many(k for k in backend.list_prefix("", recursive=True) if k != ROOT_KEY)
    chunks = [c for enc in encoded for c in enc.chunks]
    _put_chunks(backend, chunks, plan.progress)
    backend.put_many([(f"{p}/zarr.json", dump_json(d)) for p, d in docs.items()])
    journal.put_root(backend, meta, consolidated=docs if plan.consolidate else None)
    n = len(plan.positions)
    return CommitResult(n, n, len(encoded[0].nonempty), len(meta.levels))


def _append(backend: StorageBackend, snap: Snapshot, plan: WritePlan) -> CommitResult:
    """Add ``plan``'s vertices to level 0 of the store ``snap`` describes."""
    if snap.pending is not None:
        recover(backend, snap)
        snap = load_snapshot(backend)
    meta = snap.meta
    pos, cs, levels, dtype = plan.positions, plan.chunk_shape, plan.levels, plan.dtype
    attrs = dict(plan.attributes)
    compress = plan.codecs
    if pos.shape[1] != meta.ndim:
        raise ValidationError(f"the store has {meta.ndim} axes but the points have {pos.shape[1]}")
    if cs is not None and tuple(cs) != tuple(meta.chunk_shape):
        raise ValidationError(
            f"chunk_shape {list(cs)} differs from the store's {list(meta.chunk_shape)}; "
            "leave chunk_shape out when appending"
        )
    if len(meta.levels) > 1 or levels > 1:
        raise ValidationError(
            "appending to a store with coarser levels would leave them stale; rewrite the "
            "store with mode='w' and levels=... holding all the points"
        )
    check_inside(pos, meta, append=True)
    lm = snap.level_meta(0)
    vdoc = snap.node(f"0/{VERTICES}")
    stored_names = sorted(snap.children(f"0/{ATTRIBUTES}")) if vdoc is not None else []
    if vdoc is not None and lm.vertex_count > 0 and sorted(attrs) != stored_names:
        raise ValidationError(
            f"the store's points have attributes {stored_names} but the new points have "
            f"{sorted(attrs)}; give the same attributes (one value per point) when appending"
        )
    if vdoc is not None:
        stored = np.dtype(vdoc["attributes"].get("dtype", "float32"))
        if dtype is not None and np.dtype(dtype) != stored:
            raise ValidationError(f"dtype {np.dtype(dtype)} differs from the store's {stored}")
        pos = pos.astype(stored, copy=False)
        compress = list(vdoc.get("codecs") or compress)
        for name in stored_names:
            adoc = snap.node(f"0/{ATTRIBUTES}/{name}") or {}
            adt = np.dtype(adoc.get("attributes", {}).get("dtype", attrs[name].dtype))
            if not np.can_cast(attrs[name].dtype, adt, "same_kind"):
                raise ValidationError(
                    f"attribute {name!r} is stored as {adt}; the new values ({attrs[name].dtype}) "
                    "do not convert to it"
                )
            attrs[name] = attrs[name].astype(adt)
    old_nonempty = list((vdoc or {}).get("attributes", {}).get("nonempty_chunks") or [])

    new_groups = group_by_cell(pos, meta.chunk_shape)
    touched = {world_key(w) for w in new_groups.world.tolist()}
    old_cells, _, _ = (
        fetch_cells(snap, 0, only=touched & set(old_nonempty)) if vdoc else ([], None, None)
    )
    old_counts = {c.key: len(c.positions) for c in old_cells}
    # Old rows first in every cell (stable grouping keeps this order).
    all_pos = np.concatenate([*(c.positions for c in old_cells), pos]) if old_cells else pos
    all_attrs = {
        n: np.concatenate([*(c.attributes[n] for c in old_cells), a]) if old_cells else a
        for n, a in attrs.items()
    }
    groups = group_by_cell(all_pos, meta.chunk_shape)
    enc = encode_level(
        "0",
        all_pos,
        groups,
        all_attrs,
        origin=meta.grid_origin(),
        grid_shape=meta.grid_shape(),
        codecs=compress,
        nonempty_extra=old_nonempty,
    )
    total = lm.vertex_count + len(pos)
    docs = dict(enc.docs)
    docs["0"] = _level_doc(0, total, attrs=bool(all_attrs))
    pending = Pending(
        mode="a",
        level="0",
        cells=tuple(sorted(touched)),
        counts=tuple(old_counts.get(k, 0) for k in sorted(touched)),
        vertex_count=lm.vertex_count,
    )
    extra = snap.root_doc.get("attributes", {})
    journal.put_root(
        backend, meta, pending=pending, consolidated=snap.consolidated, extra_attributes=extra
    )
    _put_chunks(backend, enc.chunks, plan.progress)
    backend.put_many([(f"{p}/zarr.json", dump_json(d)) for p, d in docs.items()])
    _finish(backend, snap, docs, plan.consolidate)
    return CommitResult(len(pos), total, len(touched), 1)


def _finish(
    backend: StorageBackend, snap: Snapshot, docs: dict[str, dict[str, Any]], consolidate: bool
) -> None:
    """Commit: the root with new generation, no journal, refreshed consolidated metadata."""
    merged: dict[str, dict[str, Any]] | None = None
    if consolidate:
        base = (
            snap.consolidated
            if snap.consolidated is not None
            else journal.gather_node_docs(backend)
        )
        merged = {**base, **docs}
    journal.put_root(
        backend,
        journal.bump(snap.meta),
        consolidated=merged,
        extra_attributes=snap.root_doc.get("attributes", {}),
    )


def recover(backend: StorageBackend, snap: Snapshot) -> None:
    """Undo an append that failed half way.

    Touched cells are cut back to their old rows, cells the append created are
    dropped, and the journal entry is cleared.
    """
    pending = snap.pending
    if pending is None:
        return
    pending.check_readable(backend.url)
    level = pending.level
    limits = pending.row_limits(level)
    keep = {k for k, n in limits.items() if n > 0}
    drop = {k for k, n in limits.items() if n == 0}
    cells, _, _ = fetch_cells(snap, int(level), only=keep)  # already cut back by the journal
    vdoc = snap.node(f"{level}/{VERTICES}")
    docs: dict[str, dict[str, Any]] = {}
    if vdoc is not None:
        names = snap.children(f"{level}/{ATTRIBUTES}")
        origin = vdoc["attributes"].get("chunk_grid_origin", [0] * snap.meta.ndim)
        nonempty = sorted(set(vdoc["attributes"].get("nonempty_chunks") or []) - drop)
        backend.delete_many(
            cell_key(f"{level}/{arr}", [int(p) for p in k.split(".")], origin)
            for k in drop
            for arr in (VERTICES, FRAGMENTS, *(f"{ATTRIBUTES}/{n}" for n in names))
        )
        if cells:
            all_pos = np.concatenate([c.positions for c in cells])
            all_attrs = {n: np.concatenate([c.attributes[n] for c in cells]) for n in names}
            groups = group_by_cell(all_pos, snap.meta.chunk_shape)
            enc = encode_level(
                level,
                all_pos,
                groups,
                all_attrs,
                origin=snap.meta.grid_origin(),
                grid_shape=snap.meta.grid_shape(),
                codecs=vdoc.get("codecs") or codec_chain(None),
                nonempty_extra=nonempty,
            )
            backend.put_many(enc.chunks)
        for path in [
            f"{level}/{VERTICES}",
            f"{level}/{FRAGMENTS}",
            *(f"{level}/{ATTRIBUTES}/{n}" for n in names),
        ]:
            doc = snap.node(path)
            if doc is not None:
                doc = {**doc, "attributes": {**doc["attributes"], "nonempty_chunks": nonempty}}
                docs[path] = doc
    ldoc = snap.node(level) or {}
    lattrs: dict[str, Any] = dict(ldoc.get("attributes", {}).get("zarr_vectors_level", {}))
    lattrs["vertex_count"] = pending.vertex_count
    docs[level] = group_json({**ldoc.get("attributes", {}), "zarr_vectors_level": lattrs})
    backend.put_many([(f"{p}/zarr.json", dump_json(d)) for p, d in docs.items()])
    _finish(backend, snap, docs, snap.consolidated is not None)
