"""The SQLite backend: one table ``objects(key TEXT PRIMARY KEY, value BLOB, version TEXT)``.

It implements the primitives of :class:`zarr_vectors.storage.Backend`, and
three of the optional overrides because SQLite does them in one statement:
``_head`` (the size without reading the value), ``_delete_many`` (one ``DELETE
... IN``) and ``_put_if`` (conditional writes: an ``INSERT`` that fails on an
existing key, an ``UPDATE ... WHERE version = ?``). Key validation, the async
twins (run on worker threads) and the other batch calls come from the base
class. The base class calls the primitives from up to ``max_concurrency``
threads at once, so one connection is shared behind a lock; every write commits
at once, so a put is visible to the next get and survives closing the backend.

Keys are stored as given (SQLite compares TEXT byte by byte: no normalisation),
and listings are sorted in Python by :func:`children_of`.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from zarr_vectors.exceptions import PreconditionFailedError, StoreError
from zarr_vectors.storage import Backend, children_of, missing_key
from zarr_vectors.storage.base import ObjectInfo

__all__ = ["SqliteBackend", "path_from_url"]

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS objects "
    "(key TEXT PRIMARY KEY, value BLOB NOT NULL, version TEXT NOT NULL)"
)
#: Most keys in one ``DELETE ... IN (...)`` (SQLite's default limit on parameters is 999).
DELETE_BATCH = 500


def new_version() -> str:
    """A version token: random, so it never comes back for other contents of a key."""
    return uuid.uuid4().hex


def path_from_url(url: str) -> Path:
    """``sqlite:///data/store.db`` -> ``/data/store.db``."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "sqlite" or parts.netloc or not parts.path.strip("/"):
        raise StoreError(
            f"{url!r} is not a SQLite store URL; write sqlite:///path/to/file.db "
            "(three slashes, then the file's path)."
        )
    return Path("/" + unquote(parts.path).lstrip("/"))


class SqliteBackend(Backend):
    """Objects as rows of a SQLite file; the file is created by the first write."""

    backend_name = "sqlite"
    #: put_if is offered: create-only and if-match writes are single statements here.
    conditional_writes = True

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        super().__init__(url)
        self.path = path_from_url(url)
        self.timeout = float(timeout)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _conn(self, create: bool) -> sqlite3.Connection | None:
        """The connection; ``None`` when reading a file that does not exist yet."""
        if self._db is None:
            if not create and not self.path.exists():
                return None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(SCHEMA)
            columns = [row[1] for row in db.execute("PRAGMA table_info(objects)")]
            if "version" not in columns:  # a file written by version 0.1.0 of this plugin
                db.execute("ALTER TABLE objects ADD COLUMN version TEXT")
                db.execute("UPDATE objects SET version = lower(hex(randomblob(16)))")
            self._db = db
        return self._db

    def _get(self, key: str) -> bytes:
        with self._lock:
            db = self._conn(False)
            row = db and db.execute("SELECT value FROM objects WHERE key = ?", (key,)).fetchone()
        if not row:
            raise missing_key(key, self.url)
        return bytes(row[0])

    def _get_range(self, key: str, start: int, length: int | None) -> bytes:
        # substr() counts from 1; a BLOB is cut by bytes, never decoded as text
        args: tuple[object, ...]
        if length is None:
            sql, args = "SELECT substr(value, ?) FROM objects WHERE key = ?", (start + 1, key)
        else:
            sql = "SELECT substr(value, ?, ?) FROM objects WHERE key = ?"
            args = (start + 1, length, key)
        with self._lock:
            db = self._conn(False)
            row = db and db.execute(sql, args).fetchone()
        if not row:
            raise missing_key(key, self.url)
        return bytes(row[0] or b"")

    def _put(self, key: str, data: bytes) -> None:
        with self._lock:
            db = self._conn(True)
            assert db is not None
            db.execute(
                "INSERT OR REPLACE INTO objects (key, value, version) VALUES (?, ?, ?)",
                (key, data, new_version()),
            )

    def _head(self, key: str) -> ObjectInfo:
        with self._lock:
            db = self._conn(False)
            row = (
                db
                and db.execute(
                    "SELECT length(value), version FROM objects WHERE key = ?", (key,)
                ).fetchone()
            )
        if not row:
            raise missing_key(key, self.url)
        return ObjectInfo(key, int(row[0]), str(row[1]))

    def _put_if(self, key: str, data: bytes, expect: str | None) -> str:
        version = new_version()
        with self._lock:
            db = self._conn(True)
            assert db is not None
            if expect is None:
                try:
                    db.execute(
                        "INSERT INTO objects (key, value, version) VALUES (?, ?, ?)",
                        (key, data, version),
                    )
                except sqlite3.IntegrityError:
                    raise PreconditionFailedError(
                        f"{key!r} already exists in {self.url}; a create-only write leaves it."
                    ) from None
                return version
            done = db.execute(
                "UPDATE objects SET value = ?, version = ? WHERE key = ? AND version = ?",
                (data, version, key, expect),
            )
        if done.rowcount != 1:
            raise PreconditionFailedError(
                f"{key!r} in {self.url} is not at version {expect!r} any more (or is gone); "
                "read it again and retry."
            )
        return version

    def _exists(self, key: str) -> bool:
        with self._lock:
            db = self._conn(False)
            return bool(db and db.execute("SELECT 1 FROM objects WHERE key = ?", (key,)).fetchone())

    def _delete(self, key: str) -> None:
        with self._lock:
            db = self._conn(False)
            if db:
                db.execute("DELETE FROM objects WHERE key = ?", (key,))

    def _under(self, prefix: str) -> tuple[str, tuple[object, ...]]:
        if not prefix:
            return "", ()
        return " WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)

    def _list(self, prefix: str, recursive: bool) -> list[str]:
        where, args = self._under(prefix)
        with self._lock:
            db = self._conn(False)
            rows = db.execute("SELECT key FROM objects" + where, args).fetchall() if db else []
        return children_of(prefix, [r[0] for r in rows], recursive)

    def _delete_many(self, keys: list[str]) -> None:
        # One statement per page of keys; the write fence is checked before each page
        # (a writer whose lease ran out while it was stalled stops at the next one).
        with self._lock:
            db = self._conn(False)
            if not db:
                return
            for at in range(0, len(keys), DELETE_BATCH):
                self.check_fence()
                batch = keys[at : at + DELETE_BATCH]
                marks = ",".join("?" * len(batch))
                db.execute(f"DELETE FROM objects WHERE key IN ({marks})", batch)

    def _delete_prefix(self, prefix: str) -> None:
        where, args = self._under(prefix)
        with self._lock:
            db = self._conn(False)
            if db:
                db.execute("DELETE FROM objects" + where, args)

    def _close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
