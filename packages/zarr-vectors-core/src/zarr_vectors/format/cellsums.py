"""Attribute cells bound to their keys: each cell's checksum listed in its array's metadata.

A cell's crc32c covers its bytes, not which cell they belong to. A vertices
cell is bound to its key by its own points (they lie in the cell's box:
:func:`~zarr_vectors.format.validate.check_in_cell`), but an attribute cell
holds values with no position, so two attribute cells of equal row counts
swapped by a restore or copy gone wrong would read as each other's values.

So the writer records, in each attribute array's ``zarr.json`` attributes,
the checksum of every cell it lists: ``cell_crc32c`` is a base64 string of
little-endian uint32 values, one per entry of the array's ``nonempty_chunks``
and in that order. A reader compares each fetched cell with its entry
(:meth:`CellTables.expected`); a cell holding another listed cell's bytes has
that cell's checksum (:meth:`CellTables.owner`), and is refused. A cell whose
checksum matches no listed cell was rewritten whole (its own crc32c holds) by a
writer that does not keep the table, such as the published 0.9.2's in-place
edits: it is read as it is, and ``verify`` warns of it
(:attr:`CellTables.unlisted`). The checksum is the one the cell's codec chain
stores as its last four bytes
(:meth:`~zarr_vectors.format.cells.CellCodec.checksum`), so neither side
computes anything for it.

The table is an array attribute like ``nonempty_chunks``: zarr-python and the
published 0.9.2 read attributes by name and pass over this one. Stores without
tables (written by 0.9.2, also after this package appended to them) read as
before, unchecked: an append writes a table only when it knows every cell's
checksum.
A table that does not fit its listing (another length, or an array whose
listing is not the vertices array's) is not used: it was not written with it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["TABLE", "CellTables", "known_checksums", "restrict_listing", "table_for"]

#: The array attribute holding the table.
TABLE = "cell_crc32c"


def table_for(listing: Sequence[str], checksums: Mapping[str, int]) -> str | None:
    """The table for the cells ``listing`` names, or ``None`` when one has no checksum known."""
    try:
        values = np.array([checksums[k] for k in listing], dtype="<u4")
    except (KeyError, OverflowError):
        return None
    return base64.b64encode(values.tobytes()).decode("ascii")


def _values(attrs: Mapping[str, Any]) -> npt.NDArray[np.uint32] | None:
    """The table of an array's attributes, if it has one that fits its listing."""
    text = attrs.get(TABLE)
    listing = attrs.get("nonempty_chunks")
    if not isinstance(text, str) or not isinstance(listing, list):
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 4 * len(listing):
        return None
    return np.frombuffer(raw, dtype="<u4")


def known_checksums(attrs: Mapping[str, Any]) -> dict[str, int]:
    """Each listed cell's checksum, by world key (empty when the array has no usable table)."""
    values = _values(attrs)
    if values is None:
        return {}
    return dict(zip(attrs["nonempty_chunks"], values.tolist(), strict=True))


def restrict_listing(attrs: Mapping[str, Any], cells: Sequence[str]) -> dict[str, Any]:
    """``attrs`` listing only ``cells`` (a subset), its table cut to match (a Dask read's share)."""
    out = {**attrs, "nonempty_chunks": list(cells)}
    out.pop(TABLE, None)
    known = known_checksums(attrs)
    if known and (table := table_for(cells, known)) is not None:
        out[TABLE] = table
    return out


class CellTables:
    """The tables of a level's attribute arrays, for the cells one read fetches.

    ``listing`` is the vertices array's ``nonempty_chunks``; ``at[i]`` is where
    the read's cell ``world[i]`` stands in it. An attribute array's table is
    used only when its own listing is that one. ``listed`` holds every listed
    cell and its place, for a caller that reads cells other than the planned
    ones (the Neuroglancer server plans a level once and reads any chunk of it).
    """

    def __init__(
        self,
        listing: object,
        docs: Mapping[str, Mapping[str, Any]],
        world: Sequence[tuple[int, ...]],
        at: npt.NDArray[np.intp],
        *,
        listed: tuple[npt.NDArray[Any], npt.NDArray[np.intp]] | None = None,
    ) -> None:
        self._positions: dict[tuple[int, ...], int] = {}
        self._listed = listed
        self._listing: list[str] = listing if isinstance(listing, list) else []
        self._owners: dict[int, tuple[str, str]] | None = None
        #: Cells whose checksum matched no listed cell (named by the reader): warnings.
        self.unlisted: list[str] = []
        self._tables: dict[str, list[int]] = {}
        for path, doc in docs.items():
            attrs = doc.get("attributes") or {}
            if attrs.get("nonempty_chunks") != listing:
                continue
            values = _values(attrs)
            if values is not None:
                self._tables[path] = values.tolist()  # list items are cheaper to index
        if self._tables:  # only then is the map worth making
            self._positions = dict(zip(world, at.tolist(), strict=True))

    def __bool__(self) -> bool:
        return bool(self._tables)

    def expected(self, path: str, world: tuple[int, ...]) -> int | None:
        """The checksum recorded for ``world``'s cell of array ``path`` (``None``: none)."""
        table = self._tables.get(path)
        if table is None:
            return None
        where = self._positions.get(world)
        if where is None and self._listed is not None:  # a cell outside the plan: map them all
            cells, at = self._listed
            self._positions = dict(zip(map(tuple, cells.tolist()), at.tolist(), strict=True))
            self._listed = None
            where = self._positions.get(world)
        if where is None:
            return None  # not a listed cell: nothing recorded to compare with
        return table[where]

    def owner(self, checksum: int) -> tuple[str, str] | None:
        """The array and world key of the listed cell whose checksum is ``checksum``, if any."""
        if self._owners is None:  # only once a cell did not match: never on a sound read
            self._owners = {}
            for path, table in self._tables.items():
                for key, value in zip(self._listing, table, strict=False):
                    self._owners.setdefault(value, (path, key))
        return self._owners.get(checksum)
