"""Writes on a transactional backend: the backend's own transaction instead of the lease.

Some storage keeps every change of a write invisible until it commits them as
one (a versioned store such as Icechunk, a database). A backend says so with
``transactional = True`` and three calls (see
:class:`~zarr_vectors.storage.transactions.TransactionalBackend`): ``begin_transaction()``,
``commit_transaction(summary)`` and ``abort_transaction()``. For such a backend
the write sequence of :mod:`zarr_vectors.format.transaction` runs unchanged but
for one thing: where it would take the store's write lease it takes a
:class:`StoreTransaction`, which has the lease's interface and means:

* no lease, no claims: the storage keeps writers apart by refusing the
  commit of the later one (``TransactionConflictError``), so taking the lease
  as well would only add requests and a second way to fail;
* the root is written as any other object (no conditional writes are needed:
  nothing is visible before the commit);
* :meth:`StoreTransaction.release` (the write's last root) commits, once;
  leaving the block without it (an error, an interrupt) aborts: nothing of the
  write is committed, and nothing is left to repair.

:func:`run_write` retries a write whose commit lost to another writer's, from
the state that writer left, when the caller says that is safe (an append of
points held in memory: redone on the new state it adds exactly its points).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

from zarr_vectors.exceptions import TransactionConflictError, UnsupportedOperationError
from zarr_vectors.format.journal import ROOT_KEY
from zarr_vectors.format.lease import RootLease, without_lease
from zarr_vectors.format.metadata import dump_json
from zarr_vectors.format.plan import WritePlan
from zarr_vectors.storage.base import StorageBackend
from zarr_vectors.storage.transactions import is_transactional

__all__ = [
    "CONFLICT_RETRIES",
    "StoreTransaction",
    "check_joinable",
    "is_transactional",
    "run_write",
    "take_store",
    "write_summary",
]

T = TypeVar("T")

#: How often a write whose commit lost to another writer's is redone before giving up.
#: Each loss means another writer committed, so a retry only waits on real progress.
CONFLICT_RETRIES = 32


class StoreTransaction(RootLease):
    """The lease's stand-in on a transactional backend (see the module docstring).

    A :class:`RootLease` to the write sequence, which calls the same methods on
    either. ``doc`` is the root document at the start of the transaction
    (``None`` without one); :meth:`put` writes a root, :meth:`release` writes the
    final one and commits with ``summary`` as the default message.
    """

    def __init__(self, backend: StorageBackend, summary: str) -> None:
        super().__init__(backend)
        self.summary = summary
        #: The id the backend gave the commit (``None`` until committed, or if nothing changed).
        self.committed: str | None = None
        self._open = False

    def __enter__(self) -> Self:
        import json

        backend: Any = self.backend
        backend.begin_transaction()
        self._open = True
        raw = self.backend.get_many([ROOT_KEY]).get(ROOT_KEY)
        if raw is not None:
            try:
                doc = json.loads(raw)
            except ValueError:
                doc = None
            if isinstance(doc, dict):
                self.doc = without_lease(doc)  # a lease a lease-taking writer left is moot
            else:
                self.unreadable_root = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._open:
            self._open = False
            backend: Any = self.backend
            backend.abort_transaction()

    def put(self, doc: Mapping[str, Any]) -> None:
        """Write ``doc`` as the root (seen by this transaction only, until the commit)."""
        self.backend.put_bytes(ROOT_KEY, dump_json(without_lease(doc)))

    def release(self, doc: Mapping[str, Any]) -> None:
        """Write the final root and commit the write: everything lands, or nothing."""
        self.put(doc)
        self._open = False
        backend: Any = self.backend
        self.committed = backend.commit_transaction(self.summary)

    def check(self) -> None:
        """Nothing to check: no lease can be lost; a rival's commit is found at the commit."""


def take_store(backend: StorageBackend, *, wait: float | None, summary: str) -> RootLease:
    """What a write holds while it writes: the lease, or the backend's transaction."""
    if is_transactional(backend):
        return StoreTransaction(backend, summary)
    return RootLease(backend, wait=wait)


def run_write(backend: StorageBackend, write: Callable[[], T], *, retry: bool) -> T:
    """``write()``, redone on a transactional backend when another writer's commit won.

    ``retry`` says redoing is safe (the write reads the store afresh and adds
    what it adds again); otherwise the conflict is raised as it came, naming the
    other commit.
    """
    attempts = CONFLICT_RETRIES if retry and is_transactional(backend) else 0
    for attempt in range(attempts + 1):
        try:
            return write()
        except TransactionConflictError as exc:
            if attempt >= attempts:
                if attempts:
                    raise TransactionConflictError(
                        f"{exc} Redone {attempts} times, each time losing to another writer; "
                        "write again later.",
                        other=exc.other,
                    ) from None
                raise
    raise AssertionError("unreachable")


def write_summary(plan: WritePlan) -> str:
    """What a write does, in a few words (a transactional backend's default commit message)."""
    n = plan.expected_rows if plan.batches is not None else len(plan.positions)
    verb = {"a": "append", "w-": "create"}.get(plan.mode, "write")
    return f"zarr-vectors: {verb} {n if n is not None else 'streamed'} points"


def check_joinable(backend: StorageBackend, plan: WritePlan) -> None:
    """Refuse cells written by other processes (Dask workers) on a transactional backend.

    The transaction belongs to this process; objects other processes put would
    land outside it (or be lost with their own sessions).
    """
    if plan.cell_writer is not None and is_transactional(backend):
        raise UnsupportedOperationError(
            f"The {getattr(backend, 'backend_name', '?')} backend at {backend.url} keeps a "
            "write in one transaction of this process, which cells written by other "
            "processes (Dask workers) cannot join; compute the points and write them here."
        )
