"""The optional capability of a transactional backend: it commits a write as one.

Some storage keeps a write's changes to itself until it commits them all at
once (a versioned store such as Icechunk, a database). A backend over such
storage sets ``transactional = True`` and offers the three calls of
:class:`TransactionalBackend`. The core then keeps writers apart through the
backend's commit instead of its own write lease (no lease, no claims: see
:mod:`zarr_vectors.format.store_transaction`): it calls
:meth:`~TransactionalBackend.begin_transaction` before it reads the store to
write it, :meth:`~TransactionalBackend.commit_transaction` once at the end,
and :meth:`~TransactionalBackend.abort_transaction` when the write fails.
Every other backend is left as it is; nothing here is required.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["TransactionalBackend", "is_transactional"]


@runtime_checkable
class TransactionalBackend(Protocol):
    """A backend that commits a write's changes as one (see the module docstring)."""

    #: ``True`` on a backend that offers the calls below (a class attribute).
    transactional: bool

    def begin_transaction(self) -> None:
        """Start a write: reads see the storage as it is now plus this write's changes,
        and nobody else sees the changes before :meth:`commit_transaction`."""
        ...

    def commit_transaction(self, summary: str) -> str | None:
        """Make every change of the write visible at once; return the commit's id, if any.

        ``summary`` says what the write did (a default commit message). If another
        writer committed first, raise
        :class:`~zarr_vectors.exceptions.TransactionConflictError` naming that
        commit, and commit nothing.
        """
        ...

    def abort_transaction(self) -> None:
        """Drop the write's changes: nothing of them becomes visible."""
        ...


def is_transactional(backend: object) -> bool:
    """Whether ``backend`` commits writes itself (``transactional`` true, calls present)."""
    return getattr(backend, "transactional", False) is True and isinstance(
        backend, TransactionalBackend
    )
