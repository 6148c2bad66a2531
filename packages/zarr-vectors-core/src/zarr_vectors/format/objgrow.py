"""Objects added to cells that already hold some: the joins an append and a streamed write share.

A level of objects (:mod:`.objects`) is cells plus an object index. New
objects can be added without touching the cells they do not touch: encoded
with :func:`~zarr_vectors.format.objects.encode_objects` ``bases=`` (their
rows, fragments and link rows numbered after what each cell holds), each cell
they touch is the old payload followed by the new one, joined by the rules of
its array (:func:`join_payloads`): rows of vertices, attributes and links
within a cell follow one another, fragment tables are appended (the later
ones' link ranges moved past the earlier rows), cross-cell link cells are one
group of all their rows. The documents add up (:func:`join_docs`): listed
cells are the union, counts the sum.

An append (:mod:`.objappend`) joins a cell's committed payload with the new
one; a streamed write (:mod:`.objstream`) joins the payloads its batches
spilled. Cells a join cannot extend (Draco-encoded vertices, fragments that
are not ranges) raise :class:`CannotGrow`, and the caller rewrites the level
instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.format.links import decode_link_cell, encode_cross_cell
from zarr_vectors.format.objects import decode_fragment_table, encode_fragment_ranges

__all__ = ["CannotGrow", "CellTally", "join_docs", "join_payloads"]


class CannotGrow(Exception):
    """A cell that cannot be extended in place: the level is rewritten whole instead."""


def _kind(path: str) -> str:
    """Which joining rule the cell array at ``path`` follows."""
    if path.endswith("/vertex_fragments"):
        return "fragments"
    if path.endswith("/link_fragments"):
        return "link_fragments"
    if "/links/0/" in path:
        return "links"
    return "rows"


def _ranges(blob: bytes, where: str) -> npt.NDArray[np.int64]:
    table = decode_fragment_table(blob, where)
    if isinstance(table, list):
        raise CannotGrow(f"{where}: fragments that are not ranges")
    return table


def join_payloads(path: str, doc: Mapping[str, Any], parts: Sequence[bytes]) -> bytes:
    """One cell of the array at ``path`` (document ``doc``): ``parts`` in order, joined.

    Every part after the first was encoded with ``bases`` counting the parts
    before it, so its vertex rows and fragment starts are already numbered.
    """
    if len(parts) == 1:
        return bytes(parts[0])
    attrs = doc.get("attributes", {})
    kind = _kind(path)
    if kind == "rows":
        if path.endswith("/vertices") and attrs.get("encoding", "raw") != "raw":
            raise CannotGrow(f"{path}: {attrs.get('encoding')}-encoded cells")
        return b"".join(parts)
    if kind == "fragments":
        tables = [_ranges(p, path) for p in parts]
        joined = np.concatenate(tables)
        return encode_fragment_ranges(joined[:, 0], joined[:, 1])
    if kind == "link_fragments":
        # Each part's one range counts its own intra-cell link rows, from 0.
        tables, at = [], 0
        for p in parts:
            t = _ranges(p, path).copy()
            t[:, 0] += at
            at += int(t[:, 1].sum())
            tables.append(t)
        joined = np.concatenate(tables)
        return encode_fragment_ranges(joined[:, 0], joined[:, 1])
    offsets = np.asarray(attrs.get("offsets", [0]), dtype=np.int64)
    width = int(attrs.get("link_width", 2))
    if not offsets.any():  # links within one cell: plain rows
        return b"".join(parts)
    columns = width + (1 if attrs.get("has_perm") else 0)
    rows = [
        decode_link_cell(p, intra=False, columns=columns, dtype=np.dtype("<i8"), where=path)
        for p in parts
    ]
    return encode_cross_cell(np.concatenate(rows))


class CellTally:
    """Rows and fragments each cell holds so far: the ``bases`` of the next encoding."""

    def __init__(self) -> None:
        self._held: dict[tuple[int, ...], tuple[int, int]] = {}

    def set(self, cell: tuple[int, ...], rows: int, frags: int) -> None:
        self._held[cell] = (rows, frags)

    def bases(
        self, world: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        got = [self._held.get(tuple(c), (0, 0)) for c in world.tolist()]
        arr = np.asarray(got, dtype=np.int64).reshape(-1, 2)
        return arr[:, 0].copy(), arr[:, 1].copy()

    def add(
        self,
        world: npt.NDArray[np.int64],
        rows: npt.NDArray[np.int64],
        frags: npt.NDArray[np.int64],
    ) -> None:
        for c, r, f in zip(world.tolist(), rows.tolist(), frags.tolist(), strict=True):
            held = self._held.get(tuple(c), (0, 0))
            self._held[tuple(c)] = (held[0] + r, held[1] + f)


#: Counts in documents that add up when objects are added.
_SUMMED = ("num_links", "num_physical_records")


def join_docs(
    old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The documents of a level holding ``old``'s objects and ``new``'s.

    Cell arrays list the union of their cells; link counts and the level's
    vertex count add up. The object index's own documents are made again from
    all the objects by the caller.
    """
    out = {p: dict(d) for p, d in old.items()}
    for path, doc in new.items():
        was = out.get(path)
        if was is None:
            out[path] = dict(doc)
            continue
        a, b = dict(was.get("attributes", {})), doc.get("attributes", {})
        if "nonempty_chunks" in a or "nonempty_chunks" in b:
            a["nonempty_chunks"] = sorted(
                set(a.get("nonempty_chunks") or []) | set(b.get("nonempty_chunks") or [])
            )
        for key in _SUMMED:
            if key in a and key in b:
                a[key] = int(a[key]) + int(b[key])
        lvl = a.get("zarr_vectors_level")
        if isinstance(lvl, Mapping) and isinstance(b.get("zarr_vectors_level"), Mapping):
            merged = dict(lvl)
            merged["vertex_count"] = int(lvl.get("vertex_count", 0)) + int(
                b["zarr_vectors_level"].get("vertex_count", 0)
            )
            present = list(lvl.get("arrays_present") or [])
            present += [
                x for x in b["zarr_vectors_level"].get("arrays_present") or [] if x not in present
            ]
            merged["arrays_present"] = present
            a["zarr_vectors_level"] = merged
        out[path] = {**was, "attributes": a}
    return out
