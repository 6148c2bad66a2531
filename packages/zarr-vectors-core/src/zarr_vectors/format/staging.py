"""Create and replace: a new store's cells, written in place or staged beside the old one.

A first write puts its cells where they belong (nobody reads a store being
created); a replace stages the new store under ``.zv-staged-*`` and swaps it in
(:func:`swap_in`), so that one of the two stores is always whole. Streaming
input is spilled to disk in partitions of whole cells (:func:`_partitions`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from zarr_vectors.exceptions import (
    ValidationError,
)
from zarr_vectors.format import journal
from zarr_vectors.format.cellio import ArrayLayout, cells_to_objects
from zarr_vectors.format.grid import group_by_cell
from zarr_vectors.format.journal import (
    CLAIMS_PREFIX,
    LOG_PREFIX,
    PRIVATE_PREFIX,
    ROOT_KEY,
    Pending,
    is_private,
    log_key,
)
from zarr_vectors.format.lease import RootLease
from zarr_vectors.format.levels import (
    encode_level,
    level_array_docs,
    shard_docs,
)
from zarr_vectors.format.metadata import (
    RootMetadata,
    dump_json,
)
from zarr_vectors.format.plan import Batch, Progress, WritePlan
from zarr_vectors.format.scaled import Scaling
from zarr_vectors.format.snapshot import Snapshot
from zarr_vectors.format.store_transaction import (
    is_transactional,
)
from zarr_vectors.format.validate import check_inside
from zarr_vectors.format.writesteps import (
    _BATCH,
    CommitResult,
    _level_doc,
    _prune_log,
    _with_pending,
    put_chunks,
    record_commit,
)
from zarr_vectors.storage.base import StorageBackend

__all__ = ["clear_store", "swap_in"]


@dataclass
class _LevelTotals:
    """What the cells written for one level add up to (for its documents)."""

    count: int = 0
    nonempty: set[str] = field(default_factory=set)
    #: Per attribute, each written cell's checksum by world key (``format.cellsums``).
    checksums: dict[str, dict[str, int]] = field(default_factory=dict)


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

    def carried(level: int) -> list[str]:
        """The attributes stored at ``level`` (coarse levels: ``plan.coarse_attributes``)."""
        wanted = plan.coarse_attributes
        return [n for n in attributes if level == 0 or wanted is None or n in wanted]

    def scaling(level: int) -> Scaling | None:
        """Level 0's integers' scaling, or a coarse level's coarser one (``Scaling.coarser``)."""
        if plan.scaling is None or level == 0:
            return plan.scaling
        return plan.scaling.coarser([b * 2.0**level for b in meta.bin_shape])

    def level_docs(
        level: int, nonempty: list[str], checksums: dict[str, dict[str, int]] | None = None
    ) -> dict[str, dict[str, Any]]:
        docs = level_array_docs(
            str(level),
            dtype=str(plan.positions.dtype),
            attributes={n: (str(layout[n][0]), list(layout[n][1])) for n in carried(level)},
            origin=meta.grid_origin(),
            grid_shape=meta.grid_shape(),
            codecs=plan.codecs,
            nonempty=nonempty,
            checksums=checksums,
            scaling=scaling(level),
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
            str(level): _level_doc(level, 0, attrs=bool(carried(level)))
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
        for totals, (count, nonempty, checksums) in zip(levels, written, strict=True):
            totals.count += count
            totals.nonempty.update(nonempty)
            for name, sums in checksums.items():
                totals.checksums.setdefault(name, {}).update(sums)
    for positions, attrs in _partitions(meta, plan):
        for level, totals in enumerate(levels):
            level_pos, level_attrs = positions, attrs
            if level:
                if plan.coarsen is None:
                    raise ValidationError("levels > 1 needs a coarsening rule for this geometry")
                # Coarse points carry the attributes of a point of their bin, so a viewer
                # colours an overview by intensity, class or colour as it does level 0.
                level_pos, rows = plan.coarsen(positions, meta.bin_shape, 2.0**level)
                level_attrs = {n: attrs[n][rows] for n in carried(level)}
                coarse = scaling(level)
                if coarse is not None:  # centroids to the level's integer grid
                    level_pos = coarse.snap(level_pos)
            enc = encode_level(
                str(level),
                level_pos,
                group_by_cell(level_pos, meta.chunk_shape),
                level_attrs,
                origin=meta.grid_origin(),
                grid_shape=meta.grid_shape(),
                codecs=plan.codecs,
                scaling=scaling(level),
            )
            totals.count += len(level_pos)
            totals.nonempty.update(enc.nonempty)
            for name, sums in enc.checksums.items():
                totals.checksums.setdefault(name, {}).update(sums)
            chunks, _ = cells_to_objects(None, layouts, enc.chunks, prefix=prefix)
            report = None
            if plan.progress is not None and level == 0:
                report = _points_progress(plan.progress, placed, len(positions), total)
            put_chunks(backend, chunks, report, lease)
        placed += len(positions)
    docs: dict[str, dict[str, Any]] = {}
    for level, totals in enumerate(levels):
        docs[str(level)] = _level_doc(level, totals.count, attrs=bool(carried(level)))
        docs.update(level_docs(level, sorted(totals.nonempty), totals.checksums))
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
    clear_store(backend, keep=())  # a replace of foreign data ("w"), or leftovers
    try:
        docs, levels = _write_cells(backend, meta, plan, lease)
        backend.put_many([(journal.node_key(p), dump_json(d)) for p, d in docs.items()])
        record_commit(backend, meta.generation, Pending("w"))
        root = journal.root_document(meta, consolidated=docs if plan.consolidate else None)
        lease.release(root)
    except BaseException:
        abandon_first_write(backend, lease, clear=True)
        raise
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

    swap_in(backend, old.root_doc, meta, lease, write, consolidate=plan.consolidate)
    levels = written[0]
    n = levels[0].count
    return CommitResult(n, n, len(levels[0].nonempty), len(meta.levels))


def swap_in(
    backend: StorageBackend,
    old_root: Mapping[str, Any],
    meta: RootMetadata,
    lease: RootLease,
    write: Callable[[str], dict[str, dict[str, Any]]],
    *,
    consolidate: bool,
    overlay_of: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Replace the store whose root is ``old_root`` by the one ``write(prefix)`` stages.

    ``write`` puts the new store's cells under ``prefix`` and returns its node
    documents. Until the commit (the root switched to the new metadata, journal
    state "moving") readers see the old store untouched; after it, the new one,
    staged objects first; then the staged objects are moved into place.

    ``overlay_of`` (the old store's node documents) makes the new store the old
    one with only the staged objects changed: ``write`` stages just those, the
    documents staged are those that differ, and nothing of the old store is
    deleted when they are moved into place.
    """
    staged = f"{PRIVATE_PREFIX}staged-{uuid.uuid4().hex[:12]}"
    overlay = overlay_of is not None
    lease.put(
        _with_pending(old_root, Pending("w", staged=staged, state="writing", overlay=overlay))
    )
    try:
        docs = write(f"{staged}/")
        old_docs = overlay_of or {}
        backend.put_many(
            [
                (f"{staged}/{journal.node_key(p)}", dump_json(d))
                for p, d in docs.items()
                if old_docs.get(p) != d
            ]
        )
        record_commit(backend, meta.generation, Pending("w"))
    except BaseException:
        _drop_staged(backend, old_root, staged, meta.generation, lease)
        raise
    consolidated = docs if consolidate else None
    moving = Pending("w", staged=staged, state="moving", overlay=overlay)
    committed = journal.root_document(meta, pending=moving, consolidated=consolidated)
    lease.put(committed)
    # Committed: readers now see the new store (staged first). Move it into place.
    _move_into_place(backend, committed, moving, lease)
    lease.release(journal.root_document(meta, consolidated=consolidated))
    _prune_log(backend, meta.generation)


def _drop_staged(
    backend: StorageBackend,
    old_root: Mapping[str, Any],
    staged: str,
    generation: int,
    lease: RootLease,
) -> None:
    """A replace that failed before its commit: its staged copy goes, the old store stays.

    Deleting the staged objects first also frees the space a full disk needs
    for the root write that gives the lease back. Best effort: whatever is left
    is named by the root's journal entry, and the next writer (or ``verify
    --repair``) deletes it. The root's journal entry is cleared only once the
    staged copy is gone.
    """
    if isinstance(lease, RootLease) and not lease.held:
        return  # lost: the writer that took over repairs (the fence refuses our deletes)
    try:
        backend.delete_prefix(staged)
        backend.delete_many([log_key(generation)])  # the record of a commit that never was
        lease.put(_with_pending(old_root, None))
    except Exception:
        return


def abandon_first_write(backend: StorageBackend, lease: RootLease, *, clear: bool) -> None:
    """A first write that failed leaves the location as it found it: no root, nothing of it.

    ``clear``: the write had cleared the location (it holds only what this
    write put), so everything but the log and claims is deleted too. Best
    effort: if it fails, the placeholder root stays, and readers and the next
    writer treat the location as an unfinished first write.
    """
    if is_transactional(backend) or not isinstance(lease, RootLease) or not lease.held:
        return  # a transaction aborts by itself; a lost lease is the new holder's to repair
    try:
        if clear:
            clear_store(backend, keep=())
        lease.drop_root()
    except Exception:
        return


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
    if not pending.cleared and not pending.overlay:
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


def clear_store(backend: StorageBackend, *, keep: Iterable[str]) -> None:
    """Delete every object but the root, this package's log, writers' claims and ``keep``."""
    kept = {ROOT_KEY, *keep}
    backend.delete_many(
        k
        for k in backend.list_prefix("", recursive=True)
        if k not in kept
        and not k.startswith(f"{LOG_PREFIX}/")
        and not k.startswith(f"{CLAIMS_PREFIX}/")
    )
