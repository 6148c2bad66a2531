"""Recovery: what an unfinished write left, repaired by the next writer under the lease."""

from __future__ import annotations

from typing import Any

import numpy as np

from zarr_vectors.format import journal
from zarr_vectors.format.cellio import ArrayLayout, cells_to_objects
from zarr_vectors.format.cells import codec_chain
from zarr_vectors.format.cellsums import TABLE, known_checksums, table_for
from zarr_vectors.format.grid import group_by_cell
from zarr_vectors.format.journal import (
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
)
from zarr_vectors.format.metadata import (
    dump_json,
    group_json,
)
from zarr_vectors.format.scaled import Scaling
from zarr_vectors.format.snapshot import Snapshot, snapshot_from_doc
from zarr_vectors.format.staging import _move_into_place
from zarr_vectors.format.writesteps import _cell_codecs, _with_pending
from zarr_vectors.storage.base import StorageBackend

__all__ = ["recover"]


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
    sums: dict[str, dict[str, int]] = {}  # per attribute path, the cells' checksums
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
                scaling=Scaling.of_attrs(vdoc["attributes"]),
            )
            objects, emptied = cells_to_objects(snap, layouts, enc.chunks)
            backend.put_many(objects)
            if emptied:
                backend.delete_many(emptied)
            sums = {f"{level}/{ATTRIBUTES}/{n}": s for n, s in enc.checksums.items()}
        for path in [
            f"{level}/{VERTICES}",
            f"{level}/{FRAGMENTS}",
            *(f"{level}/{ATTRIBUTES}/{n}" for n in names),
        ]:
            node = snap.node(path)
            if node is not None:
                # The cut-back cells' checksums are new; the others' stay as listed.
                known = {**known_checksums(node["attributes"]), **sums.get(path, {})}
                attributes = {**node["attributes"], "nonempty_chunks": nonempty}
                attributes.pop(TABLE, None)
                if TABLE in node["attributes"] and (table := table_for(nonempty, known)):
                    attributes[TABLE] = table
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
