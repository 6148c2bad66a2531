"""The directories of a local batch write, made once each and checked from the root down.

A batch of thousands of cell files lands in a few hundred directories. Making
each with ``mkdir(parents=True)`` and then resolving it with ``realpath`` (an
``lstat`` per path component, twice) cost more than writing the files. Walked
from the root down, a directory is known to lie inside the root when it is a
real directory (``lstat``: not a symbolic link) inside a parent that does: one
``lstat`` (and a ``mkdir`` if it is missing) per directory. A symbolic link met
on the way is resolved in full and must lead inside the root, as before.

Every existing directory is checked before the first one is made, so a batch
refused for a link that leads outside the root leaves nothing behind.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Mapping

from zarr_vectors.exceptions import KeyConflictError, StoreError

__all__ = ["conflict", "escape", "make_directories", "needed_directories"]


def needed_directories(keys: Iterable[str]) -> dict[str, str]:
    """The directories (keys' ``/``-joined prefixes) the files of ``keys`` go in, ancestors
    included, parents before children; each maps to a key under it, for messages."""
    parents: dict[str, str] = {}
    for key in keys:
        parent = key.rpartition("/")[0]
        if parent and parent not in parents:
            parents[parent] = key
    needed: dict[str, str] = {}
    for parent, key in parents.items():
        d = parent
        while d and d not in needed:
            needed[d] = key
            d = d.rpartition("/")[0]
    return dict(sorted(needed.items()))  # a prefix sorts before what extends it


def conflict(key: str, url: str) -> KeyConflictError:
    return KeyConflictError(
        f"Cannot write {key!r} in {url}: a parent of it is stored as an object, and on a "
        "file system a key cannot be both an object and a prefix of other keys."
    )


def escape(key: str, url: str) -> StoreError:
    return StoreError(
        f"Key {key!r} resolves outside the store root {url} (through a symbolic "
        "link); refusing to follow it. Remove the link or open the target directly."
    )


def make_directories(
    root: str,
    needed: Mapping[str, str],
    *,
    url: str,
    error: Callable[[str, OSError], Exception],
) -> None:
    """Make the ``needed`` directories under ``root`` (see :func:`needed_directories`).

    Raises :class:`~zarr_vectors.exceptions.KeyConflictError` where a directory
    would replace an object, :class:`~zarr_vectors.exceptions.StoreError` where a
    symbolic link leads outside the root, and ``error(key, exc)`` for any other
    failure (no permission, a read-only mount, a full disk).
    """
    if not needed:
        return
    real_root = os.path.realpath(root).rstrip(os.sep) + os.sep
    base = root.rstrip(os.sep) + os.sep
    missing: list[tuple[str, str]] = []
    gone: set[str] = set()  # a directory whose parent is missing is missing too
    for rel, key in needed.items():
        path = base + (rel if os.sep == "/" else rel.replace("/", os.sep))
        if rel.rpartition("/")[0] in gone:
            gone.add(rel)
            missing.append((path, key))
            continue
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            gone.add(rel)
            missing.append((path, key))
            continue
        except OSError as exc:
            raise error(key, exc) from None
        _check(path, key, info.st_mode, real_root, url)
    if not missing:
        return
    try:
        os.makedirs(root, exist_ok=True)
    except OSError as exc:
        raise error(missing[0][1], exc) from None
    for path, key in missing:
        try:
            os.mkdir(path)
        except FileExistsError:  # made meanwhile (another writer): check what is there
            _check(path, key, os.lstat(path).st_mode, real_root, url)
        except NotADirectoryError:
            raise conflict(key, url) from None
        except OSError as exc:
            raise error(key, exc) from None


def _check(path: str, key: str, mode: int, real_root: str, url: str) -> None:
    if stat.S_ISDIR(mode):
        return
    if not stat.S_ISLNK(mode):
        raise conflict(key, url)
    real = os.path.realpath(path)
    if not (real + os.sep).startswith(real_root):
        raise escape(key, url)
    if not os.path.isdir(real):
        raise conflict(key, url)
