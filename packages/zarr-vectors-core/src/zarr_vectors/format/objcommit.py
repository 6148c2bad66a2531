"""The commit sequence for stores of objects (lines, polylines, graphs, ...).

The same guarantees as point clouds (:mod:`.transaction`), through the same
pieces: the write lease, a journal entry in the root, a crash-safe replace
(the new store staged under a private prefix and moved into place after the
commit) and commit records for readers holding an older snapshot. An
object store's level has more arrays than vertices (object index, links,
object attributes, groups) that change together, so every write here is a
create or a whole replace: an append of whole objects reads the committed
objects under the lease and writes the union as a replace, so a reader sees
the store before or after it, never between.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format import journal
from zarr_vectors.format.cellio import ArrayLayout, cells_to_objects
from zarr_vectors.format.journal import Pending
from zarr_vectors.format.metadata import RootMetadata, dump_json
from zarr_vectors.format.objects import EncodedObjects
from zarr_vectors.format.plan import Progress
from zarr_vectors.format.recovery import recover
from zarr_vectors.format.snapshot import Snapshot
from zarr_vectors.format.staging import clear_store, swap_in
from zarr_vectors.format.store_transaction import is_transactional, run_write, take_store
from zarr_vectors.format.transaction import current_store, locked_store
from zarr_vectors.format.writesteps import put_chunks, record_commit
from zarr_vectors.storage.base import StorageBackend

__all__ = ["ObjectRootMetadata", "commit_objects"]

#: ``build(snapshot or None) -> (root metadata, encoded level)``, run under the lease.
Build = Callable[[Snapshot | None], tuple[RootMetadata, EncodedObjects]]


@dataclass(frozen=True)
class ObjectRootMetadata(RootMetadata):
    """Root metadata of an object store: its links convention is the geometry's own.

    0.9.2 writes ``implicit_sequential`` for lines and polylines,
    ``implicit_sequential_with_branches`` for skeletons (a vertex's parent is the
    row before it unless a link says otherwise) and ``explicit`` for graphs.
    """

    links_convention: str = "implicit_sequential"

    def to_attributes(self, name: str = "zarr_vectors") -> dict[str, Any]:
        attrs = super().to_attributes(name)
        attrs["zarr_vectors"]["links_convention"] = self.links_convention
        return attrs


def commit_objects(
    backend: StorageBackend,
    mode: str,
    build: Build,
    *,
    consolidate: bool = True,
    lock_timeout: float | None = None,
    progress: Progress | None = None,
) -> EncodedObjects:
    """Create (``"w-"``), replace (``"w"``) or append to (``"a"``) the store at ``backend``.

    On a transactional backend the write is one transaction of the backend's
    (:mod:`~zarr_vectors.format.store_transaction`), replaced in place, and an
    append whose commit lost to another writer's is built and written again.
    """

    def attempt() -> EncodedObjects:
        return _commit_objects(backend, mode, build, consolidate, lock_timeout, progress)

    return run_write(backend, attempt, retry=mode == "a")


def _commit_objects(
    backend: StorageBackend,
    mode: str,
    build: Build,
    consolidate: bool,
    lock_timeout: float | None,
    progress: Progress | None,
) -> EncodedObjects:
    before = current_store(backend, mode)
    if mode == "a" and before is not None:
        build(before)  # an append refused by the store as it is fails here, untouched
    summary = f"zarr-vectors: {'append' if mode == 'a' else 'write'} objects"
    with take_store(backend, wait=lock_timeout, summary=summary) as lease:
        snap = locked_store(backend, lease, mode)
        if snap is not None and snap.pending is not None:
            snap = recover(backend, snap, lease)
        meta, enc = build(snap if mode == "a" else None)
        generation = snap.meta.generation + 1 if snap is not None else 1
        meta = replace(meta, generation=generation)
        layouts = {p: ArrayLayout(p, enc.docs[p]) for p in enc.cell_arrays}

        # An overlay (an append of whole objects) merges its cells into the old shards.
        base = snap if enc.overlay_of is not None else None

        def write(prefix: str) -> dict[str, dict[str, Any]]:
            puts, _ = cells_to_objects(base, layouts, enc.chunks, prefix=prefix)
            put_chunks(backend, puts, progress, lease)
            for batch in enc.chunk_batches() if enc.chunk_batches is not None else ():
                # An overlay's batches merge into the old shards too (a streamed append).
                puts, _ = cells_to_objects(base, layouts, batch, prefix=prefix)
                put_chunks(backend, puts, None, lease)
            return enc.docs

        transactional = is_transactional(backend)
        if snap is not None and not transactional:
            swap_in(
                backend,
                snap.root_doc,
                meta,
                lease,
                write,
                consolidate=consolidate,
                overlay_of=enc.overlay_of,
            )
            return enc
        if mode == "a" and before is None and not enc.vertex_count:
            raise ValidationError("nothing to append to and nothing to write")
        old_docs = enc.overlay_of or {}
        if enc.overlay_of is None:
            clear_store(backend, keep=())
        node_docs = [
            (journal.node_key(p), dump_json(d)) for p, d in enc.docs.items() if old_docs.get(p) != d
        ]
        if transactional:  # Icechunk takes a chunk only into an array it holds
            backend.put_many(node_docs)
        docs = write("")
        if not transactional:
            backend.put_many(node_docs)
        record_commit(backend, meta.generation, Pending("w"))
        lease.release(journal.root_document(meta, consolidated=docs if consolidate else None))
        return enc
