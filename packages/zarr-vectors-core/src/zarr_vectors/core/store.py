"""Creating, opening and consolidating Zarr Vectors stores on any backend.

``path`` is anything :func:`zarr_vectors.core.kv.resolve_store` accepts: a
local path (str or :class:`pathlib.Path`), a URL (``s3://``, ``gs://``,
``az://``, ``http(s)://``, ...), an already made backend, or a zarr-python
store used as it is. ``backend=`` and ``**backend_kwargs`` choose and
configure the backend exactly as :func:`zarr_vectors.core.backends.make_backend`
does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from zarr_vectors.core import commit as _commit
from zarr_vectors.core.kv import KV, dump_json, resolve_store
from zarr_vectors.core.metadata import (
    KNOWN_CAPABILITIES,
    LevelMetadata,
    RootMetadata,
    group_json,
)
from zarr_vectors.core.snapshot import ROOT_KEY, Snapshot, load_snapshot
from zarr_vectors.exceptions import StoreExistsError, ValidationError

if TYPE_CHECKING:
    import zarr

__all__ = ["consolidate_metadata", "create_store", "open_store", "read_metadata"]

_OPEN_MODES = ("r", "r+", "a")


def create_store(
    path: Any,
    *,
    bounds: Sequence[Sequence[float]] | None = None,
    chunk_shape: Sequence[float] | None = None,
    axes: Sequence[str | Mapping[str, Any]] | None = None,
    geometry_types: Sequence[str] | None = None,
    format_capabilities: Sequence[str] = (),
    mode: str = "w-",
    consolidate: bool = True,
    backend: Any = None,
    **backend_kwargs: Any,
) -> zarr.Group:
    """Create an empty Zarr Vectors store (root metadata and an empty level 0).

    Points are added with ``write_points(path, ..., mode="a")``. ``mode="w-"``
    (default) fails if something is already there, ``"w"`` replaces it.
    """
    if mode not in ("w-", "w"):
        raise ValidationError(f"create_store mode must be 'w-' or 'w', got {mode!r}")
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
            "(use the CAP_* constants of zarr_vectors.core.metadata)"
        )
    meta = RootMetadata.build(
        chunk_shape=chunk_shape if chunk_shape is not None else None,  # type: ignore[arg-type]
        bounds=bounds,
        axes=axes,
        geometry_types=geometry_types,
        format_capabilities=format_capabilities,
    )
    kv = KV(resolve_store(path, mode="w", backend=backend, backend_kwargs=backend_kwargs))
    kv.check_writable()
    keys = kv.list("")
    if keys and mode == "w-":
        raise StoreExistsError(
            f"{kv.describe()} is not empty; pass mode='w' to replace what is there"
        )
    meta = _commit.bump(meta)
    _commit.put_root(kv, meta, pending={"mode": "w"})
    if keys:
        kv.delete_many(k for k in keys if k != ROOT_KEY)
    level = group_json(LevelMetadata(level=0, vertex_count=0).to_attributes())
    kv.set_many([("0/zarr.json", dump_json(level))])
    _commit.put_root(kv, meta, consolidated={"0": level} if consolidate else None)
    return _zarr_group(kv, "r+")


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


def read_metadata(path: Any, *, backend: Any = None, **backend_kwargs: Any) -> Snapshot:
    """The store's metadata (one request for the root document)."""
    kv = KV(resolve_store(path, mode="r", backend=backend, backend_kwargs=backend_kwargs))
    return load_snapshot(kv)


def open_store(
    path: Any, mode: str = "r", *, backend: Any = None, **backend_kwargs: Any
) -> zarr.Group:
    """Open an existing store as a zarr group, after checking it is one this package reads.

    Raises :class:`~zarr_vectors.exceptions.FormatVersionError` (naming both
    versions) for a format version this package cannot read, and
    :class:`~zarr_vectors.exceptions.StoreError` when there is no store.
    """
    if mode not in _OPEN_MODES:
        raise ValidationError(f"open_store mode must be one of {_OPEN_MODES}, got {mode!r}")
    kv = KV(
        resolve_store(
            path, mode="r" if mode == "r" else "w", backend=backend, backend_kwargs=backend_kwargs
        )
    )
    snap = load_snapshot(kv)
    return _zarr_group(kv, mode, consolidated=snap.consolidated is not None)


def _zarr_group(kv: KV, mode: str, *, consolidated: bool = False) -> zarr.Group:
    import zarr

    return zarr.open_group(
        kv.store,
        mode="r" if mode == "r" else "r+",
        zarr_format=3,
        use_consolidated=True if consolidated else None,
    )


def consolidate_metadata(path: Any, *, backend: Any = None, **backend_kwargs: Any) -> int:
    """Write zarr v3 consolidated metadata inline in the root ``zarr.json``.

    Lists the store once and gathers every node document, so that opening the
    store afterwards costs one request. Returns the number of nodes
    consolidated. Writes through this package keep it up to date afterwards.
    """
    kv = KV(resolve_store(path, mode="w", backend=backend, backend_kwargs=backend_kwargs))
    kv.check_writable()
    snap = load_snapshot(kv)
    docs = _commit.gather_node_docs(kv)
    doc = dict(snap.root_doc)
    doc["consolidated_metadata"] = _commit.sorted_consolidated(docs)
    kv.set_many([(ROOT_KEY, dump_json(doc))])
    return len(docs)
