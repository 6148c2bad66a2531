"""The local file-system backend, always available.

Each key is a file under the root directory. Two properties matter for a
store that holds terabytes of somebody's data:

* **Atomic writes.** An object is written to a temporary file in the same
  directory and renamed over the target, so a writer killed at any instant
  leaves the old object or the new one, never a torn one. Leftover temporary
  files (``.zv-tmp-*``) are invisible to reads and listings.
* **Conditional writes.** ``put_if`` creates with a hard link of a finished
  temporary file (which fails if the name exists) and replaces under an
  exclusive ``flock`` on the parent directory after comparing versions, so two
  processes racing on one key never both win. Versions are (inode, mtime, size):
  every write renames a new file into place.
* **Moves are renames.** ``move_many`` renames each file into place
  (``os.replace``): atomic, and no byte is read or written.
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
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

from zarr_vectors.exceptions import (
    InvalidKeyError,
    KeyConflictError,
    PreconditionFailedError,
    StoreError,
)
from zarr_vectors.storage.base import Backend, ObjectInfo, missing_key
from zarr_vectors.storage.concurrency import check_flag, map_bounded
from zarr_vectors.storage.localdirs import (
    conflict,
    escape,
    make_directories,
    needed_directories,
)
from zarr_vectors.storage.localtemp import (
    TEMP_PREFIX,
    remove_temporary_files,
    stamp,
    temporary,
)

try:  # POSIX: conditional writes lock the parent directory
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["TEMP_PREFIX", "LocalBackend", "local_path_from_url", "remove_temporary_files"]


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
    #: Threads for batch writes; reads are sequential (see ``_get_many``).
    default_max_concurrency = 8
    conditional_writes = fcntl is not None

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        fsync: bool = False,
        max_concurrency: int | None = None,
    ) -> None:
        path = local_path_from_url(root)
        super().__init__(path.as_uri(), max_concurrency=max_concurrency)
        self.root = path
        self.fsync = check_flag(fsync, "fsync")

    # -- path safety ------------------------------------------------------------------
    def _real_root(self) -> str:
        return os.path.realpath(self.root)

    def _inside(self, real: str, real_root: str) -> bool:
        return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)

    def _joined(self, key: str) -> Path:
        """``key`` joined to the root, refusing the segments reserved for temporary files."""
        segments = key.split("/")
        if any(s.startswith(TEMP_PREFIX) for s in segments):
            raise InvalidKeyError(
                f"Invalid store key {key!r}: segments starting with {TEMP_PREFIX!r} are "
                "reserved for the local backend's temporary files."
            )
        return self.root.joinpath(*segments)

    def _escape(self, key: str) -> StoreError:
        return escape(key, self.url)

    def _path(self, key: str) -> Path:
        """Absolute path of ``key``, refusing anything that resolves outside the root."""
        path = self._joined(key)
        if not self._inside(os.path.realpath(path), self._real_root()):
            raise self._escape(key)
        return path

    def _batch_paths(self, keys: list[str]) -> list[Path]:
        """:meth:`_batch_files` as :class:`~pathlib.Path` objects (for writes and deletes)."""
        return [Path(f) for f in self._batch_files(keys)]

    def _batch_files(self, keys: list[str], *, resolve: bool = True) -> list[str]:
        """File names of ``keys`` with each distinct parent directory resolved once.

        Cell keys of one array share a few directories, so a batch of thousands
        of keys costs a few ``realpath`` calls instead of one per key. The last
        segment is not resolved here: reads open it with ``O_NOFOLLOW`` (see
        :meth:`_get_many`) and writes rename over it, which never follows a link.
        Plain strings: keys are validated (no empty, '.' or '..' segments), so
        joining is concatenation, and pathlib's parsing cost more than the reads
        of a cached cell. Writes pass ``resolve=False``: :mod:`.localdirs` checks
        their directories as it makes them.
        """
        real_root = self._real_root()
        base = os.fspath(self.root).rstrip(os.sep) + os.sep
        checked: set[str] = set()
        files = []
        for key in keys:
            if TEMP_PREFIX in key:
                self._joined(key)  # raises for a reserved segment
            name = base + (key if os.sep == "/" else key.replace("/", os.sep))
            parent = name.rsplit(os.sep, 1)[0]
            if resolve and parent not in checked:
                if not self._inside(os.path.realpath(parent), real_root):
                    raise self._escape(key)
                checked.add(parent)
            files.append(name)
        return files

    _NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
    # Never block opening something that is not a file (a FIFO would wait for a writer).
    _NONBLOCK = getattr(os, "O_NONBLOCK", 0)

    def _not_a_file(self, key: str, mode: int) -> StoreError:
        kind = (
            "a FIFO"
            if stat.S_ISFIFO(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else ("a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")
        )
        return StoreError(
            f"{key!r} in {self.url} is {kind}, not a regular file; a store holds only files "
            "and directories: remove it"
        )

    def _read_file(self, key: str, path: str | Path, flags: int = 0) -> bytes | None:
        """The bytes of the regular file at ``path``; None for a directory (a prefix)."""
        fd = os.open(path, os.O_RDONLY | self._NONBLOCK | flags)
        try:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                return None
            if not stat.S_ISREG(info.st_mode):
                raise self._not_a_file(key, info.st_mode)
            if self._NONBLOCK:
                os.set_blocking(fd, True)
            # One read of the size fstat gave, then on until end of file (it may have grown).
            parts = [os.read(fd, max(info.st_size, 1))]
            while parts[-1]:
                parts.append(os.read(fd, 1 << 20))
            return parts[0] if len(parts) == 2 else b"".join(parts)
        finally:
            os.close(fd)

    def _get_many(self, keys: list[str]) -> dict[str, bytes]:
        """Sequential reads: from the page cache a read is a copy, and a thread pool's
        hand-offs cost more than they overlap (9 ms vs 20-35 ms for 125 x 100 kB on
        2 cores). A last segment that is a symbolic link takes the checked path."""
        found: dict[str, bytes] = {}
        for key, path in zip(keys, self._batch_files(keys), strict=True):
            try:
                data = self._read_file(key, path, self._NOFOLLOW)
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.EISDIR):
                    raise self._error("read", key, exc) from exc
                with contextlib.suppress(KeyError):
                    found[key] = self._get(key)  # a link: resolved and checked in full
                continue
            if data is not None:  # None: a prefix, not an object
                found[key] = data
        return found

    def _put_many(self, items: list[tuple[str, bytes]]) -> None:
        """Directories made and checked once each (:mod:`.localdirs`), then the atomic puts."""
        keys = [k for k, _ in items]
        files = self._batch_files(keys, resolve=False)
        make_directories(
            os.fspath(self.root), needed_directories(keys), url=self.url, error=self._write_error
        )
        jobs = [(key, name, data) for (key, data), name in zip(items, files, strict=True)]
        # Small batches are written in this thread: a pool costs more than it overlaps.
        # Larger ones go to the threads in a share each (one hand-off per thread, not per
        # file: with thousands of small cells the hand-offs cost more than the writes).
        limit = 1 if len(jobs) < 32 else max(1, min(self.max_concurrency, len(jobs)))
        shares = [jobs[i::limit] for i in range(limit)]

        def write(share: list[tuple[str, str, bytes]]) -> None:
            for job in share:
                self._write(*job)

        map_bounded(write, shares, limit)

    def _dir(self, prefix: str) -> Path:
        return self._path(prefix[:-1]) if prefix else self.root

    def _write_error(self, key: str, exc: OSError) -> StoreError | InvalidKeyError:
        return self._error("write", key, exc)

    def _error(self, action: str, key: str, exc: OSError) -> StoreError | InvalidKeyError:
        if exc.errno == errno.ENAMETOOLONG:
            return InvalidKeyError(
                f"Cannot {action} {key!r} in {self.url}: a key segment is longer than the file "
                "system allows (usually 255 bytes)."
            )
        hint = ""
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            hint = "; write to a location this process may write to"
        elif exc.errno == errno.ENOSPC:
            hint = "; free space on that disk or write elsewhere"
        return StoreError(f"Cannot {action} {key!r} in {self.url}: {exc.strerror or exc}{hint}.")

    # -- primitives -----------------------------------------------------------------------
    def _get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            data = self._read_file(key, path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise missing_key(key, self.url) from None
        except OSError as exc:
            raise self._error("read", key, exc) from exc
        if data is None:
            raise missing_key(key, self.url)
        return data

    def _get_range(self, key: str, start: int, length: int | None) -> bytes:
        path = self._path(key)
        try:
            info = os.stat(path)
            if not stat.S_ISREG(info.st_mode) and not stat.S_ISDIR(info.st_mode):
                raise self._not_a_file(key, info.st_mode)
            with open(path, "rb") as handle:
                handle.seek(start)
                return handle.read() if length is None else handle.read(length)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise missing_key(key, self.url) from None
        except OSError as exc:
            raise self._error("read", key, exc) from exc

    def _exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def _put_if(self, key: str, data: bytes, expect: str | None) -> str:
        path = self._path(key)
        self._make_parents(key, path)
        if expect is None:
            return self._create(key, path, data)
        with self._directory_lock(key, path.parent):
            try:
                current = self._head(key).version
            except KeyError:
                current = None
            if current != expect:
                self._prune(path.parent)  # a refused write leaves no directory it made
                raise PreconditionFailedError(
                    f"{key!r} in {self.url} changed since version {expect} (now "
                    f"{current or 'absent'}); read it again and retry."
                )
            self._write(key, path, data)
            # Read under the lock: another conditional writer cannot have replaced it yet.
            return self._version(key)

    def _create(self, key: str, path: Path, data: bytes) -> str:
        """Publish ``data`` at ``path`` only if nothing is there (hard link of a temp file).

        The version is that of the temporary file, read before linking: the link
        shares its inode, size and mtime, and a write that replaces the object a
        moment later cannot make this call report the newer version.
        """
        versions: list[str] = []

        def link(tmp: str) -> None:
            versions.append(_version_of(os.stat(tmp)))
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise PreconditionFailedError(
                    f"{key!r} already exists in {self.url}; a create-only write leaves it as it is."
                ) from None

        self._publish(key, path, data, link)
        return versions[0]

    @contextlib.contextmanager
    def _directory_lock(self, key: str, directory: Path) -> Iterator[None]:
        """An exclusive ``flock`` on ``directory`` for one compare-and-replace."""
        try:
            fd = os.open(directory, os.O_RDONLY)
        except OSError as exc:
            raise self._error("lock", key, exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _version(self, key: str) -> str:
        version = self._head(key).version
        assert version is not None  # the local backend always has one
        return version

    def _head(self, key: str) -> ObjectInfo:
        """Size, and a version that changes on every write: each write renames a new
        file (a new inode) over the old one, so inode, size and mtime together differ."""
        try:
            info = os.stat(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            raise missing_key(key, self.url) from None
        except OSError as exc:
            raise self._error("read", key, exc) from exc
        if not stat.S_ISREG(info.st_mode):
            raise missing_key(key, self.url)
        return ObjectInfo(key, info.st_size, _version_of(info))

    def _delete_many(self, keys: list[str]) -> None:
        """Unlink each file, then prune each emptied directory once (not once per key)."""
        parents: set[Path] = set()
        for key, path in zip(keys, self._batch_paths(keys), strict=True):
            self.check_fence()
            try:
                path.unlink()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                continue
            except OSError as exc:
                raise self._error("delete", key, exc) from exc
            parents.add(path.parent)
        for directory in sorted(parents, key=lambda p: len(p.parts), reverse=True):
            self._prune(directory)

    def _move_many(self, pairs: list[tuple[str, str]]) -> None:
        """A rename per pair (``os.replace``: atomic, no bytes copied), parents made once per
        directory, then each emptied source directory pruned once.

        Sources and destinations are checked as puts and deletes are: each distinct
        parent directory is resolved and must lie inside the root, and the last
        segment is renamed, never followed. A source that is a symbolic link takes
        the checked path (read through the link, written, the link removed).
        Each source is stamped before its rename, so the destination gets a new
        version, as a put gives one.
        """
        sources = self._batch_files([source for source, _ in pairs])
        targets = self._batch_paths([dest for _, dest in pairs])
        made: set[Path] = set()
        emptied: set[Path] = set()
        for (key, dest_key), source, target in zip(pairs, sources, targets, strict=True):
            self.check_fence()
            try:
                info = os.lstat(source)
            except (FileNotFoundError, NotADirectoryError):
                continue  # moved already (or never stored): nothing to do
            except OSError as exc:
                raise self._error("move", key, exc) from exc
            if stat.S_ISDIR(info.st_mode):
                continue  # a prefix, not an object
            if stat.S_ISLNK(info.st_mode):
                self._move_link(key, dest_key)
                continue
            if not stat.S_ISREG(info.st_mode):
                raise self._not_a_file(key, info.st_mode)
            if target.parent not in made:
                self._make_parents(dest_key, target)
                made.add(target.parent)
            if target.is_dir():
                raise self._prefix_conflict(dest_key)
            try:
                stamp(source)
                os.replace(source, target)
            except FileNotFoundError:
                continue  # moved meanwhile by another run of the same move
            except OSError as exc:
                raise self._error("move", key, exc) from exc
            emptied.add(Path(source).parent)
        for directory in sorted(emptied, key=lambda p: len(p.parts), reverse=True):
            self._prune(directory)

    def _move_link(self, key: str, dest_key: str) -> None:
        """Move a source that is a symbolic link: read through it (checked), write, unlink."""
        try:
            data = self._get(key)
        except KeyError:
            return
        self._put(dest_key, data)
        self._delete(key)

    def _prefix_conflict(self, key: str) -> KeyConflictError:
        return KeyConflictError(
            f"Cannot write {key!r} in {self.url}: it is a prefix of other keys, and on a file "
            "system a key cannot be both an object and a prefix."
        )

    def _make_parents(self, key: str, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise conflict(key, self.url) from None
        except OSError as exc:  # a read-only mount, no permission, a full disk: one line
            raise self._error("write", key, exc) from None
        # mkdir may have followed a symlink created since _path() checked; check again.
        if not self._inside(os.path.realpath(path.parent), self._real_root()):
            raise StoreError(f"Key {key!r} resolves outside the store root {self.url}.")

    def _put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        self._make_parents(key, path)
        self._write(key, path, data)

    def _write(self, key: str, path: Path | str, data: bytes) -> None:
        """Write ``data`` to a temporary file beside ``path`` and rename it over ``path``."""

        def place(tmp: str) -> bool:
            try:
                os.replace(tmp, path)
            except IsADirectoryError:  # a key that is a prefix of others: no stat first
                raise self._prefix_conflict(key) from None
            return True  # the temporary name is gone with the rename

        self._publish(key, path, data, place)

    def _publish(
        self,
        key: str,
        path: Path | str,
        data: bytes,
        place: Callable[[str], bool | None],
    ) -> None:
        """Write ``data`` to a temporary file beside ``path``, then ``place`` it there.

        ``place`` renames (a plain write) or hard-links (a create-only write) the
        finished file, so a reader never sees it half written. The temporary name
        is removed afterwards whatever happened, unless ``place`` says it took it
        (a rename: no ``unlink`` that can only fail).
        """
        fd, tmp = temporary(os.path.dirname(os.fspath(path)))
        if isinstance(fd, OSError):
            raise self._error("write", key, fd) from fd
        placed = False
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if self.fsync:
                    os.fsync(fd)
                os.fchmod(fd, 0o644)
                stamp(fd)
            finally:
                os.close(fd)
            self.check_fence()  # the moment the object would become visible
            placed = bool(place(tmp))
        except OSError as exc:
            raise self._error("write", key, exc) from exc
        finally:
            if not placed:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

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

    def remove_temporaries(self) -> int:
        """Delete the temporary files of puts that never finished; return how many.

        A put writes ``.zv-tmp-*`` beside its key and renames it; a writer killed
        in between leaves it (hidden from listings). Call only under the write
        lease, when no other put can be in flight (``verify --repair`` does).
        """
        return remove_temporary_files(self.root)

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


def _version_of(info: os.stat_result) -> str:
    """A file's version token: inode, mtime and size (every write renames a new file)."""
    return f"{info.st_ino:x}-{info.st_mtime_ns:x}-{info.st_size:x}"
