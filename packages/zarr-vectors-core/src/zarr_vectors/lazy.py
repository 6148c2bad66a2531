"""Lazy access to a store: :func:`open_zv` reads the root metadata and nothing else.

Level metadata, arrays and chunks are fetched when they are first asked for,
so opening a large remote store is one request (the root ``zarr.json``, which
carries consolidated metadata when the store has it).

A :class:`ZVStore` keeps the backend it resolved open for later reads, so it is
closed like a file: ``with open_zv(url) as zv: ...`` or ``zv.close()``. A
backend the caller passed in stays the caller's.

On a versioned backend (the optional capability in
:mod:`zarr_vectors.storage.transactions`) the handle reads through a backend
fixed at the state it opened, so writes committed meanwhile never reach it
(:meth:`ZVStore.refresh` moves it to the newest), and it lists the store's
history and names states (:meth:`ZVStore.history`, :meth:`ZVStore.tag`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from zarr_vectors.exceptions import UnsupportedOperationError, ValidationError
from zarr_vectors.format.crs import CRS_KEY, describe_crs
from zarr_vectors.format.snapshot import Snapshot, load_snapshot
from zarr_vectors.storage.transactions import Version, is_versioned
from zarr_vectors.store.location import StoreLike, StoreLocation

if TYPE_CHECKING:
    import zarr

    from zarr_vectors.format.metadata import LevelMetadata, RootMetadata
    from zarr_vectors.types.points import PointCloud

__all__ = ["ZVLevel", "ZVStore", "open_zv"]


def open_zv(
    path: StoreLike,
    *,
    storage_options: Mapping[str, Any] | None = None,
    backend: str | None = None,
    **backend_kwargs: Any,
) -> ZVStore:
    """Open a store lazily (read-only). Raises if it is not a store this package reads.

    Close the result (or use it in a ``with`` block) to release the backend.
    """
    location = StoreLocation.of(
        path,
        backend=backend,
        backend_kwargs=backend_kwargs,
        storage_options=storage_options,
        caller=open_zv,
    )
    source, owned = location.resolve("r")
    pinned = None
    try:
        pinned = _pinned(source)
        if pinned is None:
            handle = ZVStore(load_snapshot(source), owns_backend=owned)
        else:
            handle = ZVStore(load_snapshot(pinned), owns_backend=True)
            handle._follow, handle._owns_follow = source, owned
    except BaseException:
        if pinned is not None:
            pinned.close()
        if owned:
            source.close()
        raise
    # Where Dask tasks open the store again (to_dask): a path or URL with its options.
    handle._location = location
    return handle


def _pinned(backend: Any) -> Any:
    """A read-only backend at the state a versioned ``backend`` reads now (else ``None``)."""
    if not is_versioned(backend):
        return None
    version = backend.current_version()
    return None if version is None else backend.at_version(version)


class ZVStore:
    """A Zarr Vectors store whose root metadata has been read: a snapshot of it.

    Every read through the handle returns the committed state the handle
    opened, never a mix with writes made since (see :meth:`refresh`).
    """

    def __init__(self, snapshot: Snapshot, *, owns_backend: bool = False) -> None:
        self._snap = snapshot
        self._levels: dict[int, ZVLevel] = {}
        self._owns_backend = owns_backend
        self._location: StoreLocation | None = None
        #: On a versioned store: the backend the handle was opened on (it follows the
        #: newest state; the handle reads through one fixed at the state it opened).
        self._follow: Any = None
        self._owns_follow = False

    def refresh(self) -> ZVStore:
        """Read the store's current committed state (after other processes wrote to it).

        Until then the handle keeps reading the state it opened, whatever is
        written meanwhile, or raises
        :class:`~zarr_vectors.exceptions.StaleSnapshotError` once that state
        is gone (the store was replaced).
        """
        if self._follow is None:
            self._snap = load_snapshot(self._snap.backend)
        else:
            pinned = _pinned(self._follow)
            try:
                snap = load_snapshot(pinned)
            except BaseException:
                pinned.close()
                raise
            self._close_reader()
            self._snap, self._owns_backend = snap, True
        self._levels.clear()
        self.__dict__.pop("group", None)
        self.__dict__.pop("_zarr_store", None)
        return self

    def close(self) -> None:
        """Release the backend this handle opened (a backend passed in stays open)."""
        self._close_reader()
        if self._owns_follow:
            self._owns_follow = False
            self._follow.close()

    def _close_reader(self) -> None:
        if self._owns_backend:
            self._owns_backend = False
            close = getattr(self._snap.backend, "close", None)
            if close is not None:
                close()

    # -- versioned stores --------------------------------------------------------------
    def _versioned(self, what: str) -> Any:
        backend = self._snap.backend
        if not is_versioned(backend):
            raise UnsupportedOperationError(
                f"{backend.url} has no {what}: its backend "
                f"{getattr(backend, 'backend_name', '?')!r} keeps only the current state. "
                "Stores on a versioned backend keep every commit (docs/versioned-stores.md)."
            )
        return backend

    @property
    def version(self) -> str | None:
        """The id of the committed state this handle reads (``None`` on a store without
        versions)."""
        backend: Any = self._snap.backend
        return backend.current_version() if is_versioned(backend) else None

    def history(self) -> list[Version]:
        """The committed states leading to the one this handle reads, newest first
        (each with ``id``, ``written_at``, ``message``, ``parent_id``)."""
        return list(self._versioned("history").history())

    def tag(self, name: str, version: str | None = None) -> str:
        """Name ``version`` (default: the state this handle reads) ``name``; return its id.

        Reading ``tag=name`` later returns that state. Tags are never moved.
        """
        return str(self._versioned("tags").tag_version(name, version))

    def tags(self) -> dict[str, str]:
        """Every tag of the store and the id of the state it names."""
        return dict(self._versioned("tags").tags())

    def branches(self) -> dict[str, str]:
        """Every branch of the store and the id of the state at its tip."""
        return dict(self._versioned("branches").branches())

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def metadata(self) -> RootMetadata:
        """Root metadata (chunk shape, bounds, axes, geometry types, capabilities)."""
        return self._snap.meta

    @property
    def format_version(self) -> str:
        return self._snap.meta.zv_version

    @property
    def consolidated(self) -> bool:
        """Whether the root carries consolidated metadata."""
        return self._snap.consolidated is not None

    @property
    def levels(self) -> list[int]:
        """Resolution levels, finest (0) first."""
        return [int(p) for p in self._snap.meta.levels]

    def level(self, n: int = 0) -> ZVLevel:
        """One resolution level (nothing fetched until its data is asked for)."""
        from zarr_vectors.types.points import check_level

        n = check_level(n)
        if n not in self.levels:
            raise ValidationError(f"level {n} does not exist; this store has levels {self.levels}")
        if n not in self._levels:
            self._levels[n] = ZVLevel(self, n)
        return self._levels[n]

    def __getitem__(self, n: int) -> ZVLevel:
        return self.level(n)

    def read_points(
        self,
        *,
        level: int = 0,
        bbox: tuple[Sequence[float], Sequence[float]] | None = None,
        attribute_names: Sequence[str] | None = None,
    ) -> PointCloud:
        """Same as :func:`zarr_vectors.types.points.read_points`, reusing this store's metadata."""
        return self.level(level).read(bbox=bbox, attribute_names=attribute_names)

    def to_dask(
        self,
        *,
        level: int = 0,
        bbox: tuple[Sequence[float], Sequence[float]] | None = None,
        attribute_names: Sequence[str] | None = None,
        axes: Sequence[str] | None = None,
        partition_cells: int | None = None,
    ) -> Any:
        """The points of ``level`` as a lazy Dask DataFrame, read by Dask workers.

        One partition per group of ``partition_cells`` neighbouring cells (default:
        about a million points each); only cells meeting ``bbox`` are read, and only
        ``attribute_names``. Columns: ``x, y, z`` (or ``axes``), then the attributes.
        Every partition reads the state this handle shows, opening its own backend
        from the path or URL the handle was opened with; see
        :func:`zarr_vectors.dask.points_frame`.
        """
        if self._location is None or self._location.url is None:
            raise ValidationError(
                "to_dask() needs a store opened from a path or URL (Dask tasks open it "
                "again); open_zv(url, storage_options={...}) instead of a backend object"
            )
        from zarr_vectors.dask import points_frame

        return points_frame(
            self._location.for_workers(),
            self._snap,
            level=level,
            bbox=bbox,
            attribute_names=attribute_names,
            axes=axes,
            partition_cells=partition_cells,
        )

    @cached_property
    def group(self) -> zarr.Group:
        """The root as a zarr-python group (read-only), opened on first use."""
        import zarr

        return zarr.open_group(
            self._zarr_store,
            mode="r",
            zarr_format=3,
            use_consolidated=True if self.consolidated else None,
        )

    @cached_property
    def _zarr_store(self) -> Any:
        from zarr_vectors.storage.zarr_adapter import BackendStore, ZarrStoreBackend

        source = self._snap.backend
        if isinstance(source, ZarrStoreBackend):
            return source.store
        return BackendStore(source, read_only=True)  # type: ignore[arg-type]

    @property
    def crs(self) -> dict[str, Any] | None:
        """The store's coordinate reference system (the root ``crs``; see
        :mod:`zarr_vectors.format.crs`), or ``None`` when it has none."""
        found = self.metadata.extra.get(CRS_KEY)
        return dict(found) if isinstance(found, Mapping) else None

    def _repr_html_(self) -> str:
        """A short summary for notebooks: location, backend, bounds, levels, counts, attributes."""
        from html import escape

        m = self.metadata
        rows = [
            ("store", self._snap.backend.url),
            ("backend", str(getattr(self._snap.backend, "backend_name", "?"))),
            ("format", f"Zarr Vectors {m.zv_version}, generation {m.generation}"),
            ("bounds", f"{list(m.bounds[0])} .. {list(m.bounds[1])}"),
            ("chunk shape", str(list(m.chunk_shape))),
            ("crs", describe_crs(self.crs)),
        ]
        for n in self.levels:
            level = self.level(n)
            rows.append(
                (
                    f"level {n}",
                    f"{level.vertex_count:,} points in {len(level.nonempty_chunks):,} cells; "
                    f"attributes: {', '.join(level.attribute_names) or 'none'}",
                )
            )
        body = "".join(
            f"<tr><th style='text-align:left'>{escape(k)}</th><td>{escape(v)}</td></tr>"
            for k, v in rows
        )
        return f"<table><caption>ZVStore</caption>{body}</table>"

    def __repr__(self) -> str:
        m = self.metadata
        return (
            f"ZVStore({self._snap.backend.url}, version={m.zv_version}, levels={self.levels}, "
            f"chunk_shape={list(m.chunk_shape)})"
        )


class ZVLevel:
    """One resolution level; metadata and cells are fetched when asked for."""

    def __init__(self, store: ZVStore, level: int) -> None:
        self._store = store
        self._snap = store._snap
        self.index = level

    @cached_property
    def metadata(self) -> LevelMetadata:
        return self._snap.level_meta(self.index)

    @property
    def vertex_count(self) -> int:
        return self.metadata.vertex_count

    @cached_property
    def attribute_names(self) -> list[str]:
        from zarr_vectors.format.levels import attribute_names

        return attribute_names(self._snap, self.index)

    @cached_property
    def nonempty_chunks(self) -> list[tuple[int, ...]]:
        """World coordinates of the cells holding points.

        A malformed ``nonempty_chunks`` is a CorruptStoreError, parsed where reads parse it.
        """
        from zarr_vectors.format.levels import listed_cells

        doc = self._snap.node(f"{self.index}/vertices") or {}
        attrs = doc.get("attributes", {})
        if attrs.get("nonempty_chunks") is None:
            return []
        origin = [0] * self._snap.meta.ndim  # only used for listings, not for the list
        return [tuple(w) for w in listed_cells(self._snap, self.index, attrs, origin).tolist()]

    def array(self, name: str = "vertices") -> zarr.Array[Any]:
        """A cell array of this level (``vertices``, ``vertex_fragments``,
        ``vertex_attributes/NAME``) as a zarr-python array."""
        import zarr

        return zarr.open_array(self._store._zarr_store, path=f"{self.index}/{name}", mode="r")

    def read(
        self,
        *,
        bbox: tuple[Sequence[float], Sequence[float]] | None = None,
        attribute_names: Sequence[str] | None = None,
    ) -> PointCloud:
        """The level's points (those inside ``bbox``)."""
        from zarr_vectors.format.levels import read_level
        from zarr_vectors.types.points import PointCloud, check_bbox

        box = None if bbox is None else check_bbox(bbox, self._snap.meta.ndim)
        if isinstance(attribute_names, str):
            attribute_names = [attribute_names]
        data = read_level(self._snap, self.index, bbox=box, attribute_names_=attribute_names)
        return PointCloud(data.positions, data.attributes, self.index)

    def chunk(
        self, coords: Sequence[int], attribute_names: Sequence[str] | None = None
    ) -> PointCloud:
        """The points of one cell, by world cell coordinates (``floor(position / chunk)``)."""
        import numpy as np

        from zarr_vectors.format.grid import world_key
        from zarr_vectors.format.levels import fetch_cells
        from zarr_vectors.types.points import PointCloud

        key = world_key(coords)
        cells, dtype, layout = fetch_cells(
            self._snap, self.index, only={key}, attribute_names_=attribute_names
        )
        if not cells:
            return PointCloud(
                np.empty((0, self._snap.meta.ndim), dtype),
                {n: np.empty((0, *shape), dt) for n, (dt, shape) in layout.items()},
                self.index,
            )
        return PointCloud(cells[0].positions, cells[0].attributes, self.index)

    def __repr__(self) -> str:
        return f"ZVLevel({self.index})"
