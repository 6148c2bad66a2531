"""Dask reads: a level as a lazy DataFrame whose partitions each read a group of cells."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format.cellsums import restrict_listing
from zarr_vectors.format.tables import vertex_frame
from zarr_vectors.store.location import StoreLike, StoreLocation

if TYPE_CHECKING:
    from zarr_vectors.format.snapshot import Snapshot

from zarr_vectors.dask._support import READ_PARTITION_POINTS, Box, _module, _require_dask


# -- the read -----------------------------------------------------------------------------
def read_points_frame(
    store: StoreLike,
    *,
    level: int = 0,
    bbox: Box | None = None,
    attribute_names: Sequence[str] | None = None,
    axes: Sequence[str] | None = None,
    partition_cells: int | None = None,
    storage_options: Mapping[str, Any] | None = None,
    backend: str | None = None,
    backend_kwargs: Mapping[str, Any] | None = None,
    caller: Callable[..., Any] | None = None,
) -> Any:
    """A lazy Dask DataFrame of the points of ``level`` (see :func:`points_frame`).

    The root is read here, once: every partition reads that committed state.
    """
    from zarr_vectors.format.snapshot import load_snapshot

    _require_dask("read_points(..., as_dask=True)")
    location = StoreLocation.of(
        store,
        backend=backend,
        backend_kwargs=backend_kwargs,
        storage_options=storage_options,
        caller=caller,
    )
    workers = location.for_workers()  # refused before anything is opened
    with location.open("r") as source:
        snap = load_snapshot(source)
        return points_frame(
            workers,
            snap,
            level=level,
            bbox=bbox,
            attribute_names=attribute_names,
            axes=axes,
            partition_cells=partition_cells,
        )


def points_frame(
    location: StoreLocation,
    snap: Snapshot,
    *,
    level: int = 0,
    bbox: Box | None = None,
    attribute_names: Sequence[str] | None = None,
    axes: Sequence[str] | None = None,
    partition_cells: int | None = None,
) -> Any:
    """The points of ``level`` in the snapshot ``snap`` as a lazy Dask DataFrame.

    Columns: one per axis (``x, y, z`` or ``axes``), then one per attribute
    (``name_0, name_1...`` for an attribute of several values per point). One
    partition per group of ``partition_cells`` cells (default: about
    :data:`READ_PARTITION_POINTS` points each), neighbours in the grid's order;
    only the cells meeting ``bbox`` are listed and only ``attribute_names`` read.
    Every partition reads the state ``snap`` shows (a store replaced since makes
    it raise :class:`~zarr_vectors.exceptions.StaleSnapshotError`).
    """
    _require_dask("a Dask DataFrame of points")
    dd = _module("dask.dataframe")

    from zarr_vectors.format.grid import cells_in_box, world_key
    from zarr_vectors.format.levels import (
        ATTRIBUTES,
        FRAGMENTS,
        VERTICES,
        le_dtype,
        listed_cells,
    )
    from zarr_vectors.format.levels import attribute_names as stored_attributes
    from zarr_vectors.format.scaled import positions_dtype
    from zarr_vectors.format.validate import check_bbox, check_level

    level = check_level(level)
    box = None if bbox is None else check_bbox(bbox, snap.meta.ndim)
    if isinstance(attribute_names, str):
        attribute_names = [attribute_names]
    snap.check_complete()
    lm = snap.level_meta(level)
    names = list(stored_attributes(snap, level) if attribute_names is None else attribute_names)
    paths = [f"{level}/{VERTICES}", f"{level}/{FRAGMENTS}"]
    paths += [f"{level}/{ATTRIBUTES}/{n}" for n in names]
    docs = snap.nodes(paths)
    missing = [n for n, p in zip(names, paths[2:], strict=True) if docs[p] is None]
    if missing:
        raise ValidationError(
            f"attribute(s) {missing} do not exist at level {level}; stored attributes: "
            f"{stored_attributes(snap, level)}"
        )
    vdoc = docs[paths[0]]
    ndim = snap.meta.ndim
    layout: dict[str, tuple[np.dtype[Any], tuple[int, ...]]] = {}
    for n, p in zip(names, paths[2:], strict=True):
        described = (docs[p] or {}).get("attributes", {})
        layout[n] = (le_dtype(described["dtype"]), tuple(described.get("row_shape") or ()))
    meta_frame = vertex_frame(
        np.empty((0, ndim), le_dtype(positions_dtype((vdoc or {}).get("attributes", {})))),
        {n: np.empty((0, *shape), dt) for n, (dt, shape) in layout.items()},
        axes,
        feature="Dask reads",
    )
    if vdoc is None:
        return dd.from_pandas(meta_frame, npartitions=1)
    vattrs = vdoc.get("attributes", {})
    origin = [int(o) for o in vattrs.get("chunk_grid_origin", [0] * ndim)]
    world = listed_cells(snap, level, vattrs, origin)
    if box is not None and len(world):
        world = world[cells_in_box(world, snap.meta.chunk_shape, box)]
    if not len(world):
        return dd.from_pandas(meta_frame, npartitions=1)
    world = world[np.lexsort(world.T[::-1])]  # neighbours together: grid order
    if partition_cells is None:
        listed = max(1, len(vattrs.get("nonempty_chunks") or world))
        per_cell = max(1.0, lm.vertex_count / listed)
        partition_cells = max(1, int(READ_PARTITION_POINTS // per_cell))
    if isinstance(partition_cells, bool) or int(partition_cells) < 1:
        raise ValidationError(f"partition_cells must be an integer >= 1, got {partition_cells!r}")
    keys = [world_key(w) for w in world.tolist()]
    step = int(partition_cells)
    groups = [tuple(keys[i : i + step]) for i in range(0, len(keys), step)]
    parts = [(group, _partition_root(snap, level, docs, group)) for group in groups]
    return dd.from_map(
        _read_partition,
        parts,
        location=location,
        level=level,
        bbox=None if box is None else ([float(v) for v in box[0]], [float(v) for v in box[1]]),
        names=names,
        axes=None if axes is None else list(axes),
        meta=meta_frame,
        label="zarr-vectors-read",
        enforce_metadata=False,
    )


def _partition_root(
    snap: Snapshot, level: int, docs: Mapping[str, dict[str, Any] | None], cells: Sequence[str]
) -> dict[str, Any]:
    """The snapshot's root document as one read partition needs it.

    The root's attributes (metadata, generation, journal) as they were, with
    consolidated metadata holding only the level's group and the arrays read,
    whose ``nonempty_chunks`` list only this partition's cells: a task gets its
    share of the listing rather than all of it, and every task reads exactly
    the committed state the driver saw.
    """
    metadata: dict[str, Any] = {str(level): snap.node(str(level))}
    for path, doc in docs.items():
        if doc is None:
            continue
        attributes = restrict_listing(doc.get("attributes", {}), cells)  # table cut too
        metadata[path] = {**doc, "attributes": attributes}
    root = {k: v for k, v in snap.root_doc.items() if k != "consolidated_metadata"}
    root["consolidated_metadata"] = {
        "kind": "inline",
        "must_understand": False,
        "metadata": metadata,
    }
    return root


def _read_partition(
    part: tuple[tuple[str, ...], dict[str, Any]],
    *,
    location: StoreLocation,
    level: int,
    bbox: Box | None,
    names: list[str],
    axes: list[str] | None,
) -> Any:
    """Fetch one group of cells and return them as a pandas DataFrame (a Dask task)."""
    from zarr_vectors.format.levels import fetch_cells
    from zarr_vectors.format.snapshot import snapshot_from_doc

    cells_wanted, root = part
    with location.open("r") as backend:
        snap = snapshot_from_doc(backend, root)
        cells, dtype, layout = fetch_cells(
            snap, level, only=set(cells_wanted), attribute_names_=names
        )
    ndim = snap.meta.ndim
    if cells:
        positions = np.concatenate([c.positions for c in cells])
        attrs = {n: np.concatenate([c.attributes[n] for c in cells]) for n in names}
    else:
        positions = np.empty((0, ndim), dtype)
        attrs = {n: np.empty((0, *layout[n][1]), layout[n][0]) for n in names}
    if bbox is not None and len(positions):
        # Compared in float64, as read_points compares.
        lo, hi = np.asarray(bbox[0], np.float64), np.asarray(bbox[1], np.float64)
        inside = np.ones(len(positions), dtype=bool)
        for axis in range(ndim):
            column = positions[:, axis]
            inside &= column >= lo[axis]
            inside &= column <= hi[axis]
        positions = positions[inside]
        attrs = {n: a[inside] for n, a in attrs.items()}
    return vertex_frame(positions, attrs, axes, feature="Dask reads")
