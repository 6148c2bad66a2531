"""Dask reads of objects (lines, polylines, graphs): vertices with their object ids.

The driver reads the root once (one snapshot) and the object index's ids, and
splits the objects into groups; each partition task opens its own backend from
the store's location, reads its group of objects whole (only the cells those
objects touch, :func:`~zarr_vectors.format.objread.read_objects`) from the root
document the driver saw, and returns a pandas DataFrame: ``object_id``, one
column per axis, one per vertex attribute. Objects never straddle partitions,
so a ``groupby("object_id")`` needs no shuffle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from zarr_vectors.dask._support import READ_PARTITION_POINTS, _module, _require_dask
from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format.tables import vertex_frame
from zarr_vectors.store.location import StoreLocation

__all__ = ["objects_frame"]


def objects_frame(
    store: Any,
    *,
    level: int = 0,
    object_ids: Sequence[int] | None = None,
    attribute_names: Sequence[str] | None = None,
    axes: Sequence[str] | None = None,
    objects_per_partition: int | None = None,
    storage_options: Mapping[str, Any] | None = None,
    backend: str | None = None,
    backend_kwargs: Mapping[str, Any] | None = None,
    caller: Callable[..., Any] | None = None,
) -> Any:
    """A lazy Dask DataFrame of the vertices of a store's objects, with ``object_id``.

    One partition per ``objects_per_partition`` objects (default: about
    :data:`~zarr_vectors.dask._support.READ_PARTITION_POINTS` vertices each),
    objects in id order, each object whole inside one partition.
    """
    from zarr_vectors.format.objarrays import read_plain
    from zarr_vectors.format.snapshot import load_snapshot
    from zarr_vectors.format.validate import check_level

    _require_dask("a Dask DataFrame of objects")
    dd = _module("dask.dataframe")
    level = check_level(level)
    location = StoreLocation.of(
        store,
        backend=backend,
        backend_kwargs=backend_kwargs,
        storage_options=storage_options,
        caller=caller,
    )
    workers = location.for_workers()
    with location.open("r") as source:
        snap = load_snapshot(source)
        snap.check_complete()
        lm = snap.level_meta(level)
        path = f"{level}/object_index/object_ids"
        doc = snap.node(path)
        if doc is None:
            raise ValidationError(
                f"level {level} has no object index; read points with read_points"
            )
        ids = read_plain(snap, path, doc)
        first = _partition(
            workers, snap.root_doc, level, ids[:0], attribute_names, axes, empty=True
        )
    if object_ids is not None:
        ids = ids[np.isin(ids, np.asarray(list(object_ids), dtype=np.int64))]
    if objects_per_partition is None:
        per_object = max(1.0, lm.vertex_count / max(1, int(doc["shape"][0])))
        objects_per_partition = max(1, int(READ_PARTITION_POINTS // per_object))
    if isinstance(objects_per_partition, bool) or int(objects_per_partition) < 1:
        raise ValidationError(
            f"objects_per_partition must be an integer >= 1, got {objects_per_partition!r}"
        )
    step = int(objects_per_partition)
    groups = [ids[i : i + step] for i in range(0, len(ids), step)]
    if not groups:
        return dd.from_pandas(first, npartitions=1)
    return dd.from_map(
        _read_objects_partition,
        groups,
        location=workers,
        root=snap.root_doc,
        level=level,
        names=None if attribute_names is None else list(attribute_names),
        axes=None if axes is None else list(axes),
        meta=first,
        label="zarr-vectors-objects",
        enforce_metadata=False,
    )


def _partition(
    location: StoreLocation,
    root: dict[str, Any],
    level: int,
    ids: Any,
    names: Sequence[str] | None,
    axes: Sequence[str] | None,
    *,
    empty: bool = False,
) -> Any:
    from zarr_vectors.format.objread import read_objects
    from zarr_vectors.format.snapshot import snapshot_from_doc

    with location.open("r") as source:
        snap = snapshot_from_doc(source, root)
        data = read_objects(snap, level, object_ids=ids, attribute_names=names)
    frame = vertex_frame(data.positions, data.attributes, axes, feature="Dask reads")
    owner = np.repeat(data.object_ids, np.diff(data.offsets))
    frame.insert(0, "object_id", owner.astype(np.int64))
    return frame.iloc[:0] if empty else frame


def _read_objects_partition(
    ids: Any,
    *,
    location: StoreLocation,
    root: dict[str, Any],
    level: int,
    names: list[str] | None,
    axes: list[str] | None,
) -> Any:
    """One group of objects as a pandas DataFrame (a Dask task)."""
    return _partition(location, root, level, ids, names, axes)
