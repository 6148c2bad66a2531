"""The commit sequence every write follows: check, lease, journal, cells, commit.

A geometry type validates its input into a :class:`~zarr_vectors.format.plan.WritePlan`
and calls :func:`commit_write`. This module decides whether that creates,
replaces or appends, and runs it so that a reader only ever sees a whole
committed state:

1. **Check** everything the arguments and the current root allow, before
   anything is written (a refused write leaves no trace).
2. **Lease**: take the store's write lease, a conditional write of the root
   (:mod:`zarr_vectors.format.lease`); repair what a dead writer left
   (:func:`recover`).
3. **Journal**: write the root with a ``pending`` entry
   (:class:`~zarr_vectors.format.journal.Pending`) that tells readers how to see
   the committed state while cells change: an append records every touched
   cell's old row count; a replace writes the new store under a staging prefix
   and leaves the old one untouched.
4. **Cells and documents**, checking between batches that the lease still holds.
5. **Commit**: a commit record (``.zv-log/GENERATION.json``) for readers holding
   an older snapshot, then the root with the new metadata. For a replace the
   commit flips readers to the staged store, which is then moved into place
   before the final root is written; a crash at any point before the commit
   leaves the old store, after it the new one.

It talks only to the storage protocol.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import (
    CorruptStoreError,
    StoreError,
    StoreExistsError,
    ValidationError,
)
from zarr_vectors.format import journal
from zarr_vectors.format.cellio import ArrayLayout, cells_to_objects
from zarr_vectors.format.cells import codec_chain
from zarr_vectors.format.grid import group_by_cell, world_key
from zarr_vectors.format.journal import (
    CLAIMS_PREFIX,
    LOG_KEEP,
    LOG_PREFIX,
    PRIVATE_PREFIX,
    ROOT_KEY,
    Pending,
    is_private,
    log_key,
)
from zarr_vectors.format.lease import RootLease
from zarr_vectors.format.levels import (
    ATTRIBUTES,
    FRAGMENTS,
    VERTICES,
    cell_key,
    encode_level,
    fetch_cells,
    level_array_docs,
    shard_docs,
)
from zarr_vectors.format.metadata import (
    WRITER_KEY,
    LevelMetadata,
    RootMetadata,
    dump_json,
    group_json,
)
from zarr_vectors.format.plan import Batch, Progress, WritePlan
from zarr_vectors.format.snapshot import Snapshot, parse_json_doc, snapshot_from_doc
from zarr_vectors.format.store_transaction import (
    check_joinable,
    is_transactional,
    run_write,
    take_store,
    write_summary,
)
from zarr_vectors.format.validate import check_fits, check_inside
from zarr_vectors.storage.base import StorageBackend

__all__ = ["CommitResult", "commit_write", "create_empty", "recover", "rewrite_root"]

#: Cell objects written per batch between two checks of the lease.
_BATCH = 2048


@dataclass(frozen=True)
class CommitResult:
    """What a committed write did."""

    vertices_written: int
    vertex_count: int
    cells_written: int
    levels: int


@dataclass
class _Append:
    """An append, checked and cast to the store's dtypes."""

    positions: npt.NDArray[Any]
    attributes: dict[str, npt.NDArray[Any]]
    codecs: list[dict[str, Any]]
    #: The store's shard shape (``None``: one object per cell).
    shard_shape: tuple[int, ...] | None = None


# -- the entry point ---------------------------------------------------------------------
def commit_write(
    backend: StorageBackend, plan: WritePlan, *, lock_timeout: float | None = None
) -> CommitResult:
    """Create, replace or append to the store at ``backend`` as ``plan`` says.

    On a transactional backend (:mod:`~zarr_vectors.format.store_transaction`) the
    write is one transaction of the backend's, and an append of points held in
    memory whose commit lost to another writer's is redone on that writer's state.
    """
    check_joinable(backend, plan)
    retry = plan.mode == "a" and plan.batches is None
    return run_write(backend, lambda: _commit_write(backend, plan, lock_timeout), retry=retry)


def _commit_write(
    backend: StorageBackend, plan: WritePlan, lock_timeout: float | None
) -> CommitResult:
    before = _current(backend, plan.mode)
    if before is not None and plan.mode == "a":
        _check_append(before, plan)  # refused here, nothing is touched
    with take_store(backend, wait=lock_timeout, summary=write_summary(plan)) as lease:
        snap = _locked(backend, lease, plan.mode)
        if snap is not None and snap.pending is not None:
            snap = recover(backend, snap, lease)
        if plan.mode == "a" and snap is not None:
            return _append(backend, snap, plan, lease)
        if plan.meta is None:  # appending to nothing: a chunk shape is needed after all
            raise ValidationError(
                "chunk_shape is required to create a store, e.g. chunk_shape=(200.0,) * 3"
            )
        if plan.mode == "a":
            check_inside(plan.positions, plan.meta, append=False)
        generation = snap.meta.generation + 1 if snap is not None else 1
        meta = replace(plan.meta, generation=generation)
        if snap is not None and not is_transactional(backend):
            return _replace(backend, snap, meta, plan, lease)
        # A transaction replaces in place: nobody sees the store before it commits.
        return _create(backend, meta, plan, lease)


def _current(backend: StorageBackend, mode: str) -> Snapshot | None:
    """The store already there, checked against ``mode`` without taking the lease."""
    raw = backend.get_many([ROOT_KEY]).get(ROOT_KEY)
    if raw is None:
        if mode != "w":
            _refuse_foreign_data(backend)
        return None
    if mode == "w-":
        raise StoreExistsError(
            f"a store already exists at {backend.url}; pass mode='w' to replace it or "
            "mode='a' to append to it"
        )
    try:
        doc = parse_json_doc(raw, f"{backend.url}: root zarr.json")
        if _first_write(doc):
            return None  # a store being created (or whose creator died): the lease decides
        return snapshot_from_doc(backend, doc)
    except StoreError:
        if mode == "w":
            return None  # an unreadable store is replaced whole
        raise


def _first_write(doc: Mapping[str, Any]) -> bool:
    """Whether ``doc`` is the root of a first write of a store that has not committed."""
    if not isinstance(doc.get("attributes"), Mapping):
        return False
    pending = Pending.from_root(doc)
    return pending is not None and pending.mode == "w" and not pending.staged


def _refuse_foreign_data(backend: StorageBackend) -> None:
    for key in backend.list_prefix("", recursive=True):
        if key != ROOT_KEY and not is_private(key):
            raise StoreExistsError(
                f"{backend.url} already holds data that is not a Zarr Vectors store "
                f"(e.g. {key!r}); choose an empty location or pass mode='w' to replace it"
            )


def _locked(backend: StorageBackend, lease: RootLease, mode: str) -> Snapshot | None:
    """The store as found once the lease is held (it may have changed since the check)."""
    doc = lease.doc
    if doc is None:
        if mode != "w" and not lease.unreadable_root:
            _refuse_foreign_data(backend)
        return None
    if _first_write(doc):
        # A first write that never finished: nothing of it is a store yet.
        _clear(backend, keep=())
        return None
    if mode == "w-":
        raise StoreExistsError(
            f"a store was created at {backend.url} by another writer meanwhile; pass mode='w' "
            "to replace it or mode='a' to append to it"
        )
    try:
        return snapshot_from_doc(backend, doc)
    except StoreError:
        if mode == "w":
            return None
        raise


# -- create and replace ------------------------------------------------------------------
@dataclass
class _LevelTotals:
    """What the cells written for one level add up to (for its documents)."""

    count: int = 0
    nonempty: set[str] = field(default_factory=set)


def _write_cells(
    backend: StorageBackend,
    meta: RootMetadata,
    plan: WritePlan,
    lease: RootLease,
    prefix: str = "",
) -> tuple[dict[str, dict[str, Any]], list[_LevelTotals]]:
    """Encode and put every cell of a new store under ``prefix``; return its node documents.

    One path for both kinds of input: an in-memory array is one partition; a
    streaming input is spilled to disk in partitions of whole cells (and whole
    coarser bins) that fit ``plan.memory_limit``, encoded one at a time. A plan
    with a ``cell_writer`` (:data:`~zarr_vectors.format.plan.CellWriter`) has its
    cells written by it; only the documents are made here.
    """
    levels = [_LevelTotals() for _ in meta.levels]
    attributes = plan.attributes
    layout = {n: (a.dtype, tuple(a.shape[1:])) for n, a in attributes.items()}

    def level_docs(level: int, nonempty: list[str]) -> dict[str, dict[str, Any]]:
        docs = level_array_docs(
            str(level),
            dtype=str(plan.positions.dtype),
            attributes={n: (str(dt), list(shape)) for n, (dt, shape) in layout.items()}
            if level == 0
            else {},
            origin=meta.grid_origin(),
            grid_shape=meta.grid_shape(),
            codecs=plan.codecs,
            nonempty=nonempty,
        )
        return shard_docs(docs, plan.shard_shape)

    layouts = {
        p: ArrayLayout(p, d)
        for level in range(len(meta.levels))
        for p, d in level_docs(level, []).items()
        if d.get("node_type") == "array"
    }
    if is_transactional(backend):
        # Zarr-native transactional storage (Icechunk) takes a chunk only into an array
        # it holds: the documents go first, as they will be but for their counts, and are
        # rewritten at the end. Nobody sees either before the commit.
        first = {
            str(level): _level_doc(level, 0, attrs=bool(attributes) and level == 0)
            for level in range(len(meta.levels))
        }
        first.update(
            {p: d for level in range(len(meta.levels)) for p, d in level_docs(level, []).items()}
        )
        backend.put_many([(prefix + journal.node_key(p), dump_json(d)) for p, d in first.items()])
    total = len(plan.positions) if plan.batches is None else plan.expected_rows
    placed = 0  # level-0 points whose cells are written (what progress counts)
    if plan.progress is not None:
        plan.progress(0, total or 0)
    if plan.cell_writer is not None:
        # The cells are encoded and put elsewhere (on Dask workers, zarr_vectors.dask);
        # what they add up to comes back for the documents below.
        written = plan.cell_writer(meta, plan, lease, prefix)
        for totals, (count, nonempty) in zip(levels, written, strict=True):
            totals.count += count
            totals.nonempty.update(nonempty)
    for positions, attrs in _partitions(meta, plan):
        for level, totals in enumerate(levels):
            level_pos = positions
            if level:
                if plan.coarsen is None:
                    raise ValidationError("levels > 1 needs a coarsening rule for this geometry")
                level_pos = plan.coarsen(positions, meta.chunk_shape, 2.0**level)
            enc = encode_level(
                str(level),
                level_pos,
                group_by_cell(level_pos, meta.chunk_shape),
                attrs if level == 0 else {},
                origin=meta.grid_origin(),
                grid_shape=meta.grid_shape(),
                codecs=plan.codecs,
            )
            totals.count += len(level_pos)
            totals.nonempty.update(enc.nonempty)
            chunks, _ = cells_to_objects(None, layouts, enc.chunks, prefix=prefix)
            report = None
            if plan.progress is not None and level == 0:
                report = _points_progress(plan.progress, placed, len(positions), total)
            _put_chunks(backend, chunks, report, lease)
        placed += len(positions)
    docs: dict[str, dict[str, Any]] = {}
    for level, totals in enumerate(levels):
        has_attrs = bool(attributes) and level == 0
        docs[str(level)] = _level_doc(level, totals.count, attrs=has_attrs)
        docs.update(level_docs(level, sorted(totals.nonempty)))
    return docs, levels


def _points_progress(progress: Progress, base: int, n: int, total: int | None) -> Progress:
    """``progress`` counted in points: a partition's ``n`` points spread over its objects."""

    def report(done: int, of: int) -> None:
        now = base + (n * done // of if of else n)
        progress(now, max(total or 0, now))

    return report


def _partitions(meta: RootMetadata, plan: WritePlan) -> Iterator[Batch]:
    """The vertices to write, in groups holding whole cells (and whole coarser bins)."""
    if plan.cell_writer is not None:
        return  # the plan's cell writer wrote them
    if plan.batches is None:
        yield plan.positions, plan.attributes
        return
    from zarr_vectors.format.spill import SpillPartitions

    coarsest = 2 ** (len(meta.levels) - 1)
    layout = {n: (a.dtype, tuple(a.shape[1:])) for n, a in plan.attributes.items()}
    block: list[int] = [coarsest] * meta.ndim
    origin = [0] * meta.ndim
    if plan.shard_shape is not None:
        # Whole shards per partition: blocks on the grid (from its origin), as big as a
        # shard times the coarsest bin, so coarser bins stay whole where the origin allows.
        origin = list(meta.grid_origin())
        if coarsest > 1 and any(o % coarsest for o in origin):
            raise ValidationError(
                "a sharded store with levels > 1 written from batches needs bounds whose lower "
                f"corner is a multiple of chunk_shape * {coarsest} on every axis (e.g. 0); "
                "widen bounds= to such a corner"
            )
        block = [s * coarsest for s in plan.shard_shape]
    with SpillPartitions(
        ndim=meta.ndim,
        dtype=plan.positions.dtype,
        attributes=layout,
        cell_size=meta.chunk_shape,
        block=block,
        origin=origin,
        budget=plan.memory_limit or 1 << 30,
        expected_rows=plan.expected_rows,
        directory=plan.spill_dir,
    ) as spill:
        for positions, attrs in plan.batches():
            check_inside(positions, meta, append=False)
            spill.add(positions, attrs)
        yield from spill.partitions()


def _create(
    backend: StorageBackend, meta: RootMetadata, plan: WritePlan, lease: RootLease
) -> CommitResult:
    """A store where there was none (the lease's placeholder root says one is being made)."""
    _clear(backend, keep=())  # a replace of foreign data ("w"), or leftovers
    docs, levels = _write_cells(backend, meta, plan, lease)
    backend.put_many([(journal.node_key(p), dump_json(d)) for p, d in docs.items()])
    _record(backend, meta.generation, Pending("w"))
    root = journal.root_document(meta, consolidated=docs if plan.consolidate else None)
    lease.release(root)
    n = levels[0].count
    return CommitResult(n, n, len(levels[0].nonempty), len(meta.levels))


def _replace(
    backend: StorageBackend,
    old: Snapshot,
    meta: RootMetadata,
    plan: WritePlan,
    lease: RootLease,
) -> CommitResult:
    """A new store over an old one, staged so that one of the two is always whole."""
    written: list[list[_LevelTotals]] = []

    def write(prefix: str) -> dict[str, dict[str, Any]]:
        docs, levels = _write_cells(backend, meta, plan, lease, prefix=prefix)
        written.append(levels)
        return docs

    _swap_in(backend, old.root_doc, meta, lease, write, consolidate=plan.consolidate)
    levels = written[0]
    n = levels[0].count
    return CommitResult(n, n, len(levels[0].nonempty), len(meta.levels))


def _swap_in(
    backend: StorageBackend,
    old_root: Mapping[str, Any],
    meta: RootMetadata,
    lease: RootLease,
    write: Callable[[str], dict[str, dict[str, Any]]],
    *,
    consolidate: bool,
) -> None:
    """Replace the store whose root is ``old_root`` by the one ``write(prefix)`` stages.

    ``write`` puts the new store's cells under ``prefix`` and returns its node
    documents. Until the commit (the root switched to the new metadata, journal
    state "moving") readers see the old store untouched; after it, the new one,
    staged objects first; then the staged objects are moved into place.
    """
    staged = f"{PRIVATE_PREFIX}staged-{uuid.uuid4().hex[:12]}"
    lease.put(_with_pending(old_root, Pending("w", staged=staged, state="writing")))
    docs = write(f"{staged}/")
    backend.put_many([(f"{staged}/{journal.node_key(p)}", dump_json(d)) for p, d in docs.items()])
    _record(backend, meta.generation, Pending("w"))
    consolidated = docs if consolidate else None
    moving = Pending("w", staged=staged, state="moving")
    committed = journal.root_document(meta, pending=moving, consolidated=consolidated)
    lease.put(committed)
    # Committed: readers now see the new store (staged first). Move it into place.
    _move_into_place(backend, committed, moving, lease)
    lease.release(journal.root_document(meta, consolidated=consolidated))
    _prune_log(backend, meta.generation)


def _move_into_place(
    backend: StorageBackend, root_doc: Mapping[str, Any], pending: Pending, lease: RootLease
) -> None:
    """Replace the old store's objects by the staged ones (idempotent: a crash re-runs it).

    ``root_doc`` is the committed root, whose journal entry ``pending`` says
    "moving". First the old objects the new store does not replace are deleted,
    judged by the staged listing; that is safe to repeat only while nothing has
    been moved, so once done the root records it (``cleared``) before the first
    move. Then ``move_many`` moves the staged objects to their keys (a rename or
    a server-side copy where the storage has one); a re-run after a crash moves
    what is still staged: a moved object's source is gone and it is not moved again.
    """
    staged = pending.staged
    prefix = f"{staged}/"
    new = [k[len(prefix) :] for k in backend.list_prefix(prefix, recursive=True)]
    lease.check()
    if not pending.cleared:
        wanted = set(new)
        backend.delete_many(
            k
            for k in backend.list_prefix("", recursive=True)
            if k != ROOT_KEY and not is_private(k) and k not in wanted
        )
        lease.put(_with_pending(root_doc, replace(pending, cleared=True)))
    for start in range(0, len(new), _BATCH):
        lease.check()
        backend.move_many((prefix + k, k) for k in new[start : start + _BATCH])
    backend.delete_prefix(staged)


def _clear(backend: StorageBackend, *, keep: Iterable[str]) -> None:
    """Delete every object but the root, this package's log, writers' claims and ``keep``."""
    kept = {ROOT_KEY, *keep}
    backend.delete_many(
        k
        for k in backend.list_prefix("", recursive=True)
        if k not in kept
        and not k.startswith(f"{LOG_PREFIX}/")
        and not k.startswith(f"{CLAIMS_PREFIX}/")
    )


# -- append -----------------------------------------------------------------------------
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
    enc = encode_level(
        "0",
        all_pos,
        groups,
        all_attrs,
        origin=meta.grid_origin(),
        grid_shape=meta.grid_shape(),
        codecs=checked.codecs,
        nonempty_extra=old_nonempty,
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
    _put_chunks(backend, objects, plan.progress, lease)
    if emptied:
        backend.delete_many(emptied)
    lease.check()
    if not is_transactional(backend):
        backend.put_many(node_docs)
    new_meta = journal.bump(meta)
    lease.check()
    _record(backend, new_meta.generation, pending)
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


# -- recovery ---------------------------------------------------------------------------
def recover(backend: StorageBackend, snap: Snapshot, lease: RootLease) -> Snapshot:
    """Repair what an unfinished write left, under the lease; return the repaired snapshot.

    An append is undone: touched cells are cut back to their old rows and cells
    it created are dropped. A replace that had not committed is dropped (its
    staged objects deleted); one that had is finished (moved into place).
    """
    pending = snap.pending
    if pending is None:
        return snap
    if pending.mode == "w":
        if pending.state == "moving":
            _move_into_place(backend, snap.root_doc, pending, lease)
        elif pending.staged:
            backend.delete_prefix(pending.staged)
        doc = _with_pending(snap.root_doc, None)
        lease.put(doc)
        return snapshot_from_doc(backend, doc)
    level = pending.level
    limits = pending.row_limits(level)
    keep = {k for k, n in limits.items() if n > 0}
    drop = {k for k, n in limits.items() if n == 0}
    # Cut back to the old rows by the journal as they are read.
    cells, _, _ = fetch_cells(snap, int(level), only=keep, confirm=False)
    vdoc = snap.node(f"{level}/{VERTICES}")
    docs: dict[str, dict[str, Any]] = {}
    if vdoc is not None:
        names = snap.children(f"{level}/{ATTRIBUTES}")
        origin = vdoc["attributes"].get("chunk_grid_origin", [0] * snap.meta.ndim)
        nonempty = sorted(set(vdoc["attributes"].get("nonempty_chunks") or []) - drop)
        arrays = [f"{level}/{a}" for a in (VERTICES, FRAGMENTS)]
        arrays += [f"{level}/{ATTRIBUTES}/{n}" for n in names]
        layouts = {p: ArrayLayout(p, d) for p in arrays if (d := snap.node(p)) is not None}
        dropped = [
            (cell_key(p, [int(v) for v in k.split(".")], origin), b"")
            for k in drop
            for p in layouts
        ]
        objects, emptied = cells_to_objects(snap, layouts, dropped)
        backend.delete_many([k for k, v in objects if not v] + emptied)
        backend.put_many([(k, v) for k, v in objects if v])
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
                codecs=_cell_codecs(vdoc, codec_chain(None))[0],
                nonempty_extra=nonempty,
            )
            objects, emptied = cells_to_objects(snap, layouts, enc.chunks)
            backend.put_many(objects)
            if emptied:
                backend.delete_many(emptied)
        for path in [
            f"{level}/{VERTICES}",
            f"{level}/{FRAGMENTS}",
            *(f"{level}/{ATTRIBUTES}/{n}" for n in names),
        ]:
            node = snap.node(path)
            if node is not None:
                attributes = {**node["attributes"], "nonempty_chunks": nonempty}
                docs[path] = {**node, "attributes": attributes}
    ldoc = snap.node(level) or {}
    lattrs: dict[str, Any] = dict(ldoc.get("attributes", {}).get("zarr_vectors_level", {}))
    lattrs["vertex_count"] = pending.vertex_count
    docs[level] = group_json({**ldoc.get("attributes", {}), "zarr_vectors_level": lattrs})
    backend.put_many([(journal.node_key(p), dump_json(d)) for p, d in docs.items()])
    merged: dict[str, dict[str, Any]] | None = None
    if snap.consolidated is not None:
        merged = {**snap.consolidated, **docs}
    root = journal.root_document(
        snap.meta, consolidated=merged, extra_attributes=snap.root_doc.get("attributes", {})
    )
    backend.delete_many([log_key(snap.meta.generation + 1)])  # a record of what never was
    lease.put(root)
    return snapshot_from_doc(backend, root)


# -- helpers ------------------------------------------------------------------------------
def _cell_codecs(
    vdoc: Mapping[str, Any], default: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], tuple[int, ...] | None]:
    """A stored array's cell codecs (inside its shards, if sharded) and its shard shape."""
    from zarr_vectors.format.sharding import parse_sharding

    spec = parse_sharding(vdoc)
    if spec is not None:
        return [dict(c) for c in spec.codecs], spec.shard_shape
    return list(vdoc.get("codecs") or default), None


def _with_pending(root_doc: Mapping[str, Any], pending: Pending | None) -> dict[str, Any]:
    """``root_doc`` with its journal entry set to ``pending`` (or removed)."""
    doc: dict[str, Any] = json.loads(json.dumps(root_doc))
    attrs = doc.setdefault("attributes", {})
    writer = dict(attrs.get(WRITER_KEY) or {})
    writer.pop("lease", None)
    if pending is None:
        writer.pop("pending", None)
    else:
        writer["pending"] = pending.to_json()
    attrs[WRITER_KEY] = writer
    return doc


def _record(backend: StorageBackend, generation: int, change: Pending) -> None:
    """The commit record of the write that makes ``generation`` (for older snapshots).

    A transactional backend needs none: a reader's view never changes under it.
    """
    if is_transactional(backend):
        return
    backend.put_bytes(log_key(generation), dump_json(change.to_json()))


def _prune_log(backend: StorageBackend, generation: int) -> None:
    """Keep the last :data:`~zarr_vectors.format.journal.LOG_KEEP` commit records."""
    if generation <= LOG_KEEP or is_transactional(backend):
        return
    cut = log_key(generation - LOG_KEEP)
    old = [k for k in backend.list_prefix(LOG_PREFIX, recursive=True) if k <= cut]
    if old:
        backend.delete_many(old)


def read_record(backend: StorageBackend, generation: int) -> Pending | None:
    """The commit record of ``generation``, or ``None`` if it is no longer kept."""
    raw = backend.get_many([log_key(generation)]).get(log_key(generation))
    if raw is None:
        return None
    try:
        entry = json.loads(raw)
    except ValueError:
        raise CorruptStoreError(
            f"{backend.url}: commit record {log_key(generation)} is not JSON"
        ) from None
    return Pending.from_json(entry, f"{backend.url}: commit record {log_key(generation)}")


def _put_chunks(
    backend: StorageBackend,
    chunks: list[tuple[str, bytes]],
    progress: Progress | None,
    lease: RootLease,
) -> None:
    total = len(chunks)
    if progress is not None:
        progress(0, total)
    for start in range(0, total, _BATCH):
        lease.check()
        backend.put_many(chunks[start : start + _BATCH])
        if progress is not None:
            progress(min(start + _BATCH, total), total)


def create_empty(
    backend: StorageBackend,
    meta: RootMetadata,
    *,
    mode: str,
    consolidate: bool,
    lock_timeout: float | None = None,
) -> None:
    """An empty store (root and an empty level 0), for ``create_store``."""
    if mode == "w-":
        for key in backend.list_prefix("", recursive=True):
            if not is_private(key):
                raise StoreExistsError(
                    f"{backend.url} is not empty; pass mode='w' to replace what is there"
                )
    with take_store(backend, wait=lock_timeout, summary="zarr-vectors: create store") as lease:
        if lease.doc is not None and mode == "w-":
            raise StoreExistsError(
                f"a store was created at {backend.url} by another writer meanwhile; "
                "pass mode='w' to replace it"
            )
        old = lease.doc
        generation = (_generation_of(old) if old is not None else 0) + 1
        meta = replace(meta, generation=generation)
        level = group_json(LevelMetadata(level=0, vertex_count=0).to_attributes())
        if old is not None and not is_transactional(backend):
            with contextlib.suppress(StoreError):  # a readable old store: repair, then swap
                snap = snapshot_from_doc(backend, old)
                old = recover(backend, snap, lease).root_doc
            _swap_in(
                backend, old, meta, lease, lambda prefix: {"0": level}, consolidate=consolidate
            )
            return
        _clear(backend, keep=())
        backend.put_bytes("0/zarr.json", dump_json(level))
        _record(backend, generation, Pending("w"))
        consolidated = {"0": level} if consolidate else None
        lease.release(journal.root_document(meta, consolidated=consolidated))


def rewrite_root(
    backend: StorageBackend,
    change: Any,
    *,
    lock_timeout: float | None = None,
) -> Any:
    """Rewrite the committed root under the lease: ``change(snapshot) -> (root_doc, result)``."""
    with take_store(backend, wait=lock_timeout, summary="zarr-vectors: update root") as lease:
        if lease.doc is None:
            raise StoreError(f"no Zarr Vectors store at {backend.url}: it has no root zarr.json")
        snap = snapshot_from_doc(backend, lease.doc)
        if snap.pending is not None:
            snap = recover(backend, snap, lease)
        doc, result = change(snap)
        lease.release(doc)
        return result


def _generation_of(doc: Mapping[str, Any]) -> int:
    writer = (doc.get("attributes") or {}).get(WRITER_KEY) or {}
    try:
        return int(writer.get("generation", 0))
    except (TypeError, ValueError):
        return 0


def _level_doc(level: int, count: int, *, attrs: bool) -> dict[str, Any]:
    lm = LevelMetadata(
        level=level,
        vertex_count=count,
        arrays_present=("vertices", "vertex_attributes") if attrs else ("vertices",),
        coarsening_method="none" if level == 0 else "grid_centroid",
        parent_level=None if level == 0 else level - 1,
    )
    return group_json(lm.to_attributes())
