"""What a reader knows about a store after reading its root ``zarr.json``.

Opening a store costs one request: the root document. When it carries zarr v3
consolidated metadata every other node document comes from it; otherwise node
documents are fetched (batched) the first time they are needed.

The root may also carry this package's write journal (``zarr_vectors_writer``
-> ``pending``): a write in progress, or one that failed half way. Readers use
it to show the store as it was before that write
(:class:`~zarr_vectors.format.journal.Pending`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from zarr_vectors.exceptions import (
    CorruptStoreError,
    StaleSnapshotError,
    StoreError,
    StoreNotFoundError,
)
from zarr_vectors.format.journal import ROOT_KEY, Pending, log_key, node_key
from zarr_vectors.format.metadata import LevelMetadata, RootMetadata
from zarr_vectors.storage.base import AsyncStorageBackend, ObjectInfo, StorageBackend

__all__ = ["Snapshot", "load_snapshot", "parse_json_doc", "snapshot_from_doc"]


@dataclass
class Snapshot:
    """Root metadata plus on-demand access to the other node documents."""

    backend: StorageBackend
    root_doc: dict[str, Any]
    meta: RootMetadata
    consolidated: dict[str, dict[str, Any]] | None
    _cache: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    _levels: dict[int, LevelMetadata] = field(default_factory=dict)

    @cached_property
    def pending(self) -> Pending | None:
        """The unfinished write recorded in the root, if any (parsed once: a snapshot's
        root never changes)."""
        return Pending.from_root(self.root_doc)

    @property
    def generation(self) -> int:
        """The write generation this snapshot shows."""
        return self.meta.generation

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Objects of this snapshot by their format keys.

        While a committed replace is being moved into place, the new store's
        objects are read from where it was staged, and from their own keys once
        moved; otherwise this is the backend's ``get_many``.
        """
        pending = self.pending
        prefix = pending.data_prefix if pending is not None else ""
        if not prefix:
            return self.backend.get_many(keys)
        staged = self.backend.get_many([prefix + k for k in keys])
        found = {k: staged[prefix + k] for k in keys if prefix + k in staged}
        rest = [k for k in keys if k not in found]
        if rest:
            found.update(self.backend.get_many(rest))
        return found

    def _staged(self) -> str:
        pending = self.pending
        return pending.data_prefix if pending is not None else ""

    def head(self, key: str) -> ObjectInfo:
        """``head`` of a format key in this snapshot (staged first, see :meth:`get_many`)."""
        staged = self._staged()
        if staged:
            try:
                return self.backend.head(staged + key)
            except KeyError:
                pass
        return self.backend.head(key)

    def get_range(self, key: str, start: int, length: int | None) -> bytes:
        """A byte range of a format key in this snapshot (staged first)."""
        staged = self._staged()
        if staged:
            try:
                return self.backend.get_range(staged + key, start, length)
            except KeyError:
                pass
        return self.backend.get_range(key, start, length)

    async def aget_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        """:meth:`get_many` through the backend's coroutines (an :class:`AsyncStorageBackend`)."""
        backend = self._async_backend()
        prefix = self._staged()
        if not prefix:
            return await backend.aget_many(keys)
        staged = await backend.aget_many([prefix + k for k in keys])
        found = {k: staged[prefix + k] for k in keys if prefix + k in staged}
        rest = [k for k in keys if k not in found]
        if rest:
            found.update(await backend.aget_many(rest))
        return found

    async def ahead(self, key: str) -> ObjectInfo:
        """:meth:`head` through the backend's coroutines."""
        backend, staged = self._async_backend(), self._staged()
        if staged:
            try:
                return await backend.ahead(staged + key)
            except KeyError:
                pass
        return await backend.ahead(key)

    async def aget_range(self, key: str, start: int, length: int | None) -> bytes:
        """:meth:`get_range` through the backend's coroutines."""
        backend, staged = self._async_backend(), self._staged()
        if staged:
            try:
                return await backend.aget_range(staged + key, start, length)
            except KeyError:
                pass
        return await backend.aget_range(key, start, length)

    def _async_backend(self) -> AsyncStorageBackend:
        backend = self.backend
        if not isinstance(backend, AsyncStorageBackend):
            raise TypeError(f"{type(backend).__name__} has no coroutine methods (aget_range...)")
        return backend

    def list_keys(self, prefix: str) -> list[str]:
        """Every object key under ``prefix`` in this snapshot (format keys, sorted)."""
        pending = self.pending
        staged = pending.data_prefix if pending is not None else ""
        keys = set(self.backend.list_prefix(prefix, recursive=True))
        if staged:
            cut = len(staged)
            keys |= {k[cut:] for k in self.backend.list_prefix(staged + prefix, recursive=True)}
        return sorted(keys)

    def check_complete(self) -> None:
        """Raise if a write that replaces the whole store did not finish."""
        pending = self.pending
        if pending is not None:
            pending.check_readable(self.backend.url)

    def nodes(self, paths: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        """Documents of the nodes at ``paths`` (``None`` where a node does not exist)."""
        out: dict[str, dict[str, Any] | None] = {}
        missing: list[str] = []
        for p in paths:
            if p in self._cache:
                out[p] = self._cache[p]
            elif self.consolidated is not None:
                out[p] = self.consolidated.get(p)
            else:
                missing.append(p)
        if missing:
            got = self.get_many([node_key(p) for p in missing])
            for p in missing:
                raw = got.get(node_key(p))
                doc = None if raw is None else parse_json_doc(raw, f"{self.backend.url}: {p}")
                self._cache[p] = doc
                out[p] = doc
        return out

    def node(self, path: str) -> dict[str, Any] | None:
        """Document of one node, ``None`` if it does not exist."""
        return self.nodes([path])[path]

    def level_meta(self, level: int) -> LevelMetadata:
        """The metadata of one level (raises if the level does not exist)."""
        name = str(level)
        if name not in self.meta.levels:
            from zarr_vectors.exceptions import ValidationError

            raise ValidationError(
                f"level {level} does not exist; this store has levels {', '.join(self.meta.levels)}"
            )
        if level in self._levels:
            return self._levels[level]
        doc = self.node(name)
        if doc is None:
            raise StoreError(
                f"level {level} is listed in the root metadata but its group is missing"
            )
        meta = LevelMetadata.from_attributes(doc.get("attributes", {}), f"level {level}")
        before = self._count_at_snapshot(level, fetched=self.consolidated is None)
        if before is not None and before != meta.vertex_count:
            meta = replace(meta, vertex_count=before)
        self._levels[level] = meta
        return meta

    def _count_at_snapshot(self, level: int, fetched: bool) -> int | None:
        """The level's vertex count as of this snapshot, where its document may say more.

        An append this snapshot shows unfinished has already counted its points
        in the level document (or will); a document fetched after opening
        (no consolidated metadata) may count appends committed since. Both
        record the count from before them.
        """
        pending = self.pending
        if pending is not None and pending.mode == "a" and pending.level == str(level):
            return pending.vertex_count
        if not fetched:
            return None
        for change in self.appends_since():  # read after the document: see its docstring
            if change.level == str(level):
                return change.vertex_count
        return None

    def appends_since(self) -> list[Pending]:
        """Appends committed or started since this snapshot, oldest first.

        Reads the root again (and the commit records of the generations since):
        a writer records its journal entry before touching cells or level
        documents, so whatever a reader fetched before calling this is covered.
        A replace since then, a deleted store or records no longer kept raise
        :class:`~zarr_vectors.exceptions.StaleSnapshotError`.
        """
        url = self.backend.url
        raw = self.backend.get_many([ROOT_KEY]).get(ROOT_KEY)
        if raw is None:
            raise StaleSnapshotError(
                f"{url}: the store was deleted since it was opened; open it again"
            )
        doc = parse_json_doc(raw, f"{url}: root zarr.json")
        try:
            writer = (doc.get("attributes") or {}).get("zarr_vectors_writer") or {}
            now = int(writer.get("generation", 0))
        except (AttributeError, TypeError, ValueError):  # a garbage writer record
            now = -1
        changes: list[Pending] = []
        if now != self.generation:
            if now < self.generation:
                raise self._stale(now)
            keys = [log_key(g) for g in range(self.generation + 1, now + 1)]
            records = self.backend.get_many(keys)
            for key in keys:
                if key not in records:
                    raise self._stale(now)
                try:
                    entry = parse_json_doc(records[key], f"{url}: {key}")
                except CorruptStoreError:
                    raise self._stale(now) from None
                changes.append(Pending.from_json(entry, f"{url}: {key}"))
        current = Pending.from_root(doc)
        if current is not None and current.mode == "a":
            changes.append(current)
        if any(change.mode != "a" for change in changes):
            raise self._stale(now)
        return changes

    def _stale(self, now: int) -> StaleSnapshotError:
        return StaleSnapshotError(
            f"{self.backend.url}: the store changed from generation {self.generation} to {now} "
            "since it was opened, in a way this snapshot cannot be read through (a replace, or "
            "more commits than are recorded); open it again (or call refresh() on the handle)"
        )

    def children(self, path: str) -> list[str]:
        """Names of the child nodes of the group at ``path``."""
        prefix = f"{path}/"
        if self.consolidated is not None:
            names = {
                k[len(prefix) :].split("/", 1)[0]
                for k in self.consolidated
                if k.startswith(prefix) and "/" not in k[len(prefix) :]
            }
            return sorted(names)
        pending = self.pending
        staged = pending.data_prefix if pending is not None else ""
        keys = list(self.backend.list_prefix(prefix))
        if staged:
            keys += [k[len(staged) :] for k in self.backend.list_prefix(staged + prefix)]
        listed = {k[len(prefix) :].rstrip("/") for k in keys}
        return sorted(n for n in listed if n and n != "zarr.json")


def load_snapshot(backend: StorageBackend) -> Snapshot:
    """Read the root document (one request) and parse the store's metadata."""
    raw = backend.get_many([ROOT_KEY]).get(ROOT_KEY)
    if raw is None:
        raise StoreNotFoundError(
            f"no Zarr Vectors store at {backend.url}: it has no root zarr.json "
            "(check the path, or write points there first)"
        )
    return snapshot_from_doc(backend, parse_json_doc(raw, f"{backend.url}: root zarr.json"))


def parse_json_doc(raw: bytes, where: str) -> dict[str, Any]:
    """A ``zarr.json`` document as a dict, or a CorruptStoreError saying what it is instead."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptStoreError(f"{where} is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise CorruptStoreError(
            f"{where} holds a JSON {type(doc).__name__}, not the object a zarr.json must be"
        )
    return doc


def snapshot_from_doc(backend: StorageBackend, doc: Mapping[str, Any]) -> Snapshot:
    """A snapshot of the store whose root document is ``doc`` (already read)."""
    where = backend.url
    doc = dict(doc)
    if doc.get("zarr_format") != 3 or doc.get("node_type") != "group":
        raise StoreError(f"{where}: root zarr.json is not a zarr v3 group")
    attributes = doc.get("attributes")
    if not isinstance(attributes, Mapping):
        raise CorruptStoreError(f"{where}: root zarr.json has no attributes object")
    pending = Pending.from_root(doc)  # a malformed journal is reported at open
    if pending is not None:
        # A first write (its root a placeholder without metadata) says so, rather
        # than "not a Zarr Vectors store".
        pending.check_readable(where)
    meta = RootMetadata.from_attributes(attributes, where)
    cm = doc.get("consolidated_metadata")
    consolidated = (
        {str(k): dict(v) for k, v in cm["metadata"].items() if isinstance(v, Mapping)}
        if isinstance(cm, Mapping) and isinstance(cm.get("metadata"), Mapping)
        else None
    )
    return Snapshot(backend=backend, root_doc=doc, meta=meta, consolidated=consolidated)
