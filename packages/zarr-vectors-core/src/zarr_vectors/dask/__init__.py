"""Many machines: point clouds written and read by Dask workers (``dask`` + ``distributed``).

A cloud that outgrows one machine is written and read by the workers of a Dask
cluster, each talking to the storage itself; the process that calls
:func:`~zarr_vectors.types.points.write_points` (the *driver*) only runs the
commit sequence of :mod:`zarr_vectors.format.transaction`. A write goes:

1. **Bin** (one task per input partition, in parallel): each partition of the
   Dask array or DataFrame is checked and cast (positions finite, inside the
   bounds, attributes numeric) and every point gets the key of the *block* of
   cells it falls in. A block holds whole cells and whole bins of every coarser
   level (and whole shards, when the store is sharded), so whatever a level
   needs to encode one of its cells is in one block.
2. **Shuffle**: Dask's own shuffle (``DataFrame.shuffle`` on the block key; the
   peer-to-peer shuffle on a ``distributed`` cluster) brings the points of one
   block into one output partition. Each point carries its input position too,
   so a partition is put back into input order and its cells come out byte for
   byte as a single-process write makes them.
3. **Write** (one task per output partition): the worker opens its own backend
   from the store's URL and options
   (:class:`~zarr_vectors.store.location.StoreLocation`), encodes the
   partition's cells with the same code as a local write and puts each cell
   object once, under the prefix the transaction gave (a replace writes beside
   the old store). It returns only what the cells add up to: points and cell
   keys per level.
4. **Commit** (driver): node documents and the root, once, as every write does.

The driver holds the store's write lease (and renews it) from before the first
task to the commit; the workers never touch the root. A task that fails stops
the others (they check a stop signal between batches of objects), the driver
waits until none is writing any more and raises: nothing was committed, the
previous store is what readers see, and the next writer removes what was
staged. Secrets travel only inside the pickled task arguments: task names carry
a random token, and the repr of a
:class:`~zarr_vectors.store.location.StoreLocation` is redacted.

A read (:func:`points_frame`, behind ``read_points(..., as_dask=True)`` and
``open_zv(...).to_dask()``) is the reverse: the driver reads the root (one
snapshot) and lists the cells meeting the box; each partition task opens its
own backend, fetches its group of cells (only the attributes asked for) with
:func:`~zarr_vectors.format.levels.fetch_cells` and closes the backend.

Dask is imported only when one of these functions runs; the rest of the package
works without it. The user guide is ``docs/large-clouds.md``. The package sits
below the geometry types (which hand Dask input to it) and never imports them.
"""

from zarr_vectors.dask.read import points_frame, read_points_frame
from zarr_vectors.dask.write import ParallelWrite, is_dask_frame, prepare_write, wants_parallel
from zarr_vectors.store.location import StoreLocation

__all__ = [
    "ParallelWrite",
    "StoreLocation",
    "is_dask_frame",
    "points_frame",
    "prepare_write",
    "read_points_frame",
    "wants_parallel",
]
