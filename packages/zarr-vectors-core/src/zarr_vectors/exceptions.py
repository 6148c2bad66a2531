"""Exceptions raised by zarr-vectors.

Every error a user can cause has its own class here so that callers can catch
exactly what they mean to handle, and every message says what was wrong and
what to do about it. Messages never contain credentials: URLs and options are
passed through :mod:`zarr_vectors.storage.secrets` before they are formatted.
"""

from __future__ import annotations

__all__ = [
    "BackendOptionError",
    "ConcurrentWriteError",
    "ConformanceError",
    "CorruptStoreError",
    "FormatVersionError",
    "InvalidKeyError",
    "KeyConflictError",
    "MissingExtraError",
    "MissingKeyError",
    "PluginError",
    "PreconditionFailedError",
    "RangeNotSatisfiableError",
    "ReadOnlyBackendError",
    "ReadOnlyStoreError",
    "StaleSnapshotError",
    "StoreError",
    "StoreExistsError",
    "StoreNotFoundError",
    "TransactionConflictError",
    "UnsupportedOperationError",
    "ValidationError",
    "ZarrVectorsError",
]


class ZarrVectorsError(Exception):
    """Base class of every error raised on purpose by zarr-vectors."""


class StoreError(ZarrVectorsError):
    """A store or backend could not be selected, reached, read or written."""


class PluginError(StoreError):
    """A backend plugin is broken (failed to load) or cannot be selected."""


class BackendOptionError(StoreError, TypeError):
    """A ``backend_kwargs`` option is not accepted by the chosen backend."""


class ReadOnlyBackendError(StoreError):
    """A write was attempted through a backend that can only read (HTTP, a read-only ZIP)."""


class ReadOnlyStoreError(ReadOnlyBackendError, ValueError):
    """A write through the zarr bridge store opened read-only.

    A :class:`ReadOnlyBackendError` for this project's callers and a
    :class:`ValueError` with zarr-python's wording for zarr-python's, whose own
    store tests expect that type.
    """


class KeyConflictError(StoreError):
    """A key cannot be stored because the backend keeps keys as a file hierarchy.

    On a file system ``a`` cannot be both an object and the parent of ``a/b``.
    """


class StoreExistsError(StoreError):
    """A write would overwrite an existing store and the caller did not ask for that."""


class StoreNotFoundError(StoreError):
    """There is no store where one was expected to be read (no root ``zarr.json``).

    Its own class because "nothing there" is not "damaged": ``verify`` reports
    the second and refuses the first.
    """


class MissingKeyError(KeyError, ZarrVectorsError):
    """A key does not exist in the store. Subclass of :class:`KeyError`."""

    def __str__(self) -> str:  # KeyError's str() is the repr of its argument
        return str(self.args[0]) if self.args else "missing key"


class InvalidKeyError(ZarrVectorsError, ValueError):
    """A key is not a valid store key; raised before any storage is touched."""


class RangeNotSatisfiableError(StoreError):
    """A byte range starts at or past the end of an object.

    Raised by a backend primitive (``_get_range``) when the storage refuses such
    a range; :class:`~zarr_vectors.storage.Backend` turns it into ``b""``
    after a ``head`` confirms the object exists, so callers never see it.
    """


class PreconditionFailedError(StoreError):
    """A conditional write found the object in another state than the caller expected.

    ``mode="create"`` found an object already there; ``if_match`` found another
    version. Someone else wrote first: read again and retry, or give up.
    """


class ConcurrentWriteError(StoreError):
    """Another writer holds the store, or changed it while this write was running.

    Nothing of this write was published. Retry later, or raise the time this
    package waits for the store's write lock (``lock_timeout=``).
    """


class TransactionConflictError(ConcurrentWriteError):
    """A transactional backend refused a write's commit: another writer committed first.

    Nothing of the refused write was committed. ``other`` is the id of the
    commit that won, where the backend names one.
    """

    def __init__(self, message: str, *, other: str | None = None) -> None:
        super().__init__(message)
        self.other = other


class CorruptStoreError(StoreError):
    """What a store holds contradicts its own metadata (a missing, truncated or damaged cell).

    The message names the level, array and cell. ``zarr-vectors verify`` lists
    every such problem in a store.
    """


class StaleSnapshotError(StoreError):
    """A handle's snapshot can no longer be served: the store was replaced or changed too much.

    Open the store again (or call ``refresh()`` on the handle) to read its
    current state.
    """


class UnsupportedOperationError(StoreError):
    """The backend does not offer this operation (e.g. conditional writes)."""


class ValidationError(ZarrVectorsError, ValueError):
    """Input data (positions, attributes, bounds, chunk shape) is not usable."""


class FormatVersionError(ZarrVectorsError):
    """A store was written in a format version this package cannot read."""


class MissingExtraError(ZarrVectorsError, ImportError):
    """An optional library a feature needs is not installed (or fails to import).

    Also an :class:`ImportError`, so ``except ImportError`` keeps working. The
    message names the feature, the library and the install command of the
    ``zarr-vectors-core`` extra that brings it; the same facts are attributes.
    Raised by :func:`zarr_vectors._extras.require`.
    """

    def __init__(self, message: str, *, feature: str, library: str, command: str) -> None:
        super().__init__(message, name=library)
        self.feature = feature
        self.library = library
        self.command = command

    def __reduce__(self) -> tuple[object, ...]:  # raised in Dask workers: must pickle
        return (
            _missing_extra,
            (str(self), self.feature, self.library, self.command),
        )


def _missing_extra(message: str, feature: str, library: str, command: str) -> MissingExtraError:
    return MissingExtraError(message, feature=feature, library=library, command=command)


class ConformanceError(ZarrVectorsError, AssertionError):
    """A backend does not behave as the storage protocol says (raised by the kit)."""


class BackendPluginWarning(UserWarning):
    """A backend plugin is broken or conflicts with another one (discovery goes on)."""


__all__ += ["BackendPluginWarning"]
