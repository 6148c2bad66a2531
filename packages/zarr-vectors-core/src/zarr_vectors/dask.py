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
   from the store's URL and options (:class:`StoreLocation`), encodes the
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
a random token, and the repr of a :class:`StoreLocation` is redacted.

A read (:func:`points_frame`, behind ``read_points(..., as_dask=True)`` and
``open_zv(...).to_dask()``) is the reverse: the driver reads the root (one
snapshot) and lists the cells meeting the box; each partition task opens its
own backend, fetches its group of cells (only the attributes asked for) with
:func:`~zarr_vectors.format.levels.fetch_cells` and closes the backend.

Dask is imported only when one of these functions runs; the rest of the package
works without it. The user guide is ``docs/large-clouds.md``.
"""

from __future__ import annotations

import math
import os
import pickle
import sys
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from zarr_vectors.core.backends.secrets import redact_options, redact_url
from zarr_vectors.exceptions import StoreError, ValidationError
from zarr_vectors.format.batches import _is_dask as _is_dask_array
from zarr_vectors.format.metadata import RootMetadata
from zarr_vectors.format.plan import Progress, WritePlan
from zarr_vectors.format.validate import check_attributes, check_inside, check_positions

if TYPE_CHECKING:
    from zarr_vectors.core.backends.base import Backend
    from zarr_vectors.format.lease import RootLease
    from zarr_vectors.format.snapshot import Snapshot

__all__ = [
    "ParallelWrite",
    "StoreLocation",
    "is_dask_frame",
    "points_frame",
    "prepare_write",
    "read_points_frame",
    "wants_parallel",
]

Box = tuple[Sequence[float], Sequence[float]]

#: Column of the binned frame holding each point's input position (partition, row).
ROW = "_zv_row"
#: Column holding the hashed key of the block of cells a point falls in (the shuffle key).
BLOCK = "_zv_block"
#: Bits of :data:`ROW` given to the row inside an input partition (2**40 rows each).
_ROW_BITS = 40
#: Points a read partition aims at, when ``partition_cells`` is not given.
READ_PARTITION_POINTS = 1_000_000
#: What ``scheduler=`` takes besides a ``distributed.Client`` (see :func:`wants_parallel`).
SCHEDULERS = ("driver", "distributed", "threads", "processes", "sync", "synchronous")


def _module(name: str) -> Any:
    """A module of Dask or distributed, typed loosely (they are only partly annotated)."""
    import importlib

    return importlib.import_module(name)


def _require_dask(what: str) -> None:
    from zarr_vectors._extras import require

    require("dask.dataframe", feature=what, extra="dask")


# -- where the store is -------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class StoreLocation:
    """How a task opens the store: its URL, the backend's name and the backend options.

    Tasks get this, never a live backend (a connection does not travel between
    processes), and each opens and closes its own backend. The options may hold
    credentials: they travel inside the pickled task arguments only. The repr
    is redacted and the Dask token is a random one, so no secret (nor a hash of
    one) is in a task name, a graph picture or a log line.
    """

    url: str
    backend: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def of(
        cls,
        store: Any,
        *,
        backend: str | None = None,
        storage_options: Mapping[str, Any] | None = None,
        backend_kwargs: Mapping[str, Any] | None = None,
    ) -> StoreLocation | None:
        """The location of ``store`` when it is a path or URL (or a UPath); ``None`` otherwise.

        A relative local path is made absolute here, where the caller's working
        directory is known, since workers run elsewhere.
        """
        from zarr_vectors.core.backends.resolve import url_scheme
        from zarr_vectors.core.location import _unwrap

        options = {**dict(storage_options or {}), **dict(backend_kwargs or {})}
        store, options = _unwrap(store, options)
        if not isinstance(store, str | os.PathLike):
            return None
        url = os.fspath(store)
        if url_scheme(url) == "":
            url = os.path.abspath(url)
        return cls(url, backend, options)

    def open(self, mode: str) -> AbstractContextManager[Backend]:
        """The backend for this location (closed when the ``with`` block ends)."""
        from zarr_vectors.core.location import open_location

        return open_location(
            self.url, mode=mode, backend=self.backend, storage_options=self.options
        )

    def __repr__(self) -> str:
        shown = redact_options(self.options)
        return f"StoreLocation({redact_url(self.url)!r}, backend={self.backend!r}, options={shown})"

    def __dask_tokenize__(self) -> tuple[str, str]:
        return ("zarr-vectors-store", self.token)


def _is_location(store: Any) -> bool:
    return isinstance(store, str | os.PathLike) or type(store).__module__.startswith("upath")


def _need_location(store: Any, **kwargs: Any) -> StoreLocation:
    location = StoreLocation.of(store, **kwargs)
    if location is None:
        raise ValidationError(
            f"Dask workers open the store themselves, from a path or URL; got a "
            f"{type(store).__name__}. Pass the store's URL (with storage_options={{...}}) "
            "instead, or write with scheduler='driver' to stream through this process."
        )
    return location


# -- choosing the path ---------------------------------------------------------------------
def is_dask_frame(value: Any) -> bool:
    """Whether ``value`` is a Dask DataFrame (without importing Dask)."""
    return (
        type(value).__module__.startswith("dask")
        and hasattr(value, "npartitions")
        and hasattr(value, "columns")
        and hasattr(value, "to_delayed")
    )


def _active_client() -> Any:
    """The ``distributed`` client in use, if any (only looked for once it is imported)."""
    if "distributed" not in sys.modules:
        return None
    try:
        return _module("distributed").default_client()
    except ValueError:
        return None


def wants_parallel(positions: Any, store: Any, scheduler: Any) -> bool:
    """Whether a write of ``positions`` runs on Dask workers rather than in this process.

    ``scheduler=None`` (the default): a Dask DataFrame always does; a Dask array
    does when a ``distributed`` client is active and ``store`` is a path or URL,
    and otherwise streams block by block through this process as before.
    ``scheduler="driver"`` streams a Dask array through this process;
    any other value (a ``distributed.Client``, ``"distributed"``, ``"threads"``,
    ``"processes"``, ``"sync"``) runs the write on Dask with that scheduler.
    """
    frame = is_dask_frame(positions)
    array = not frame and _is_dask_array(positions)
    if scheduler is not None and isinstance(scheduler, str) and scheduler not in SCHEDULERS:
        raise ValidationError(
            f"scheduler must be a distributed.Client or one of {', '.join(SCHEDULERS)}; "
            f"got {scheduler!r}"
        )
    if scheduler == "driver":
        if frame:
            raise ValidationError(
                "a Dask DataFrame is written by Dask workers only; leave scheduler unset, or "
                "pass frame[['x', 'y', 'z']].to_dask_array(lengths=True) to stream it through "
                "this process"
            )
        return False
    if scheduler is not None:
        if not (frame or array):
            raise ValidationError(
                f"scheduler= is for Dask input (a Dask array or DataFrame); got a "
                f"{type(positions).__name__}. Wrap it with dask.array.from_array(...) or drop "
                "scheduler="
            )
        return True
    if frame:
        return True
    return array and _active_client() is not None and _is_location(store)


# -- the write ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _BinSpec:
    """What a binning task needs: the stored layout, the grid and the blocks."""

    dtype: np.dtype[Any]
    attributes: dict[str, tuple[np.dtype[Any], tuple[int, ...]]]
    meta: RootMetadata
    #: Cells per block per axis, and the cell the blocks are counted from.
    block: tuple[int, ...]
    origin: tuple[int, ...]
    #: For DataFrame input: the position columns and attribute columns, in order.
    position_columns: tuple[str, ...] = ()


def _columns_of(spec: _BinSpec) -> tuple[list[str], dict[str, list[str]]]:
    """Names of the binned frame's position columns and of each attribute's columns."""
    positions = [f"_zv_p{i}" for i in range(spec.meta.ndim)]
    attributes = {
        name: [f"_zv_a{k}_{j}" for j in range(max(1, math.prod(shape)))]
        for k, (name, (_, shape)) in enumerate(spec.attributes.items())
    }
    return positions, attributes


def _block_keys(positions: npt.NDArray[Any], spec: _BinSpec) -> npt.NDArray[np.int64]:
    """A hash of the block of cells holding each point (equal blocks, equal keys).

    The cell is ``floor(x / chunk_shape)`` in float64, as every grouping of the
    package computes it; a hash collision only puts two blocks in one partition.
    """
    cs = np.asarray(spec.meta.chunk_shape, np.float64)
    mixed = np.zeros(len(positions), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for axis in range(positions.shape[1]):
            cells = np.floor(positions[:, axis].astype(np.float64) / cs[axis]).astype(np.int64)
            blocks = (cells - spec.origin[axis]) // spec.block[axis]
            mixed = (mixed ^ blocks.astype(np.uint64)) * np.uint64(0x9E3779B97F4A7C15)
            mixed ^= mixed >> np.uint64(29)
    return mixed.view(np.int64)


def _binned(positions: Any, attributes: Mapping[str, Any], number: int, spec: _BinSpec) -> Any:
    """One input partition checked, cast and keyed, as a pandas DataFrame (a Dask task)."""
    import pandas as pd  # type: ignore[import-untyped]

    pos = check_positions(positions, spec.dtype)
    attrs = check_attributes(attributes, len(pos))
    check_inside(pos, spec.meta, append=False)
    pos_cols, attr_cols = _columns_of(spec)
    columns: dict[str, Any] = {c: pos[:, i] for i, c in enumerate(pos_cols)}
    for name, (dtype, shape) in spec.attributes.items():
        values = attrs[name]
        if tuple(values.shape[1:]) != shape:
            raise ValidationError(
                f"attribute {name!r} has rows of shape {list(values.shape[1:])} in one partition "
                f"but {list(shape)} in the first"
            )
        flat = values.astype(dtype, copy=False).reshape(len(values), len(attr_cols[name]))
        columns.update({c: flat[:, j] for j, c in enumerate(attr_cols[name])})
    columns[ROW] = (np.int64(number) << np.int64(_ROW_BITS)) + np.arange(len(pos), dtype=np.int64)
    columns[BLOCK] = _block_keys(pos, spec)
    return pd.DataFrame(columns)


def _bin_array_block(
    positions: Any, attributes: Mapping[str, Any], number: int, spec: _BinSpec
) -> Any:
    return _binned(
        np.asarray(positions), {n: np.asarray(a) for n, a in attributes.items()}, number, spec
    )


def _bin_frame_part(frame: Any, number: int, spec: _BinSpec) -> Any:
    positions = np.stack([frame[c].to_numpy() for c in spec.position_columns], axis=1)
    attributes = {name: frame[name].to_numpy() for name in spec.attributes}
    return _binned(positions, attributes, number, spec)


@dataclass(frozen=True)
class _Written:
    """What one write task did: per level (points, cell keys), or the error it met."""

    levels: list[tuple[int, list[str]]] | None
    error: BaseException | None = None


class _StopSignal:
    """Raised by the driver when a write fails, seen by every write task between batches.

    On a ``distributed`` cluster it is a :class:`distributed.Event`; with a local
    scheduler (threads, sync) an in-process event. The processes scheduler has
    none: its tasks finish their partitions.
    """

    _local: ClassVar[dict[str, threading.Event]] = {}  # one registry per process

    def __init__(self, name: str, distributed: bool) -> None:
        self.name, self.distributed = name, distributed

    def arm(self) -> None:
        if not self.distributed:
            self._local[self.name] = threading.Event()

    def set(self, client: Any = None) -> None:
        """Raise the signal (``client``: the write's, on the driver; a task's own on a worker)."""
        if self.distributed:
            _module("distributed").Event(self.name, client=client).set()
        elif self.name in self._local:
            self._local[self.name].set()

    def is_set(self) -> bool:
        if self.distributed:
            return bool(_module("distributed").Event(self.name).is_set())
        event = self._local.get(self.name)
        return event is not None and event.is_set()

    def disarm(self, client: Any = None) -> None:
        if self.distributed:
            # Forgets it on the scheduler once nobody waits for it.
            _module("distributed").Event(self.name, client=client).clear()
        else:
            self._local.pop(self.name, None)


class _WorkerLease:
    """What a write task has instead of the lease the driver holds: the stop signal.

    :func:`~zarr_vectors.format.transaction._write_cells` asks its lease
    ``check()`` before each batch of objects; on a worker that means "has the
    driver called the write off?".
    """

    def __init__(self, stop: _StopSignal) -> None:
        self.stop = stop

    def check(self) -> None:
        if self.stop.is_set():
            raise StoreError("the write was called off (another task failed); stopping")


def _write_partition(
    frame: Any,
    spec: _BinSpec,
    plan: WritePlan,
    prefix: str,
    location: StoreLocation,
    stop: _StopSignal,
) -> _Written:
    """Encode and put the cells of one shuffled partition (a Dask task on a worker)."""
    from typing import cast

    from zarr_vectors.format.transaction import _write_cells

    try:
        lease = _WorkerLease(stop)
        lease.check()
        order = np.argsort(frame[ROW].to_numpy(), kind="stable")  # back to input order
        pos_cols, attr_cols = _columns_of(spec)
        positions = np.empty((len(frame), len(pos_cols)), dtype=spec.dtype)
        for i, c in enumerate(pos_cols):
            positions[:, i] = frame[c].to_numpy()[order]
        attributes = {}
        for name, (dtype, shape) in spec.attributes.items():
            cols = [frame[c].to_numpy()[order] for c in attr_cols[name]]
            attributes[name] = np.stack(cols, axis=1).astype(dtype).reshape(-1, *shape)
        part = replace(plan, positions=positions, attributes=attributes)
        with location.open("w") as backend:
            _, totals = _write_cells(backend, spec.meta, part, cast("RootLease", lease), prefix)
        return _Written([(t.count, sorted(t.nonempty)) for t in totals])
    except Exception as exc:
        return _Written(None, _portable(exc))


def _portable(exc: BaseException) -> BaseException:
    """``exc``, or a StoreError with its text when it cannot travel back to the driver."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return StoreError(f"{type(exc).__name__}: {exc}")
    return exc


@dataclass
class ParallelWrite:
    """A write whose cells Dask workers put: the layout, the bounds, and the cell writer.

    Made by :func:`prepare_write` before the store is opened; its
    :meth:`cell_writer` is the plan's :data:`~zarr_vectors.format.plan.CellWriter`.
    """

    location: StoreLocation
    scheduler: Any
    #: Empty arrays carrying the stored layout (what ``write_points`` validates).
    template: npt.NDArray[Any]
    attribute_templates: dict[str, npt.NDArray[Any]]
    bounds: Box | None
    rows: int | None
    _parts: Callable[[_BinSpec], list[Any]] = field(repr=False)
    _npartitions: int = 1
    _position_columns: tuple[str, ...] = ()
    _extent: Callable[[], Box] | None = field(default=None, repr=False)

    def extent(self) -> Box:
        """The bounds given, or else those of the points, computed by the workers (one pass)."""
        if self.bounds is not None:
            return self.bounds
        if self._extent is None:
            raise ValidationError("bounds are needed: pass bounds=((min...), (max...))")
        return self._extent()

    # -- on the driver, under the lease ------------------------------------------------
    def cell_writer(
        self, meta: RootMetadata, plan: WritePlan, lease: RootLease, prefix: str
    ) -> list[tuple[int, list[str]]]:
        """Bin, shuffle and write on the workers; return per level (points, cell keys)."""
        dask, dd = _module("dask"), _module("dask.dataframe")
        spec = self._spec(meta, plan)
        meta_frame = _binned(self.template, self.attribute_templates, 0, spec)
        binned = dd.from_delayed(self._parts(spec), meta=meta_frame, verify_meta=False)
        client = self._client()
        method = dask.config.get("dataframe.shuffle.method", None)
        if client is None and (method == "p2p" or (method is None and _active_client())):
            method = "tasks"  # the peer-to-peer shuffle runs on a distributed cluster only
        shuffled = binned.shuffle(on=BLOCK, npartitions=self._npartitions, shuffle_method=method)
        nonce = uuid.uuid4().hex[:12]
        stop = _StopSignal(f"zarr-vectors-stop-{nonce}", distributed=client is not None)
        shipped = replace(plan, progress=None, batches=None, cell_writer=None)
        write = dask.delayed(_write_partition, pure=False)
        tasks = [
            write(
                part,
                spec,
                shipped,
                prefix,
                self.location,
                stop,
                dask_key_name=f"zarr-vectors-write-{nonce}-{i}",
            )
            for i, part in enumerate(shuffled.to_delayed())
        ]
        lease.check()
        stop.arm()
        try:
            if client is not None:
                results = _run_distributed(client, tasks, stop, lease, plan.progress, self.rows)
            else:
                results = _run_local(tasks, self.scheduler, stop, plan.progress, self.rows)
        finally:
            stop.disarm(client)
        lease.check()
        return _merge(results, len(meta.levels))

    def _spec(self, meta: RootMetadata, plan: WritePlan) -> _BinSpec:
        coarsest = 2 ** (len(meta.levels) - 1)
        shard_shape = plan.shard_shape
        block = [coarsest] * meta.ndim
        origin = [0] * meta.ndim
        if shard_shape is not None:
            # Whole shards per partition, as a streamed write groups them (format.spill).
            origin = list(meta.grid_origin())
            if coarsest > 1 and any(o % coarsest for o in origin):
                raise ValidationError(
                    "a sharded store with levels > 1 written by Dask needs bounds whose lower "
                    f"corner is a multiple of chunk_shape * {coarsest} on every axis (e.g. 0); "
                    "widen bounds= to such a corner"
                )
            block = [int(s) * coarsest for s in shard_shape]
        return _BinSpec(
            dtype=plan.positions.dtype,
            attributes={n: (a.dtype, tuple(a.shape[1:])) for n, a in plan.attributes.items()},
            meta=meta,
            block=tuple(block),
            origin=tuple(origin),
            position_columns=self._position_columns,
        )

    def _client(self) -> Any:
        if self.scheduler is not None and not isinstance(self.scheduler, str):
            return self.scheduler if hasattr(self.scheduler, "compute") else None
        if self.scheduler in (None, "distributed"):
            client = _active_client()
            if client is None and self.scheduler == "distributed":
                raise ValidationError(
                    "scheduler='distributed' needs an active distributed.Client; create one "
                    "(Client(...)) or pass it as scheduler=client"
                )
            return client
        return None


def _run_distributed(
    client: Any,
    tasks: list[Any],
    stop: _StopSignal,
    lease: RootLease,
    progress: Progress | None,
    rows: int | None,
) -> list[_Written]:
    """Compute the write tasks on the cluster; on any failure stop them all, then raise.

    Every future is waited for, failed or not, so no task is still writing
    when this returns (a cancelled future may still be running on its worker,
    so none is cancelled: the stop signal ends them at their next batch).
    """
    as_completed = _module("distributed").as_completed
    futures = client.compute(tasks)
    results: list[_Written] = []
    first: BaseException | None = None
    done_rows = 0
    try:
        for future in as_completed(futures):
            if future.status == "error":
                failure: BaseException | None = future.exception()
            else:
                written = future.result()
                failure = written.error
                if failure is None:
                    results.append(written)
                    done_rows += written.levels[0][0]
                    if progress is not None:
                        progress(done_rows, max(rows or 0, done_rows))
            if failure is None:
                try:
                    lease.check()
                except BaseException as exc:
                    failure = exc
            if failure is not None and first is None:
                first = failure
                stop.set(client)
    finally:
        client.cancel(futures)  # all finished by now: this only releases them
    if first is not None:
        raise first
    return results


def _run_local(
    tasks: list[Any], scheduler: Any, stop: _StopSignal, progress: Progress | None, rows: int | None
) -> list[_Written]:
    """Compute the write tasks with a local scheduler; raise the first failure afterwards."""
    computed = _module("dask").compute(*tasks, scheduler=scheduler)
    results: list[_Written] = list(computed)
    for written in results:
        if written.error is not None:
            stop.set()
            raise written.error
    if progress is not None:
        total = sum(w.levels[0][0] for w in results if w.levels)
        progress(total, max(rows or 0, total))
    return results


def _merge(results: list[_Written], levels: int) -> list[tuple[int, list[str]]]:
    """Per level: points written and the keys of the cells written, over all partitions.

    A cell written by two partitions would have lost one of them (the last put
    wins): that is refused here, before anything is committed.
    """
    out: list[tuple[int, list[str]]] = []
    for level in range(levels):
        count = 0
        keys: set[str] = set()
        listed = 0
        for written in results:
            assert written.levels is not None  # failures were raised before
            n, cells = written.levels[level]
            count += n
            keys.update(cells)
            listed += len(cells)
        if listed != len(keys):
            raise StoreError(
                f"level {level}: {listed - len(keys)} cell(s) were encoded by two partitions of "
                "the Dask write (a coarse-level point on the edge of a block); nothing was "
                "committed. Write with levels=1, or with scheduler='driver'."
            )
        out.append((count, sorted(keys)))
    return out


def prepare_write(
    store: Any,
    positions: Any,
    vertex_attributes: Mapping[str, Any] | None,
    *,
    mode: str,
    dtype: Any,
    bounds: Box | None,
    scheduler: Any,
    position_columns: Sequence[str] | None,
    storage_options: Mapping[str, Any] | None,
    backend: str | None,
    backend_kwargs: Mapping[str, Any] | None,
) -> ParallelWrite:
    """Check a Dask input and describe its parallel write (nothing is computed yet).

    ``bounds=None`` costs one pass of the workers over the input (a min and a
    max), made here. ``position_columns`` names a DataFrame's position columns
    (default ``x, y, z``, or ``x, y`` without a ``z`` column); every other column
    is an attribute.
    """
    _require_dask("writing with Dask workers")
    if mode == "a":
        raise ValidationError(
            "appending is not done by Dask workers; append in-memory arrays, or rewrite the "
            "store with mode='w'"
        )
    location = _need_location(
        store, backend=backend, storage_options=storage_options, backend_kwargs=backend_kwargs
    )
    if is_dask_frame(positions):
        if vertex_attributes:
            raise ValidationError(
                "with a Dask DataFrame, attributes are its other columns: select them "
                "(frame[['x', 'y', 'z', 'intensity']]) instead of passing vertex_attributes="
            )
        write = _frame_write(positions, position_columns, location, scheduler, dtype)
    else:
        if position_columns is not None:
            raise ValidationError("position_columns= is for a Dask DataFrame, not an array")
        write = _array_write(positions, vertex_attributes or {}, location, scheduler, dtype)
    write.bounds = bounds
    return write


def _array_write(
    positions: Any,
    attributes: Mapping[str, Any],
    location: StoreLocation,
    scheduler: Any,
    dtype: Any,
) -> ParallelWrite:
    dask, da = _module("dask"), _module("dask.array")

    if positions.ndim != 2:
        raise ValidationError(
            f"positions must be a 2-D Dask array of shape (n_points, n_axes), got shape "
            f"{positions.shape}"
        )
    pos = positions.rechunk({1: -1})
    row_chunks = pos.chunks[0]
    n = positions.shape[0]
    rows = int(n) if isinstance(n, int | np.integer) and not math.isnan(n) else None
    columns: dict[str, Any] = {}
    for name, values in attributes.items():
        column = values if _is_dask_array(values) else da.from_array(np.asarray(values))
        if rows is not None and column.shape[0] != rows:
            raise ValidationError(
                f"attribute {name!r} has {column.shape[0]} values but there are {rows} points; "
                "give one value per point"
            )
        rest = {i: -1 for i in range(1, column.ndim)}
        columns[name] = column.rechunk({0: row_chunks, **rest})
    template = np.empty((0, positions.shape[1]), positions.dtype)
    attr_templates = {n: np.empty((0, *c.shape[1:]), c.dtype) for n, c in columns.items()}
    blocks = pos.to_delayed().ravel()
    attr_blocks = {n: c.to_delayed().ravel() for n, c in columns.items()}

    def parts(spec: _BinSpec) -> list[Any]:
        binner = dask.delayed(_bin_array_block, pure=True)
        return [
            binner(block, {n: b[i] for n, b in attr_blocks.items()}, i, spec)
            for i, block in enumerate(blocks)
        ]

    def extent() -> Box:
        lo, hi = dask.compute(pos.min(axis=0), pos.max(axis=0), scheduler=_compute_with(scheduler))
        return _checked_extent(lo, hi)

    return ParallelWrite(
        location=location,
        scheduler=scheduler,
        template=check_positions(template, dtype),
        attribute_templates=attr_templates,
        bounds=None,
        rows=rows,
        _parts=parts,
        _npartitions=len(blocks),
        _extent=extent,
    )


def _frame_write(
    frame: Any,
    position_columns: Sequence[str] | None,
    location: StoreLocation,
    scheduler: Any,
    dtype: Any,
) -> ParallelWrite:
    dask = _module("dask")
    names = [str(c) for c in frame.columns]
    if position_columns is None:
        position_columns = ("x", "y", "z") if "z" in names else ("x", "y")
    cols = tuple(str(c) for c in position_columns)
    missing = [c for c in cols if c not in names]
    if missing:
        raise ValidationError(
            f"the DataFrame has no column(s) {missing} for the positions (columns: {names}); "
            "pass position_columns=(...) naming them"
        )
    meta = frame._meta
    kinds = {c: np.dtype(meta[c].dtype).kind if _numpy_dtype(meta[c]) else "O" for c in names}
    bad = [c for c in names if kinds[c] not in "biuf"]
    if bad:
        raise ValidationError(
            f"column(s) {bad} are not numeric or bool; only those are stored. Drop them "
            "(frame.drop(columns=[...])) or convert them first"
        )
    template = np.empty((0, len(cols)), np.result_type(*(meta[c].dtype for c in cols)))
    attr_templates = {c: np.empty(0, np.dtype(meta[c].dtype)) for c in names if c not in cols}
    parts_in = frame.to_delayed()

    def parts(spec: _BinSpec) -> list[Any]:
        binner = dask.delayed(_bin_frame_part, pure=True)
        return [binner(part, i, spec) for i, part in enumerate(parts_in)]

    def extent() -> Box:
        lo, hi = dask.compute(
            frame[list(cols)].min(), frame[list(cols)].max(), scheduler=_compute_with(scheduler)
        )
        return _checked_extent(np.asarray(lo), np.asarray(hi))

    return ParallelWrite(
        location=location,
        scheduler=scheduler,
        template=check_positions(template, dtype),
        attribute_templates=check_attributes(attr_templates, 0),
        bounds=None,
        rows=None,
        _parts=parts,
        _npartitions=len(parts_in),
        _position_columns=cols,
        _extent=extent,
    )


def _numpy_dtype(series: Any) -> bool:
    try:
        np.dtype(series.dtype)
    except TypeError:
        return False
    return True


def _compute_with(scheduler: Any) -> Any:
    """``scheduler`` as ``dask.compute`` takes it (``None``: Dask's default, or the client)."""
    return None if scheduler in (None, "driver") else scheduler


def _checked_extent(lo: Any, hi: Any) -> Box:
    lo64, hi64 = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    if not (np.isfinite(lo64).all() and np.isfinite(hi64).all()):
        raise ValidationError(
            "positions contain NaN or infinite coordinates; remove those points before writing"
        )
    return lo64.tolist(), hi64.tolist()


# -- the read -----------------------------------------------------------------------------
def read_points_frame(
    store: Any,
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
    from zarr_vectors.core.location import open_location
    from zarr_vectors.format.snapshot import load_snapshot

    _require_dask("read_points(..., as_dask=True)")
    location = _need_location(
        store, backend=backend, storage_options=storage_options, backend_kwargs=backend_kwargs
    )
    with open_location(
        store,
        mode="r",
        backend=backend,
        backend_kwargs=backend_kwargs,
        storage_options=storage_options,
        caller=caller,
    ) as source:
        snap = load_snapshot(source)
        return points_frame(
            location,
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
    from zarr_vectors.format.validate import check_bbox, check_level
    from zarr_vectors.types.points import PointCloud

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
    empty = PointCloud(
        np.empty((0, ndim), le_dtype((vdoc or {}).get("attributes", {}).get("dtype", "float32"))),
        {n: np.empty((0, *shape), dt) for n, (dt, shape) in layout.items()},
        level,
    )
    meta_frame = empty.to_pandas(axes)
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
        attributes = {**doc.get("attributes", {}), "nonempty_chunks": list(cells)}
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
    from zarr_vectors.types.points import PointCloud

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
    return PointCloud(positions, attrs, level).to_pandas(axes)
