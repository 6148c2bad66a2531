"""The local file-system backend, always available.

Each key is a file under the root directory. Two properties matter for a
store that holds terabytes of somebody's data:

* **Atomic writes.** An object is written to a temporary file in the same
  directory and renamed over the target, so a writer killed at any instant
  leaves the old object or the new one, never a torn one. Leftover temporary
  files (``.zv-tmp-*``) are invisible to reads and listings.
* **No escape.** Keys are validated, and every path is resolved (symlinks
  included) and checked to lie inside the resolved root before it is opened,
  so neither a key nor a symlink planted inside the store can make a read or
  a write touch anything outside it.

The root directory is created by the first write, not by opening, so reading a
store that does not exist leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

from zarr_vectors.core.backends.base import Backend, missing_key
from zarr_vectors.exceptions import InvalidKeyError, KeyConflictError, StoreError

__all__ = ["LocalBackend", "local_path_from_url"]

TEMP_PREFIX = ".zv-tmp-"


def local_path_from_url(url: str | os.PathLike[str]) -> Path:
    """Turn a bare path or a ``file://`` URL into an absolute :class:`Path`."""
    text = os.fspath(url)
    if text.lower().startswith("file://"):
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise StoreError(
                f"file:// URL {text!r} names host {parts.netloc!r}; only local files are "
                "supported (use file:///absolute/path)."
            )
        path = unquote(parts.path)
        # file:///C:/data -> C:/data on Windows
        if len(path) > 2 and path[0] == "/" and path[2] == ":":
            path = path[1:]
        text = path
    return Path(text).expanduser().absolute()


class LocalBackend(Backend):
    """Objects as files under a root directory (a path or a ``file://`` URL).

    Parameters
    ----------
    root:
        Directory of the store; created on the first write.
    fsync:
        Flush each object to disk before the rename that publishes it. Off by
        default: atomicity against a killed process does not need it, only
        durability against power loss does, and it costs a disk flush per chunk.
    max_concurrency:
        Worker threads for ``get_many`` / ``put_many`` and their async twins.
    """

    backend_name = "local"
    hierarchical_keys = True

    def __init__(
        self, root: str | os.PathLike[str], *, fsync: bool = False, max_concurrency: int = 8
    ) -> None:
        path = local_path_from_url(root)
        super().__init__(path.as_uri(), max_concurrency=max_concurrency)
        self.root = path
        self.fsync = fsync

    # -- path safety ------------------------------------------------------------------
    def _real_root(self) -> str:
        return os.path.realpath(self.root)

    def _inside(self, real: str, real_root: str) -> bool:
        return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)

    def _path(self, key: str) -> Path:
        """Absolute path of ``key``, refusing anything that resolves outside the root."""
        segments = key.split("/")
        if any(s.startswith(TEMP_PREFIX) for s in segments):
            raise InvalidKeyError(
                f"Invalid store key {key!r}: segments starting with {TEMP_PREFIX!r} are "
                "reserved for the local backend's temporary files."
            )
        path = self.root.joinpath(*segments)
        real_root = self._real_root()
        if not self._inside(os.path.realpath(path), real_root):
            raise StoreError(
                f"Key {key!r} resolves outside the store root {self.url} (through a symbolic "
                "link); refusing to follow it. Remove the link or open the target directly."
            )
        return path

    def _dir(self, prefix: str) -> Path:
        return self._path(prefix[:-1]) if prefix else self.root

    def _error(self, action: str, key: str, exc: OSError) -> StoreError | InvalidKeyError:
        if exc.errno == errno.ENAMETOOLONG:
            return InvalidKeyError(
                f"Cannot {action} {key!r} in {self.url}: a key segment is longer than the file "
                "system allows (usually 255 bytes)."
            )
        return StoreError(f"Cannot {action} {key!r} in {self.url}: {exc.strerror or exc}.")

    # -- primitives -----------------------------------------------------------------------
    def _get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise missing_key(key, self.url) from None
        except OSError as exc:
            raise self._error("read", key, exc) from exc

    def _get_range(self, key: str, start: int, length: int | None) -> bytes:
        path = self._path(key)
        try:
            with open(path, "rb") as handle:
                handle.seek(start)
                return handle.read() if length is None else handle.read(length)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise missing_key(key, self.url) from None
        except OSError as exc:
            raise self._error("read", key, exc) from exc

    def _exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def _make_parents(self, key: str, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise KeyConflictError(
                f"Cannot write {key!r} in {self.url}: a parent of it is stored as an object, and "
                "on a file system a key cannot be both an object and a prefix of other keys."
            ) from None
        # mkdir may have followed a symlink created since _path() checked; check again.
        if not self._inside(os.path.realpath(path.parent), self._real_root()):
            raise StoreError(f"Key {key!r} resolves outside the store root {self.url}.")

    def _put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if path.is_dir():
            raise KeyConflictError(
                f"Cannot write {key!r} in {self.url}: it is a prefix of other keys, and on a file "
                "system a key cannot be both an object and a prefix."
            )
        self._make_parents(key, path)
        try:
            fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
        except OSError as exc:
            raise self._error("write", key, exc) from exc
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                if self.fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if isinstance(exc, OSError):
                raise self._error("write", key, exc) from exc
            raise

    def _prune(self, directory: Path) -> None:
        """Remove empty directories from ``directory`` up to (not including) the root."""
        root = self.root
        while directory != root and root in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    def _delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            return
        except IsADirectoryError:
            return  # a prefix, not an object: nothing stored under this exact key
        except OSError as exc:
            raise self._error("delete", key, exc) from exc
        self._prune(path.parent)

    def _delete_prefix(self, prefix: str) -> None:
        directory = self._dir(prefix)
        if not directory.is_dir():
            return
        if directory == self.root:
            for entry in os.scandir(directory):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
            return
        if directory.is_symlink():
            directory.unlink()
        else:
            shutil.rmtree(directory)
        self._prune(directory.parent)

    def _list(self, prefix: str, recursive: bool) -> list[str]:
        directory = self._dir(prefix)
        if not directory.is_dir():
            return []
        real_root = self._real_root()
        found: list[str] = []
        if not recursive:
            for entry in os.scandir(directory):
                if entry.name.startswith(TEMP_PREFIX):
                    continue
                if not self._inside(os.path.realpath(entry.path), real_root):
                    continue  # a symlink leading out of the store is not part of it
                if entry.is_dir():
                    found.append(f"{prefix}{entry.name}/")
                elif entry.is_file():
                    found.append(prefix + entry.name)
            return sorted(found)
        for dirpath, dirnames, filenames in os.walk(directory):
            rel = os.path.relpath(dirpath, self.root)
            base = "" if rel == "." else rel.replace(os.sep, "/") + "/"
            dirnames[:] = [
                d
                for d in dirnames
                if self._inside(os.path.realpath(os.path.join(dirpath, d)), real_root)
            ]
            for name in filenames:
                if name.startswith(TEMP_PREFIX):
                    continue
                full = os.path.join(dirpath, name)
                if self._inside(os.path.realpath(full), real_root):
                    found.append(base + name)
        return sorted(found)
