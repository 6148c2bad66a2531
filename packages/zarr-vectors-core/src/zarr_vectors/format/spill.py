"""Rows larger than memory, spilled to disk in partitions that each fit in memory.

A streaming write cannot group all points into cells at once, so it first
spills each batch's rows into a fixed number of partition files on local
disk, choosing a row's partition from a hash of the *block* of cells it falls
in (a block is ``block`` cells per axis: a block holds whole cells, and whole
bins of every coarser level when ``block`` is a power of two at least as large
as the coarsest level's factor). Then it loads one partition at a time, which
holds whole cells, and encodes those. A partition that turns out larger than
the memory budget is split again, by a different hash, when it is loaded.

Rows are kept as one structured numpy record per point (positions and every
attribute column), appended to the partition's file with ``tofile`` and read
back with ``fromfile``: no serialisation library is involved, and the bytes on
disk are exactly the rows in memory. The spill directory is removed on close,
on every path. A writer killed before it could close leaves its directory
behind; the directory holds a ``lock`` file its writer keeps an exclusive
``flock`` on while it lives (the kernel drops it when the process dies, in
whatever pid namespace), so the next spill in the same parent directory
removes every spill directory whose lock it can take. A disk that fills up
while spilling is a :class:`~zarr_vectors.exceptions.StoreError` naming the
directory and what to do, not numpy's bare ``OSError``.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import StoreError, ValidationError
from zarr_vectors.format.grid import BLOCK, axis_cells, scatter_rows

__all__ = [
    "SPILL_PREFIX",
    "SpillDirectory",
    "SpillPartitions",
    "record_dtype",
    "remove_abandoned",
    "spill_error",
]

#: Name prefix of a spill directory (its parent is the spill dir or the system temp dir).
SPILL_PREFIX = "zarr-vectors-spill-"
#: Name prefix of a spill directory while its writer takes its lock.
_MAKING_PREFIX = "zarr-vectors-spilling-"
#: The file in a spill directory whose flock says its writer is alive.
_LOCK_NAME = "lock"
#: A loaded partition may take this share of the budget (see ``__init__``).
_COPIES = 8
#: Salts of the partition hash, one per recursion depth (any odd 64-bit constants).
_SALTS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5)


def record_dtype(
    ndim: int, dtype: np.dtype[Any], attributes: Mapping[str, tuple[np.dtype[Any], tuple[int, ...]]]
) -> np.dtype[Any]:
    """One spilled row: ``positions`` (ndim values) and a field per attribute."""
    fields: list[tuple[str, Any, tuple[int, ...]]] = [("positions", dtype, (ndim,))]
    fields += [(f"a:{name}", adt, shape) for name, (adt, shape) in attributes.items()]
    return np.dtype([(n, t, s) if s else (n, t) for n, t, s in fields])


class SpillPartitions:
    """Partition files of spilled rows under a temporary directory (closed = deleted).

    ``cell_size`` is the world size of a cell per axis, ``block`` how many cells
    per axis share a partition key, counted from cell ``origin`` (default 0).
    ``budget`` (bytes) is the most one loaded partition may take in memory; it
    decides how many partitions there are (given ``expected_rows``) and when a
    loaded one is split again.
    """

    def __init__(
        self,
        *,
        ndim: int,
        dtype: np.dtype[Any],
        attributes: Mapping[str, tuple[np.dtype[Any], tuple[int, ...]]],
        cell_size: Sequence[float],
        block: int | Sequence[int],
        budget: int,
        origin: Sequence[int] | None = None,
        expected_rows: int | None = None,
        directory: str | os.PathLike[str] | None = None,
    ) -> None:
        self.record = record_dtype(ndim, dtype, attributes)
        self.attribute_names = list(attributes)
        self.cell_size = np.asarray(cell_size, np.float64)
        self.block = np.broadcast_to(np.asarray(block, np.int64), self.cell_size.shape).copy()
        self.origin = (
            np.zeros(len(self.cell_size), np.int64)
            if origin is None
            else (np.asarray(origin, np.int64))
        )
        self.budget = max(int(budget), 1 << 20)
        rows = expected_rows or 0
        # Aim for partitions of an eighth of the budget: encoding one holds about five
        # copies of its rows at once (the rows, their columns, the cell order, the rows
        # sorted by cell, the encoded cells).
        want = math.ceil(rows * self.record.itemsize / (self.budget / _COPIES)) if rows else 16
        self.count = max(1, min(4096, want))
        self._space = SpillDirectory(directory)
        self._dir = self._space.path
        self._rows = [0] * self.count
        self.total_rows = 0

    # -- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        """Delete the spill directory (idempotent); its lock goes with the descriptor."""
        self._space.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- writing ----------------------------------------------------------------------------
    def _path(self, part: int, depth: int = 0) -> str:
        return os.path.join(self._dir, f"d{depth}-p{part:05d}.rows")

    def add(self, positions: npt.NDArray[Any], attributes: Mapping[str, npt.NDArray[Any]]) -> None:
        """Spill one batch (positions already checked and in the stored dtype)."""
        n = len(positions)
        # In slices: hashing a row takes several temporary copies of it.
        step = max(10_000, self.budget // (16 * max(self.record.itemsize, 24)))
        for lo in range(0, n, step):
            hi = min(lo + step, n)
            rows = np.empty(hi - lo, dtype=self.record)
            rows["positions"] = positions[lo:hi]
            for name in self.attribute_names:
                rows[f"a:{name}"] = attributes[name][lo:hi]
            self._scatter(rows, depth=0, count=self.count, paths=self._path)

    def _keys(self, positions: npt.NDArray[Any], depth: int, count: int) -> npt.NDArray[Any]:
        """Partition (``0 .. count - 1``) of each row: a hash of its block of cells.

        Block by block of :data:`~zarr_vectors.format.grid.BLOCK` rows, so the
        float64 and 64-bit scratch stays in cache; a row's cell is
        ``floor(float64(x) / cell)`` exactly as the grouping computes it, so a
        partition always holds whole cells.
        """
        n, d = positions.shape
        out = np.empty(n, dtype=np.uint16 if count <= 1 << 16 else np.uint32)
        salt = np.uint64(_SALTS[depth % len(_SALTS)])
        shift = np.uint64(29)
        size = min(n, BLOCK)
        scratch = np.empty(size, dtype=np.float64)
        block_of = np.empty(size, dtype=np.int64)
        mixed_all = np.empty(size, dtype=np.uint64)
        high_all = np.empty(size, dtype=np.uint64)
        for s in range(0, n, BLOCK):
            e = min(n, s + BLOCK)
            t, b = scratch[: e - s], block_of[: e - s]
            mixed, high = mixed_all[: e - s], high_all[: e - s]
            mixed[...] = 0
            for axis in range(d):
                b[...] = axis_cells(positions[s:e, axis], float(self.cell_size[axis]), out=t)
                b -= self.origin[axis]
                if self.block[axis] != 1:
                    b //= self.block[axis]
                with np.errstate(over="ignore"):
                    mixed ^= b.view(np.uint64)
                    mixed *= salt
                np.right_shift(mixed, shift, out=high)
                mixed ^= high
            mixed %= np.uint64(count)
            out[s:e] = mixed
        return out

    def _scatter(self, rows: npt.NDArray[Any], *, depth: int, count: int, paths: Any) -> None:
        """Append ``rows`` to their partitions' files, each partition's rows in one write."""
        keys = self._keys(rows["positions"], depth, count)
        counts = np.bincount(keys, minlength=count)
        bounds = np.zeros(count + 1, dtype=np.int64)
        np.cumsum(counts, out=bounds[1:])
        sorted_rows = scatter_rows(rows, keys, bounds)  # a counting sort: no comparison sort
        for part in np.flatnonzero(counts).tolist():
            start, end = int(bounds[part]), int(bounds[part + 1])
            try:
                with open(paths(part), "ab") as handle:
                    sorted_rows[start:end].tofile(handle)
            except OSError as exc:
                raise spill_error(self._dir, exc) from None
            if depth == 0:
                self._rows[part] += end - start
        if depth == 0:
            self.total_rows += len(rows)

    # -- reading ----------------------------------------------------------------------------
    def partitions(self) -> Iterator[tuple[npt.NDArray[Any], dict[str, npt.NDArray[Any]]]]:
        """Each partition's positions and attribute columns, one at a time, each within budget.

        The loaded rows are dropped once split into columns, so only the columns
        stay alive while the caller encodes them.
        """
        for part in range(self.count):
            if self._rows[part]:
                for rows in self._load(self._path(part), depth=0):
                    columns = self.columns(rows)
                    del rows
                    yield columns

    def _load(self, path: str, depth: int) -> Iterator[npt.NDArray[Any]]:
        size = os.path.getsize(path)
        if size * _COPIES <= self.budget or depth >= len(_SALTS):
            loaded = [np.fromfile(path, dtype=self.record)]
            os.remove(path)
            yield loaded.pop()  # this frame keeps no reference while the caller works
            return
        # Too large: split it by another hash, streaming it through in slices.
        count = max(2, math.ceil(size * _COPIES / self.budget))
        sub = os.path.join(self._dir, f"split-{depth + 1}-{os.path.basename(path)}")
        try:
            os.makedirs(sub, exist_ok=True)
        except OSError as exc:
            raise spill_error(self._dir, exc) from None
        step = max(1, (self.budget // 8) // self.record.itemsize)
        per_file = size // self.record.itemsize
        for start in range(0, per_file, step):
            chunk = np.fromfile(
                path,
                dtype=self.record,
                count=min(step, per_file - start),
                offset=start * self.record.itemsize,
            )
            self._scatter(
                chunk,
                depth=depth + 1,
                count=count,
                paths=lambda p, sub=sub: os.path.join(sub, f"p{p:05d}.rows"),
            )
        os.remove(path)
        for part in range(count):
            child = os.path.join(sub, f"p{part:05d}.rows")
            if os.path.exists(child):
                yield from self._load(child, depth + 1)

    def columns(
        self, rows: npt.NDArray[Any]
    ) -> tuple[npt.NDArray[Any], dict[str, npt.NDArray[Any]]]:
        """Positions and attribute columns of loaded rows (contiguous copies)."""
        positions = np.ascontiguousarray(rows["positions"])
        attributes = {n: np.ascontiguousarray(rows[f"a:{n}"]) for n in self.attribute_names}
        return positions, attributes


class SpillDirectory:
    """A private directory for spilled bytes: locked while its writer lives, deleted on close.

    Shared by every spill (point rows in partitions, the cells of streamed
    objects), so that one cleaner (:func:`remove_abandoned`) finds what a killed
    writer left behind.
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.path = ""
        parent = str(directory) if directory is not None else tempfile.gettempdir()
        remove_abandoned(parent)
        self._lock: int | None = None
        try:
            # Locked under a name the cleaners do not match, then renamed to its spill name:
            # no cleaner can take the lock of a directory whose writer is still setting up.
            making = tempfile.mkdtemp(prefix=_MAKING_PREFIX, dir=parent)
            self.path = making
            self._lock = os.open(os.path.join(making, _LOCK_NAME), os.O_CREAT | os.O_RDWR)
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            final = SPILL_PREFIX + os.path.basename(making)[len(_MAKING_PREFIX) :]
            os.rename(making, os.path.join(parent, final))
            self.path = os.path.join(parent, final)
        except OSError as exc:
            self.close()
            raise spill_error(parent, exc) from None

    def close(self) -> None:
        """Delete the directory (idempotent); its lock goes with the descriptor."""
        if self.path:
            shutil.rmtree(self.path, ignore_errors=True)
        lock, self._lock = self._lock, None
        if lock is not None:
            with contextlib.suppress(OSError):
                os.close(lock)


def spill_error(where: str, exc: OSError) -> StoreError:
    """A failed spill as one line naming the directory and what to do (nothing was written)."""
    reason = exc.strerror or str(exc)
    return StoreError(
        f"Cannot spill rows to {where}: {reason}. Nothing was written to the store; free space "
        "there, pass spill_dir= on a local disk with room for the whole input, or raise "
        "memory_limit= so that less is spilled."
    )


def remove_abandoned(parent: str) -> list[str]:
    """Delete the spill directories under ``parent`` whose writer is gone; return them.

    A directory's writer holds an exclusive ``flock`` on its ``lock`` file while
    it lives; one whose lock can be taken (or that has no lock file left, and so
    is being removed or was never finished) belongs to nobody.
    """
    removed = []
    for path in glob.glob(os.path.join(glob.escape(parent), f"{SPILL_PREFIX}*")):
        if not os.path.isdir(path) or os.path.islink(path):
            continue
        try:
            fd = os.open(os.path.join(path, _LOCK_NAME), os.O_RDWR)
        except FileNotFoundError:
            continue  # made a moment ago (the lock file comes next), or being removed
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # its writer is alive
        finally:
            os.close(fd)
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def check_budget(memory_limit: object) -> int:
    """``memory_limit`` as bytes (an int, or a string such as ``"512MB"``/``"2GiB"``)."""
    if isinstance(memory_limit, bool):
        raise ValidationError(f"memory_limit must be a size in bytes, got {memory_limit!r}")
    if isinstance(memory_limit, int | float):
        value = int(memory_limit)
    elif isinstance(memory_limit, str):
        value = _parse_size(memory_limit)
    else:
        value = -1
    if value < 16 * 2**20:
        raise ValidationError(
            f"memory_limit must be at least 16 MiB (an int of bytes or e.g. '512MB'), got "
            f"{memory_limit!r}"
        )
    return value


def _parse_size(text: str) -> int:
    units = {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "KB": 10**3, "MB": 10**6, "GB": 10**9}
    clean = text.strip().upper().replace(" ", "")
    factor = 1
    for unit, size in units.items():
        if clean.endswith(unit):
            clean, factor = clean[: -len(unit)], size
            break
    else:
        clean = clean.removesuffix("B")
    try:
        return int(float(clean) * factor)
    except ValueError:
        return -1
