"""Creating, opening and consolidating Zarr Vectors stores on any backend.

``path`` is anything :func:`zarr_vectors.store.location.open_location` accepts:
a local path (str or :class:`pathlib.Path`), a URL (``s3://``, ``gs://``,
``az://``, ``http(s)://``, ...), an already made backend, or a zarr-python
store. ``backend=`` and ``**backend_kwargs`` choose and configure the backend
exactly as :func:`zarr_vectors.storage.make_backend` does.

This is the one place a zarr-python view of a store is made
(:func:`as_zarr_store`, and the groups :func:`create_store` and
:func:`open_store` return): the store adapter owns a backend it resolved from a
path and closes it with the store (``group.store.close()``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format import journal
from zarr_vectors.format.metadata import (
    KNOWN_CAPABILITIES,
    RootMetadata,
)
from zarr_vectors.format.snapshot import Snapshot, load_snapshot
from zarr_vectors.format.transaction import create_empty, rewrite_root
from zarr_vectors.store.location import StoreLike, StoreLocation
from zarr_vectors.store.modes import check_mode

if TYPE_CHECKING:
    import zarr
    from zarr.abc.store import Store

    from zarr_vectors.format.verify import VerifyReport
    from zarr_vectors.storage.base import Backend

__all__ = [
    "as_zarr_store",
    "consolidate_metadata",
    "create_store",
    "open_store",
    "read_metadata",
    "verify_store",
]


def create_store(
    path: StoreLike,
    *,
    bounds: Sequence[Sequence[float]] | None = None,
    chunk_shape: Sequence[float] | None = None,
    axes: Sequence[str | Mapping[str, Any]] | None = None,
    geometry_types: Sequence[str] | None = None,
    format_capabilities: Sequence[str] = (),
    mode: str = "w-",
    consolidate: bool = True,
    storage_options: Mapping[str, Any] | None = None,
    backend: str | None = None,
    **backend_kwargs: Any,
) -> zarr.Group:
    """Create an empty Zarr Vectors store (root metadata and an empty level 0).

    Points are added with ``write_points(path, ..., mode="a")``. ``mode="w-"``
    (default) fails if something is already there, ``"w"`` replaces it.
    """
    check_mode(mode, ("w-", "w"), "create_store mode")
    if bounds is None:
        raise ValidationError(
            "create_store needs bounds=((min...), (max...)): the chunk grid is sized from them "
            "(write_points can take them from the data instead)"
        )
    _check_shapes(chunk_shape, bounds)
    unknown = sorted(set(format_capabilities) - KNOWN_CAPABILITIES)
    if unknown:
        raise ValidationError(
            f"unknown format capabilities {unknown}; known tokens: {sorted(KNOWN_CAPABILITIES)} "
            "(use the CAP_* constants of zarr_vectors.format.metadata)"
        )
    meta = RootMetadata.build(
        chunk_shape=chunk_shape if chunk_shape is not None else None,  # type: ignore[arg-type]
        bounds=bounds,
        axes=axes,
        geometry_types=geometry_types,
        format_capabilities=format_capabilities,
    )
    target, owned = StoreLocation.of(
        path,
        backend=backend,
        backend_kwargs=backend_kwargs,
        storage_options=storage_options,
        caller=create_store,
    ).resolve("w")
    try:
        create_empty(target, meta, mode=mode, consolidate=consolidate)
        return _zarr_group(target, owned, "r+")
    except BaseException:
        if owned:
            target.close()
        raise


def _check_shapes(chunk_shape: Any, bounds: Sequence[Sequence[float]]) -> None:
    """A chunk shape and bounds that disagree on the number of axes, named as such."""
    try:
        n_cs, n_lo, n_hi = len(chunk_shape), len(bounds[0]), len(bounds[1])
    except (TypeError, IndexError):
        return  # not sequences: RootMetadata.build says what is wrong with them
    if not n_cs == n_lo == n_hi:
        raise ValidationError(
            f"chunk_shape has {n_cs} values but the bounds corners have {n_lo} and {n_hi}; "
            "give one chunk size and one min/max per axis"
        )


def read_metadata(
    path: StoreLike,
    *,
    storage_options: Mapping[str, Any] | None = None,
    backend: str | None = None,
    **backend_kwargs: Any,
) -> Snapshot:
    """The store's metadata (one request for the root document)."""
    with StoreLocation.of(
        path,
        backend=backend,
        backend_kwargs=backend_kwargs,
        storage_options=storage_options,
        caller=read_metadata,
    ).open("r") as source:
        snap = load_snapshot(source)
        snap.nodes(snap.meta.levels)  # level documents fetched while the backend is open
        return snap


def open_store(
    path: StoreLike,
    mode: str = "r",
    *,
    storage_options: Mapping[str, Any] | None = None,
    backend: str | None = None,
    **backend_kwargs: Any,
) -> zarr.Group:
    """Open an existing store as a zarr group, after checking it is one this package reads.

    Raises :class:`~zarr_vectors.exceptions.FormatVersionError` (naming both
    versions) for a format version this package cannot read, and
    :class:`~zarr_vectors.exceptions.StoreError` when there is no store.
    """
    check_mode(mode, ("r", "r+", "a"), "open_store mode")
    source, owned = StoreLocation.of(
        path,
        backend=backend,
        backend_kwargs=backend_kwargs,
        storage_options=storage_options,
        caller=open_store,
    ).resolve("r" if mode == "r" else "r+")
    try:
        snap = load_snapshot(source)
        return _zarr_group(source, owned, mode, consolidated=snap.consolidated is not None)
    except BaseException:
        if owned:
            source.close()
        raise


def as_zarr_store(
    path: StoreLike,
    *,
    mode: str = "r",
    storage_options: Mapping[str, Any] | None = None,
    backend: str | None = None,
    **backend_kwargs: Any,
) -> Store:
    """A zarr-python store for ``path``, opened for ``mode`` (see :mod:`~zarr_vectors.store.modes`).

    A zarr store passed in is returned as it is (after the mode check); anything
    else is resolved to a backend and adapted once. The adapter owns a backend
    it resolved and closes it with ``store.close()``.
    """
    from zarr.abc.store import Store

    if isinstance(path, Store):
        StoreLocation.of(
            path,
            backend=backend,
            backend_kwargs=backend_kwargs,
            storage_options=storage_options,
            caller=as_zarr_store,
        ).resolve(mode)
        return path
    source, owned = StoreLocation.of(
        path,
        backend=backend,
        backend_kwargs=backend_kwargs,
        storage_options=storage_options,
        caller=as_zarr_store,
    ).resolve(mode)
    return _adapter(source, owned, read_only=mode == "r")


def _adapter(source: Backend, owned: bool, *, read_only: bool) -> Store:
    from zarr_vectors.storage.zarr_adapter import BackendStore, ZarrStoreBackend

    if isinstance(source, ZarrStoreBackend) and not source.prefix:
        return source.store  # the caller's own zarr store, given back
    hook = None
    if not read_only:
        from zarr_vectors.store.zarr_group import refresh_consolidated

        def hook(key: str) -> None:
            refresh_consolidated(source, key)

    return BackendStore(source, read_only=read_only, owns_backend=owned, on_metadata_change=hook)


def _zarr_group(
    source: Backend, owned: bool, mode: str, *, consolidated: bool = False
) -> zarr.Group:
    import zarr

    from zarr_vectors.store.zarr_group import ZVGroup

    group = zarr.open_group(
        _adapter(source, owned, read_only=mode == "r"),
        mode="r" if mode == "r" else "r+",
        zarr_format=3,
        use_consolidated=True if consolidated else None,
    )
    return ZVGroup(group._async_group)


def consolidate_metadata(
    path: StoreLike,
    *,
    storage_options: Mapping[str, Any] | None = None,
    backend: str | None = None,
    **backend_kwargs: Any,
) -> int:
    """Write zarr v3 consolidated metadata inline in the root ``zarr.json``.

    Lists the store once and gathers every node document, so that opening the
    store afterwards costs one request. Returns the number of nodes
    consolidated. Writes through this package keep it up to date afterwards.
    """

    def consolidated(snap: Snapshot) -> tuple[dict[str, Any], int]:
        docs = journal.gather_node_docs(snap.backend)
        doc = dict(snap.root_doc)
        doc["consolidated_metadata"] = journal.sorted_consolidated(docs)
        return doc, len(docs)

    with StoreLocation.of(
        path,
        backend=backend,
        backend_kwargs=backend_kwargs,
        storage_options=storage_options,
        caller=consolidate_metadata,
    ).open("r+") as target:
        count: int = rewrite_root(target, consolidated)
    return count


def verify_store(
    path: StoreLike,
    *,
    progress: Callable[[int, int], None] | None = None,
    repair: bool = False,
    storage_options: Mapping[str, Any] | None = None,
    backend: str | None = None,
    **backend_kwargs: Any,
) -> VerifyReport:
    """Check the whole store against its metadata; the report lists every problem found.

    Every listed cell of every level is fetched (with the backend's bounded
    concurrency) and decoded, checksums included; nothing is written, unless
    ``repair``: then what killed writers left is repaired first, under the
    write lease (:func:`~zarr_vectors.format.verify.repair_backend`), and
    ``report.repaired`` says what was done.
    ``report.ok`` is false when a read could fail or return wrong data.
    """
    from zarr_vectors.format.verify import repair_backend, verify_backend

    with StoreLocation.of(
        path,
        backend=backend,
        backend_kwargs=backend_kwargs,
        storage_options=storage_options,
        caller=verify_store,
    ).open("a" if repair else "r") as source:
        repaired = repair_backend(source) if repair else []
        report = verify_backend(source, progress=progress)
        report.repaired = repaired
        return report
