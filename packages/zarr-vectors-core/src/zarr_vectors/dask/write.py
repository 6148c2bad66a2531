"""Dask writes: the tasks that put cells, and the driver that runs them (steps 2-4)."""

from __future__ import annotations

import math
import pickle
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import StoreError, ValidationError
from zarr_vectors.format.batches import _is_dask as _is_dask_array
from zarr_vectors.format.metadata import RootMetadata
from zarr_vectors.format.plan import Progress, WritePlan
from zarr_vectors.format.validate import check_attributes, check_positions
from zarr_vectors.store.location import StoreLike, StoreLocation

__all__ = ["ParallelWrite", "is_dask_frame", "prepare_write", "wants_parallel"]

if TYPE_CHECKING:
    from zarr_vectors.format.lease import RootLease

from zarr_vectors.dask._support import (
    BLOCK,
    ROW,
    SCHEDULERS,
    Box,
    _active_client,
    _module,
    _require_dask,
    is_dask_frame,
)
from zarr_vectors.dask.bins import (
    _bin_array_block,
    _bin_frame_part,
    _binned,
    _BinSpec,
    _columns_of,
)


def wants_parallel(positions: Any, store: StoreLike, scheduler: Any) -> bool:
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
    return array and _active_client() is not None and StoreLocation.of(store).url is not None


#: What a level got from a write: points, cell keys, per attribute each cell's checksum.
_LevelWritten = tuple[int, list[str], dict[str, dict[str, int]]]


@dataclass(frozen=True)
class _Written:
    """What one write task did: per level (points, cell keys, checksums), or its error."""

    levels: list[_LevelWritten] | None
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

    :func:`~zarr_vectors.format.staging._write_cells` asks its lease
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

    from zarr_vectors.format.staging import _write_cells

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
        return _Written([(t.count, sorted(t.nonempty), t.checksums) for t in totals])
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
    ) -> list[_LevelWritten]:
        """Bin, shuffle and write on the workers; return per level (points, cell keys, sums)."""
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


def _merge(results: list[_Written], levels: int) -> list[_LevelWritten]:
    """Per level: points written, the keys of the cells written and the attribute cells'
    checksums, over all partitions.

    A cell written by two partitions would have lost one of them (the last put
    wins): that is refused here, before anything is committed.
    """
    out: list[_LevelWritten] = []
    for level in range(levels):
        count = 0
        keys: set[str] = set()
        sums: dict[str, dict[str, int]] = {}
        listed = 0
        for written in results:
            assert written.levels is not None  # failures were raised before
            n, cells, checksums = written.levels[level]
            count += n
            keys.update(cells)
            for name, part in checksums.items():
                sums.setdefault(name, {}).update(part)
            listed += len(cells)
        if listed != len(keys):
            raise StoreError(
                f"level {level}: {listed - len(keys)} cell(s) were encoded by two partitions of "
                "the Dask write (a coarse-level point on the edge of a block); nothing was "
                "committed. Write with levels=1, or with scheduler='driver'."
            )
        out.append((count, sorted(keys), sums))
    return out


def prepare_write(
    store: StoreLike,
    positions: Any,
    vertex_attributes: Mapping[str, Any] | None,
    *,
    mode: str,
    dtype: npt.DTypeLike | None,
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
    location = StoreLocation.of(
        store, backend=backend, storage_options=storage_options, backend_kwargs=backend_kwargs
    ).for_workers()
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
