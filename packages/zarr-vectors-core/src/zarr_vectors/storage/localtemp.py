"""Temporary files of local writes: made beside their key, renamed over it, swept after a crash.

A local put (:class:`~zarr_vectors.storage.local.LocalBackend`, and the fsspec
plugin on a local disk) writes its object to a ``.zv-tmp-*`` file in the
key's directory and renames it into place, so a writer killed in between
leaves that file and never a torn object; readers and listings skip such
names and ``verify --repair`` deletes them (:func:`remove_temporary_files`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time

__all__ = ["TEMP_PREFIX", "remove_temporary_files", "stamp", "temporary"]

#: Name prefix of a put's temporary file.
TEMP_PREFIX = ".zv-tmp-"


_TEMP_COUNT = itertools.count()
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def temporary(directory: str) -> tuple[int | OSError, str]:
    """A new temporary file in ``directory``: ``(descriptor, name)``, or the error.

    Named by process and a counter (unique within a process, and ``O_EXCL``
    refuses a name a dead process left, so the next is tried): a batch of
    thousands of puts costs one ``open`` each, where ``tempfile.mkstemp`` drew
    random names and checked each.
    """
    while True:
        name = os.path.join(directory, f"{TEMP_PREFIX}{os.getpid()}-{next(_TEMP_COUNT)}")
        try:
            return os.open(name, _TEMP_FLAGS, 0o600), name
        except FileExistsError:
            continue
        except OSError as exc:
            return exc, name


def stamp(target: str | int) -> None:
    """Set the mtime of the file (a path, or an open descriptor) from the nanosecond clock.

    File systems store coarse timestamps (ext4: a scheduler tick), and a freed
    inode number is soon reused, so (inode, mtime, size) alone could repeat a
    version two writes later; a nanosecond stamp makes the version unique.
    """
    now = time.time_ns()
    os.utime(target, ns=(now, now))


def remove_temporary_files(root: str | os.PathLike[str]) -> int:
    """Delete every ``.zv-tmp-*`` file under the local folder ``root``; return how many."""
    removed = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            if name.startswith(TEMP_PREFIX):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(dirpath, name))
                    removed += 1
    return removed
