"""Batched file I/O for stores on a local file system.

Reading or writing a few hundred cell files through an async store costs a
thread hop and an event-loop round trip per file, several times the cost of
the file operation itself. For a store rooted in a local directory the point
writers and readers use this module instead: plain reads, and writes to a
temporary file renamed over the target (so a reader, or a crash, never sees a
half-written cell), spread over a few threads.

Keys come from this package (cell and metadata keys), never from users, so
the checks the general local backend makes on arbitrary keys are not repeated.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["LocalFiles"]

_TMP = ".zv-tmp-"
_counter = itertools.count()


class LocalFiles:
    """Bytes by key under one directory."""

    def __init__(self, root: str | os.PathLike[str], *, threads: int = 4) -> None:
        self.root = Path(root)
        self.threads = threads

    def _path(self, key: str) -> str:
        return os.path.join(self.root, *key.split("/"))

    def _read(self, key: str) -> bytes | None:
        try:
            with open(self._path(key), "rb") as fh:
                return fh.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Contents of the keys that exist."""
        # Sequential: a read served from the page cache is a memcpy, and a
        # thread pool's hand-offs cost more than they overlap (measured on 2
        # cores: 9 ms sequential vs 20-35 ms pooled for 125 x 100 kB).
        got = [self._read(k) for k in keys]
        return {k: v for k, v in zip(keys, got, strict=True) if v is not None}

    def _write(self, item: tuple[str, bytes]) -> None:
        key, data = item
        path = self._path(key)
        tmp = f"{os.path.dirname(path)}{os.sep}{_TMP}{os.getpid()}-{next(_counter)}"
        try:
            fh = open(tmp, "wb")  # noqa: SIM115 - closed below, before the rename
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fh = open(tmp, "wb")  # noqa: SIM115
        try:
            with fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Write every item; each file appears whole or not at all."""
        dirs = {os.path.dirname(self._path(k)) for k, _ in items}
        for d in dirs:
            os.makedirs(d, exist_ok=True)
        if len(items) < 32 or self.threads <= 1:
            for item in items:
                self._write(item)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(self.threads) as pool:
            for _ in pool.map(self._write, items):
                pass

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete files (missing ones are fine) and prune directories left empty."""
        dirs: set[str] = set()
        for key in keys:
            path = self._path(key)
            try:
                os.unlink(path)
            except (FileNotFoundError, NotADirectoryError):
                continue
            dirs.add(os.path.dirname(path))
        root = os.path.normpath(self.root)
        for d in sorted(dirs, key=len, reverse=True):
            while os.path.normpath(d) != root and d.startswith(root):
                try:
                    os.rmdir(d)
                except OSError:
                    break
                d = os.path.dirname(d)

    def list(self, prefix: str = "") -> list[str]:
        """Every file key under ``prefix`` (recursively), sorted."""
        base = self._path(prefix.rstrip("/")) if prefix.strip("/") else str(self.root)
        out: list[str] = []
        for dirpath, _, files in os.walk(base):
            rel = os.path.relpath(dirpath, self.root)
            for f in files:
                if f.startswith(_TMP):
                    continue
                out.append(f if rel == "." else f"{rel.replace(os.sep, '/')}/{f}")
        return sorted(out)
