"""The write journal and the root document that carries it.

Every write follows one order (run by :mod:`zarr_vectors.format.transaction`),
so that a failure half way never shows a reader a mix of old and new cells:

1. put the root ``zarr.json`` with a ``pending`` journal entry saying what is
   about to change (for an append: every touched cell and its old row count);
2. put the chunk data;
3. put the arrays' and levels' ``zarr.json`` documents;
4. put the root ``zarr.json`` again: new metadata, refreshed consolidated
   metadata, journal entry removed, write generation bumped.

A single-object put is atomic on every backend, so the root is always either
the old state plus a journal entry (readers cut touched cells back to their
old row counts, see :meth:`Pending.row_limits`) or the new state. This module
owns what the entry says and how the root document is built; it knows nothing
of URLs, only the storage protocol.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from zarr_vectors.exceptions import CorruptStoreError, StoreError
from zarr_vectors.format.metadata import (
    WRITER_KEY,
    RootMetadata,
    dump_json,
    group_json,
    writer_record,
)
from zarr_vectors.storage.base import StorageBackend

__all__ = [
    "CLAIMS_PREFIX",
    "LOG_KEEP",
    "LOG_PREFIX",
    "PRIVATE_PREFIX",
    "ROOT_KEY",
    "Pending",
    "bump",
    "gather_node_docs",
    "is_private",
    "log_key",
    "node_key",
    "put_root",
    "root_document",
    "sorted_consolidated",
]

#: Key of the root group document.
ROOT_KEY = "zarr.json"
#: Keys this package keeps beside the format's own start with this (staged
#: stores, the commit log); readers of the format ignore them.
PRIVATE_PREFIX = ".zv-"
#: Commit records: what each committed write changed, by the generation it made.
LOG_PREFIX = ".zv-log"
#: Writers' claims on a store whose backend has no conditional writes (see lease.py).
CLAIMS_PREFIX = ".zv-claims"
#: How many commit records are kept (a handle older than that many commits is stale).
LOG_KEEP = 64


def log_key(generation: int) -> str:
    """Key of the commit record of the write that produced ``generation``."""
    return f"{LOG_PREFIX}/{int(generation):012d}.json"


def is_private(key: str) -> bool:
    """Whether ``key`` is this package's bookkeeping rather than part of the format."""
    return key.startswith(PRIVATE_PREFIX)


def node_key(path: str) -> str:
    """Key of the ``zarr.json`` of the node at ``path`` ("" is the root)."""
    return f"{path}/zarr.json" if path else ROOT_KEY


@dataclass(frozen=True)
class Pending:
    """An unfinished write recorded in the root: ``mode`` "w" (replace) or "a" (append).

    For an append: the ``level`` written, the world keys of the touched
    ``cells`` with their row ``counts`` before the append (0 for a cell the
    append creates), and the level's ``vertex_count`` before it.
    """

    mode: str
    level: str = "0"
    cells: tuple[str, ...] = ()
    counts: tuple[int, ...] = ()
    vertex_count: int = 0
    #: Replace only: the prefix the new store is written under, and whether it is
    #: still being written ("writing": readers read the old store) or committed and
    #: being moved into place ("moving": readers read the new one, staged first).
    staged: str = ""
    state: str = ""
    #: Replace, state "moving" only: the old store's objects that the new one does
    #: not replace are deleted, so what is left to do is move the staged objects
    #: (a re-run must not take the objects moved already for old ones).
    cleared: bool = False
    #: Replace only: the staged objects replace just their own keys and the rest of the
    #: old store stays (an append of whole objects, :mod:`.objappend`), so nothing of
    #: the old store is deleted when they are moved into place.
    overlay: bool = False

    @classmethod
    def from_root(cls, root_doc: Mapping[str, Any]) -> Pending | None:
        """The entry in a root document, or ``None`` when no write is unfinished."""
        attrs = root_doc.get("attributes") or {}
        if not isinstance(attrs, Mapping):
            raise CorruptStoreError(f"the root's attributes are not a JSON object: {attrs!r:.80}")
        entry = writer_record(attrs, "root zarr.json").get("pending")
        if not entry:
            return None
        return cls.from_json(entry, "the root's journal entry")

    @classmethod
    def from_json(cls, entry: Any, where: str) -> Pending:
        """Parse a journal entry or commit record, refusing one that is malformed."""
        try:
            made = cls(
                mode=str(entry.get("mode", "w")),
                level=str(entry.get("level", "0")),
                cells=tuple(str(c) for c in entry.get("cells", ())),
                counts=tuple(int(c) for c in entry.get("counts", ())),
                vertex_count=int(entry.get("vertex_count", 0)),
                staged=str(entry.get("staged", "")),
                state=str(entry.get("state", "")),
                cleared=entry.get("cleared", False) is True,
                overlay=entry.get("overlay", False) is True,
            )
        except (AttributeError, TypeError, ValueError) as exc:
            raise CorruptStoreError(f"{where} is malformed ({exc}): {entry!r:.200}") from None
        if made.mode not in ("a", "w") or len(made.cells) != len(made.counts):
            raise CorruptStoreError(f"{where} is malformed: {entry!r:.200}")
        return made

    def to_json(self) -> dict[str, Any]:
        if self.mode == "w":
            out: dict[str, Any] = {"mode": "w"}
            if self.staged:
                out.update(staged=self.staged, state=self.state)
            if self.cleared:
                out["cleared"] = True
            if self.overlay:
                out["overlay"] = True
            return out
        return {
            "mode": self.mode,
            "level": self.level,
            "cells": list(self.cells),
            "counts": list(self.counts),
            "vertex_count": self.vertex_count,
        }

    def row_limits(self, level: int | str) -> dict[str, int]:
        """Rows of each touched cell of ``level`` that belong to the committed state."""
        if self.mode != "a" or str(level) != self.level:
            return {}
        return dict(zip(self.cells, self.counts, strict=True))

    @property
    def data_prefix(self) -> str:
        """Where readers find cells and node documents first ("" = their usual keys)."""
        return f"{self.staged}/" if self.mode == "w" and self.state == "moving" else ""

    def check_readable(self, where: str) -> None:
        """Raise if the unfinished write left nothing whole to read.

        A replace that stages its new store leaves the old one readable until it
        commits and the new one readable after; only a first write of a store
        (nothing before it) leaves nothing to read.
        """
        if self.mode == "w" and not self.staged:
            raise StoreError(
                f"{where}: a write that replaces this store did not finish, so its contents "
                "are incomplete; write the store again (mode='w')"
            )


def sorted_consolidated(docs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The inline ``consolidated_metadata`` object, nodes ordered as zarr-python orders them."""
    order = sorted(docs, key=lambda k: (k.count("/"), unicodedata.normalize("NFKC", k).casefold()))
    return {
        "kind": "inline",
        "must_understand": False,
        "metadata": {k: dict(docs[k]) for k in order},
    }


def root_document(
    meta: RootMetadata,
    *,
    name: str = "zarr_vectors",
    pending: Pending | None = None,
    consolidated: Mapping[str, Mapping[str, Any]] | None = None,
    extra_attributes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The root group ``zarr.json`` for ``meta`` (plus journal and consolidated metadata)."""
    attrs = dict(extra_attributes or {})
    attrs.update(meta.to_attributes(name))
    if pending is not None:
        attrs[WRITER_KEY] = {**attrs[WRITER_KEY], "pending": pending.to_json()}
    doc = group_json(attrs)
    if consolidated is not None:
        doc["consolidated_metadata"] = sorted_consolidated(consolidated)
    return doc


def put_root(
    backend: StorageBackend,
    meta: RootMetadata,
    *,
    pending: Pending | None = None,
    consolidated: Mapping[str, Mapping[str, Any]] | None = None,
    extra_attributes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the root document; return it."""
    doc = root_document(
        meta, pending=pending, consolidated=consolidated, extra_attributes=extra_attributes
    )
    backend.put_bytes(ROOT_KEY, dump_json(doc))
    return doc


def bump(meta: RootMetadata) -> RootMetadata:
    """``meta`` with the write generation advanced by one."""
    return replace(meta, generation=meta.generation + 1)


def gather_node_docs(backend: StorageBackend) -> dict[str, dict[str, Any]]:
    """Every node document below the root, by node path (one listing + one batch of gets)."""
    keys = [
        k
        for k in backend.list_prefix("", recursive=True)
        if k.endswith("zarr.json") and k != ROOT_KEY and not is_private(k)
    ]
    got = backend.get_many(keys)
    return {k[: -len("/zarr.json")]: json.loads(v) for k, v in got.items()}
