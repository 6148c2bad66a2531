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
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from zarr_vectors.exceptions import (
    CorruptStoreError,
    StoreError,
    StoreExistsError,
    ValidationError,
)
from zarr_vectors.format import journal
from zarr_vectors.format.appending import _append, _check_append
from zarr_vectors.format.journal import (
    ROOT_KEY,
    Pending,
    is_private,
)
from zarr_vectors.format.lease import RootLease
from zarr_vectors.format.metadata import (
    LevelMetadata,
    RootMetadata,
    dump_json,
    group_json,
)
from zarr_vectors.format.plan import WritePlan
from zarr_vectors.format.recovery import recover
from zarr_vectors.format.snapshot import Snapshot, parse_json_doc, snapshot_from_doc
from zarr_vectors.format.staging import (
    _create,
    _replace,
    abandon_first_write,
    clear_store,
    swap_in,
)
from zarr_vectors.format.store_transaction import (
    check_joinable,
    is_transactional,
    run_write,
    take_store,
    write_summary,
)
from zarr_vectors.format.validate import check_inside
from zarr_vectors.format.writesteps import (
    CommitResult,
    _generation_of,
    read_record,
    record_commit,
)
from zarr_vectors.storage.base import StorageBackend

__all__ = [
    "CommitResult",
    "commit_write",
    "create_empty",
    "current_store",
    "locked_store",
    "read_record",
    "recover",
    "rewrite_root",
]


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
    before = current_store(backend, plan.mode)
    if before is not None and plan.mode == "a":
        _check_append(before, plan)  # refused here, nothing is touched
    if before is None and plan.meta is None:
        raise _no_chunk_shape()  # appending to nothing: refused before the lease is taken
    with take_store(backend, wait=lock_timeout, summary=write_summary(plan)) as lease:
        try:
            return _under_lease(backend, plan, lease)
        except BaseException:
            if lease.doc is None:
                abandon_first_write(backend, lease, clear=False)  # there was no root: none
            raise


def _no_chunk_shape() -> ValidationError:
    return ValidationError(
        "chunk_shape is required to create a store (there is none to append to), "
        "e.g. chunk_shape=(200.0,) * 3; nothing was written"
    )


def _under_lease(backend: StorageBackend, plan: WritePlan, lease: RootLease) -> CommitResult:
    """The write, once the store is held: repair, then append, create or replace."""
    snap = locked_store(backend, lease, plan.mode)
    if snap is not None and snap.pending is not None:
        snap = recover(backend, snap, lease)
    if plan.mode == "a" and snap is not None:
        return _append(backend, snap, plan, lease)
    if plan.meta is None:  # appending to nothing: a chunk shape is needed after all
        raise _no_chunk_shape()
    if plan.mode == "a":
        check_inside(plan.positions, plan.meta, append=False)
    generation = snap.meta.generation + 1 if snap is not None else 1
    meta = replace(plan.meta, generation=generation)
    if snap is not None and not is_transactional(backend):
        return _replace(backend, snap, meta, plan, lease)
    # A transaction replaces in place: nobody sees the store before it commits.
    return _create(backend, meta, plan, lease)


def current_store(backend: StorageBackend, mode: str) -> Snapshot | None:
    """The store already there, checked against ``mode`` without taking the lease."""
    raw = backend.get_many([ROOT_KEY]).get(ROOT_KEY)
    if raw is None:
        key = _foreign_key(backend) if mode != "w" else None
        # The root was read before the listing: a writer that began creating the
        # store in between has a root by now, and the lease decides between us.
        if key is not None and backend.get_many([ROOT_KEY]).get(ROOT_KEY) is None:
            raise _foreign_data(backend, key)
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
    try:
        pending = Pending.from_root(doc)
    except CorruptStoreError:
        return False  # a garbage writer record: not a first write; reading it says so
    return pending is not None and pending.mode == "w" and not pending.staged


def _foreign_key(backend: StorageBackend) -> str | None:
    """A key at ``backend`` that no store root accounts for, if there is one."""
    for key in backend.list_prefix("", recursive=True):
        if key != ROOT_KEY and not is_private(key):
            return key
    return None


def _foreign_data(backend: StorageBackend, key: str) -> StoreExistsError:
    return StoreExistsError(
        f"{backend.url} already holds data that is not a Zarr Vectors store "
        f"(e.g. {key!r}); choose an empty location or pass mode='w' to replace it"
    )


def _refuse_foreign_data(backend: StorageBackend) -> None:
    key = _foreign_key(backend)
    if key is not None:
        raise _foreign_data(backend, key)


def locked_store(backend: StorageBackend, lease: RootLease, mode: str) -> Snapshot | None:
    """The store as found once the lease is held (it may have changed since the check)."""
    doc = lease.doc
    if doc is None:
        if mode != "w" and not lease.unreadable_root:
            _refuse_foreign_data(backend)
        return None
    if _first_write(doc):
        # A first write that never finished: nothing of it is a store yet.
        clear_store(backend, keep=())
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
            swap_in(backend, old, meta, lease, lambda prefix: {"0": level}, consolidate=consolidate)
            return
        clear_store(backend, keep=())
        backend.put_bytes("0/zarr.json", dump_json(level))
        record_commit(backend, generation, Pending("w"))
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
