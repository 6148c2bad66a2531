"""The core's writes on any transactional backend (format/store_transaction.py).

The backend here keeps a committed dict and a write's changes apart, in the
memory of the process: nothing of Icechunk, so these tests show what the core
itself does with the capability (zarr_vectors.storage.transactions).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from zarr_vectors.exceptions import TransactionConflictError
from zarr_vectors.format.journal import CLAIMS_PREFIX, LOG_PREFIX
from zarr_vectors.storage import Backend, children_of, missing_key
from zarr_vectors.storage.transactions import is_transactional
from zarr_vectors.types.points import read_points, write_points

BOUNDS = ((0.0, 0.0, 0.0), (100.0, 100.0, 100.0))


class Shared:
    """One "storage system": committed objects and a commit counter."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.commits: list[str] = []
        self.lock = threading.Lock()


class TxBackend(Backend):
    """Changes kept per transaction; a commit refused if another landed since it began."""

    backend_name = "tx-test"
    transactional = True

    def __init__(self, shared: Shared) -> None:
        super().__init__("tx://test")
        self.shared = shared
        self.changes: dict[str, bytes | None] | None = None
        self.base = 0
        self.calls: list[str] = []
        #: Runs inside commit_transaction before it checks (a rival's commit, for tests).
        self.before_commit: Callable[[], None] | None = None

    def _view(self) -> dict[str, bytes]:
        with self.shared.lock:
            view = dict(self.shared.objects)
        for key, value in (self.changes or {}).items():
            if value is None:
                view.pop(key, None)
            else:
                view[key] = value
        return view

    def _get(self, key: str) -> bytes:
        try:
            return self._view()[key]
        except KeyError:
            raise missing_key(key, self.url) from None

    def _get_range(self, key: str, start: int, length: int | None) -> bytes:
        data = self._get(key)
        return data[start:] if length is None else data[start : start + length]

    def _put(self, key: str, data: bytes) -> None:
        if self.changes is None:  # outside a transaction: at once
            with self.shared.lock:
                self.shared.objects[key] = data
        else:
            self.changes[key] = data

    def _exists(self, key: str) -> bool:
        return key in self._view()

    def _delete(self, key: str) -> None:
        if self.changes is None:
            with self.shared.lock:
                self.shared.objects.pop(key, None)
        else:
            self.changes[key] = None

    def _list(self, prefix: str, recursive: bool) -> list[str]:
        return children_of(prefix, self._view(), recursive)

    def begin_transaction(self) -> None:
        self.calls.append("begin")
        self.changes = {}
        self.base = len(self.shared.commits)

    def commit_transaction(self, summary: str) -> str | None:
        self.calls.append(f"commit {summary}")
        if self.before_commit is not None:
            self.before_commit()
        changes, self.changes = self.changes or {}, None
        with self.shared.lock:
            if len(self.shared.commits) != self.base:
                raise TransactionConflictError("lost", other=self.shared.commits[-1])
            for key, value in changes.items():
                if value is None:
                    self.shared.objects.pop(key, None)
                else:
                    self.shared.objects[key] = value
            self.shared.commits.append(f"c{len(self.shared.commits)}")
            return self.shared.commits[-1]

    def abort_transaction(self) -> None:
        self.calls.append("abort")
        self.changes = None


def _points(n: int, seed: int) -> np.ndarray[Any, Any]:
    return np.random.default_rng(seed).uniform(0, 100, (n, 3)).astype(np.float32)


def _sorted(rows: Any) -> np.ndarray[Any, Any]:
    rows = np.asarray(rows)
    return rows[np.lexsort(rows.T[::-1])]


def test_a_write_is_one_transaction_without_lease_claims_or_log() -> None:
    shared = Shared()
    backend = TxBackend(shared)
    assert is_transactional(backend)
    write_points(backend, _points(500, 1), chunk_shape=(25.0,) * 3, bounds=BOUNDS)
    write_points(backend, _points(50, 2), mode="a")
    assert backend.calls == [
        "begin",
        "commit zarr-vectors: create 500 points",
        "begin",
        "commit zarr-vectors: append 50 points",
    ]
    assert shared.commits == ["c0", "c1"]
    assert not [k for k in shared.objects if k.startswith((LOG_PREFIX, CLAIMS_PREFIX))]
    assert b"lease" not in shared.objects["zarr.json"]
    got = read_points(backend).positions
    want = np.concatenate([_points(500, 1), _points(50, 2)])
    np.testing.assert_array_equal(_sorted(got), _sorted(want))


def test_a_failed_write_is_aborted_and_leaves_nothing() -> None:
    shared = Shared()
    backend = TxBackend(shared)
    write_points(backend, _points(200, 3), chunk_shape=(25.0,) * 3, bounds=BOUNDS)
    before = dict(shared.objects)

    def fail(done: int, total: int) -> None:
        raise RuntimeError("stopped")

    with pytest.raises(RuntimeError):
        write_points(backend, _points(20, 4), mode="a", progress=fail)
    with pytest.raises(RuntimeError):
        write_points(backend, _points(20, 5), chunk_shape=(50.0,) * 3, mode="w", progress=fail)
    assert backend.calls[-2:] == ["begin", "abort"] and shared.objects == before


def test_an_append_losing_the_commit_is_redone_and_a_replace_raises() -> None:
    shared = Shared()
    backend, rival = TxBackend(shared), TxBackend(shared)
    write_points(backend, _points(300, 6), chunk_shape=(25.0,) * 3, bounds=BOUNDS)

    def rival_commits() -> None:
        backend.before_commit = None  # once
        write_points(rival, _points(30, 7), mode="a")

    backend.before_commit = rival_commits
    write_points(backend, _points(40, 8), mode="a")
    want = np.concatenate([_points(300, 6), _points(30, 7), _points(40, 8)])
    np.testing.assert_array_equal(_sorted(read_points(backend).positions), _sorted(want))
    assert backend.calls.count("begin") == 3  # create, the lost append, the redo

    backend.before_commit = rival_commits
    with pytest.raises(TransactionConflictError) as info:
        write_points(backend, _points(10, 9), chunk_shape=(25.0,) * 3, mode="w")
    assert info.value.other == shared.commits[-1]
