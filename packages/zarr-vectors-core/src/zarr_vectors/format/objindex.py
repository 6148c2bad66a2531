"""The object index of a level grown by appended objects, reading only its tail.

A level's object index (``object_index/object_ids``, ``object_index/manifests``)
and its object attributes are 1-D arrays over object rows, ids ascending
(:func:`~zarr_vectors.format.objects.encode_object_index`). Appended objects
whose ids follow every stored one take the rows after the last: only the last
chunk of each array changes, and new chunks follow it. Ids among the stored
ones move the rows after them, so the chunks from the first moved row on
change. Either way the rows before stay where they are, and their chunks are
neither read nor written:

* ``object_ids`` is read from its last chunk backwards, until a chunk starts
  below the smallest new id (usually the last chunk is enough); every stored
  id that could equal a new one is in what was read, so the check that the
  ids are new needs nothing more;
* the manifests and object attributes are read from the chunk of the first
  moved row on.

An array of one chunk shorter than the usual chunk (a small store, or one
written by 0.9.2, whose chunk is its length) is written again with the chunk a
fresh write of all the rows would have; reading it is reading its one chunk.
The cost of an append is then a few chunks of the index, not the index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format import objects
from zarr_vectors.format.objarrays import plain_chunks, read_plain, read_vlen, vlen_chunks
from zarr_vectors.format.snapshot import Snapshot
from zarr_vectors.format.validate import check_fits

__all__ = ["grow_object_index"]

Docs = dict[str, dict[str, Any]]
Chunks = list[tuple[str, bytes]]


def _rows_per_chunk(doc: Mapping[str, Any]) -> int:
    return int(doc["chunk_grid"]["configuration"]["chunk_shape"][0])


def _stored_tail(
    snap: Snapshot, path: str, doc: Mapping[str, Any], first: int, sorted_ids: bool
) -> tuple[int, npt.NDArray[np.int64]]:
    """``(t0, ids[t0:])``: stored ids from a chunk start ``t0`` that holds no id at or
    above ``first`` before it (all of them if the ids are not known to be sorted)."""
    n = int(doc["shape"][0])
    per = _rows_per_chunk(doc)
    if n == 0:
        return 0, np.zeros(0, np.int64)
    c = (n - 1) // per if sorted_ids else 0
    tail = read_plain(snap, path, doc, np.arange(c * per, n)).astype(np.int64)
    while c > 0 and tail[0] > first:
        c -= 1
        before = read_plain(snap, path, doc, np.arange(c * per, (c + 1) * per))
        tail = np.concatenate([before.astype(np.int64), tail])
    return c * per, tail


def grow_object_index(
    snap: Snapshot,
    docs: Mapping[str, Mapping[str, Any]],
    level: str,
    ids: npt.NDArray[np.int64],
    manifests: Sequence[bytes],
    object_attributes: Mapping[str, npt.NDArray[Any]],
) -> tuple[Docs, Chunks]:
    """The index documents and the chunks that change when ``ids`` are added.

    ``ids`` are the new objects' ids, ascending and unique, with their
    ``manifests`` and ``object_attributes`` in the same order. Raises
    :class:`~zarr_vectors.exceptions.ValidationError` when an id is already
    stored, before anything is written.
    """
    oi = f"{level}/object_index"
    ids_path = f"{oi}/object_ids"
    ids_doc = docs[ids_path]
    head = dict(docs[oi].get("attributes", {}))
    n_old, n_new = int(ids_doc["shape"][0]), len(ids)
    sorted_ids = bool(head.get("object_ids_sorted", True))
    t0, tail = _stored_tail(snap, ids_path, ids_doc, int(ids[0]), sorted_ids)
    if sorted_ids:  # a binary search of the new ids among the stored tail
        at = np.minimum(np.searchsorted(tail, ids), max(len(tail) - 1, 0))
        dup = ids[tail[at] == ids] if len(tail) else tail
    else:
        dup = ids[np.isin(ids, tail)]
    if dup.size:
        raise ValidationError(
            f"object id {int(dup[0])} is already in the store; appended objects need new ids"
        )
    r0 = t0 + int(np.searchsorted(tail, ids[0])) if sorted_ids else 0
    # The rows from r0 on: the stored ones there and the new ones, by id.
    order = np.argsort(np.concatenate([tail[r0 - t0 :], ids]), kind="stable")
    out_docs: Docs = {}
    chunks: Chunks = []

    def grow(path: str, standard: int, read: Any, new: Any, encode: Any) -> None:
        doc = docs[path]
        per = _rows_per_chunk(doc)
        if n_old <= per and per < standard:  # one short chunk: as a fresh write would
            per, start = min(standard, n_old + n_new), 0
        else:
            start = (r0 // per) * per
        old, keep = read(path, doc, start), r0 - start
        values: Any
        if isinstance(new, list):  # manifests
            moved = list(old[keep:]) + new
            values = list(old[:keep]) + [moved[i] for i in order.tolist()]
        else:
            values = np.concatenate([old[:keep], np.concatenate([old[keep:], new])[order]])
        new_doc = dict(doc)
        new_doc["shape"] = [n_old + n_new, *doc["shape"][1:]]
        grid = doc["chunk_grid"]["configuration"]["chunk_shape"]
        new_doc["chunk_grid"] = {
            "name": "regular",
            "configuration": {"chunk_shape": [per, *grid[1:]]},
        }
        attrs = dict(doc.get("attributes", {}))
        if isinstance(attrs.get("shape"), list) and attrs["shape"]:
            attrs["shape"] = [n_old + n_new, *attrs["shape"][1:]]
        new_doc["attributes"] = attrs
        new_doc["codecs"], tail_codecs = encode(doc)
        out_docs[path] = new_doc
        chunks.extend(_encode(path, values, per, tail_codecs, start // per, doc.get("fill_value")))

    def old_ids(path: str, doc: Mapping[str, Any], start: int) -> npt.NDArray[np.int64]:
        if start >= t0:
            return tail[start - t0 :]
        return read_plain(snap, path, doc, np.arange(start, n_old)).astype(np.int64)

    def plain(path: str, doc: Mapping[str, Any], start: int) -> npt.NDArray[Any]:
        return read_plain(snap, path, doc, np.arange(start, n_old))

    def vlen(path: str, doc: Mapping[str, Any], start: int) -> list[bytes]:
        return [bytes(b) for b in read_vlen(snap, path, doc, np.arange(start, n_old))]

    def little(doc: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rest = [dict(c) for c in doc["codecs"][1:]]
        return [{"name": "bytes", "configuration": {"endian": "little"}}, *rest], rest

    def as_is(doc: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return [dict(c) for c in doc["codecs"]], [dict(c) for c in doc["codecs"][1:]]

    grow(ids_path, objects.OBJECT_ID_ROWS, old_ids, ids, little)
    grow(f"{oi}/manifests", objects.MANIFEST_ROWS, vlen, list(manifests), as_is)
    for name, values in object_attributes.items():
        path = f"{level}/object_attributes/{name}"
        dtype = np.dtype(docs[path]["data_type"])
        fitted = check_fits(f"object attribute {name!r}", np.asarray(values), dtype)
        grow(path, objects.OBJECT_ATTRIBUTE_ROWS, plain, fitted, little)
    head["num_objects"] = n_old + n_new
    if "num_present" in head:
        head["num_present"] = int(head["num_present"]) + sum(1 for m in manifests if len(m) > 4)
    out_docs[oi] = {**docs[oi], "attributes": head}
    return out_docs, chunks


def _encode(
    path: str, values: Any, per: int, tail: list[dict[str, Any]], first: int, fill: Any
) -> Chunks:
    if isinstance(values, list):
        return vlen_chunks(path, values, rows=per, tail_codecs=tail, first_chunk=first)
    fill = float("nan") if fill == "NaN" else fill
    return plain_chunks(path, values, rows=per, tail_codecs=tail, fill=fill, first_chunk=first)
