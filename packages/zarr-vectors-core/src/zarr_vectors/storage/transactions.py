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

Storage that keeps every committed state (a versioned store) may also offer
:class:`VersionedBackend`: the id of the state it reads, a read-only backend at
any earlier state, the history, tags and branches. :func:`~zarr_vectors.lazy.open_zv`
uses it to keep a handle on the state it opened, and exposes the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "TransactionalBackend",
    "Version",
    "VersionedBackend",
    "is_transactional",
    "is_versioned",
]


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


@dataclass(frozen=True)
class Version:
    """One committed state of a versioned store, as its history lists it (newest first)."""

    #: The state's id (what the backend reads it by, e.g. Icechunk's snapshot id).
    id: str
    #: When it was committed (UTC).
    written_at: datetime
    #: The commit message (``message=`` of the write, or what the write did).
    message: str
    #: The state it was made from (``None`` for the first).
    parent_id: str | None


@runtime_checkable
class VersionedBackend(Protocol):
    """A backend over storage that keeps every committed state (see the module docstring)."""

    #: ``True`` on a backend that offers the calls below (a class attribute).
    versioned: bool

    def current_version(self) -> str | None:
        """The id of the state reads see now (``None``: nothing committed yet)."""
        ...

    def at_version(self, version: str) -> Any:
        """A new, read-only backend reading state ``version`` (the caller closes it)."""
        ...

    def history(self) -> list[Version]:
        """The states leading to the one reads see, newest first."""
        ...

    def tag_version(self, name: str, version: str | None = None) -> str:
        """Name ``version`` (default: the state reads see) ``name``; return the id named."""
        ...

    def tags(self) -> dict[str, str]:
        """Every tag and the id of the state it names."""
        ...

    def branches(self) -> dict[str, str]:
        """Every branch and the id of the state at its tip."""
        ...


def is_versioned(backend: object) -> bool:
    """Whether ``backend`` keeps every committed state (``versioned`` true, calls present)."""
    return getattr(backend, "versioned", False) is True and isinstance(backend, VersionedBackend)
