"""Steps every write of :mod:`zarr_vectors.format.transaction` shares.

The journal entry in the root (:func:`_with_pending`), the commit records for
readers holding older snapshots (:func:`record_commit`, :func:`_prune_log`,
:func:`read_record`), cell objects put in batches that check the lease between
them (:func:`put_chunks`), and the small documents a write makes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zarr_vectors.exceptions import (
    CorruptStoreError,
)
from zarr_vectors.format.journal import (
    LOG_KEEP,
    LOG_PREFIX,
    Pending,
    log_key,
)
from zarr_vectors.format.lease import RootLease
from zarr_vectors.format.metadata import (
    WRITER_KEY,
    LevelMetadata,
    dump_json,
    group_json,
)
from zarr_vectors.format.plan import Progress
from zarr_vectors.format.store_transaction import (
    is_transactional,
)
from zarr_vectors.storage.base import StorageBackend

__all__ = ["CommitResult", "put_chunks", "read_record", "record_commit"]


#: Cell objects written per batch between two checks of the lease.
_BATCH = 2048


@dataclass(frozen=True)
class CommitResult:
    """What a committed write did."""

    vertices_written: int
    vertex_count: int
    cells_written: int
    levels: int


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


def record_commit(backend: StorageBackend, generation: int, change: Pending) -> None:
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


def put_chunks(
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
