"""A store as a Neuroglancer annotation source: states, chunk reads, the by-id index.

What is served is always one committed state of the store (a
:class:`~zarr_vectors.format.snapshot.Snapshot`): a request takes the current
:class:`StoreState` when it starts and reads everything through it. The root
``zarr.json`` is read again at most every ``refresh_interval`` seconds (one
small request, shared by the requests waiting for it); when its bytes changed
a writer committed, and a new state (metadata and spatial index, built once)
replaces the old one, together with the chunk cache. Cells are read through the
store's own read path (:mod:`zarr_vectors.format.levels`): verified,
checksummed, cut back to the state's committed rows, and confirmed against the
root afterwards, so an append that commits mid-request does not leak into it.

Each spatial chunk is one batched read of the cells it covers
(``get_many``, or index + byte ranges on sharded stores), run on a small pool
of threads (``max_fetches``), so however many requests arrive at most that
many reads are in flight; identical requests share one read
(:class:`~zarr_vectors.serve.cache.ChunkCache`).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, TypeVar

import numpy as np

from zarr_vectors.exceptions import StaleSnapshotError
from zarr_vectors.format.cellread import Cell as StoredCell
from zarr_vectors.format.cellread import CellPlan, plan_cells, planned_cells
from zarr_vectors.format.grid import parse_world_key
from zarr_vectors.format.journal import ROOT_KEY
from zarr_vectors.format.snapshot import Snapshot, parse_json_doc, snapshot_from_doc
from zarr_vectors.serve.cache import ChunkCache
from zarr_vectors.serve.encoding import encode_annotations, encode_single
from zarr_vectors.serve.index import IndexLevel, SpatialIndex
from zarr_vectors.store.location import StoreLike

__all__ = ["AnnotationSource", "NotFound", "StoreState", "open_source"]

T = TypeVar("T")


class NotFound(LookupError):
    """A request for something the index does not have (answered 404)."""


@dataclass
class StoreState:
    """One committed state of the store: its snapshot, spatial index and read plans."""

    token: str
    raw_root: bytes
    snap: Snapshot
    index: SpatialIndex
    _plans: dict[int, CellPlan | None] = field(default_factory=dict)

    @classmethod
    def from_root(cls, backend: Any, raw: bytes) -> StoreState:
        snap = snapshot_from_doc(backend, parse_json_doc(raw, f"{backend.url}: root zarr.json"))
        snap.check_complete()
        index = SpatialIndex(snap)
        token = hashlib.sha256(raw).hexdigest()[:16]
        return cls(token=token, raw_root=raw, snap=snap, index=index)

    def _plan(self, level: IndexLevel) -> CellPlan | None:
        """How to read the level's cells, worked out once per state (cells filled per read)."""
        k = level.store_level
        if k not in self._plans:
            self._plans[k] = plan_cells(
                self.snap, k, bbox=None, only=set(), attribute_names_=list(level.attributes)
            )
        return self._plans[k]

    def read_cells(self, level: IndexLevel, world: list[tuple[int, ...]]) -> list[StoredCell]:
        """The verified cells ``world`` of the level, as of this state (one batched read)."""
        plan = self._plan(level)
        if plan is None or not world:
            return []
        mine = replace(plan, world_list=list(world), whole_level=False)
        cells, _, _ = planned_cells(
            mine, self.snap, level.store_level, list(level.attributes), progress=None, confirm=True
        )
        return cells

    def chunk_bytes(self, level: IndexLevel, chunk: tuple[int, ...]) -> bytes:
        """The encoded spatial index chunk ``chunk`` of ``level``."""
        index = self.index
        cells = self.read_cells(level, level.chunks.get(chunk, []))
        specs = index.properties
        if not cells:
            return encode_annotations(
                np.empty((0, index.ndim), np.float32), {}, np.empty(0, np.uint64), specs
            )
        positions = np.concatenate([c.positions for c in cells]).astype(np.float32, copy=False)
        columns = {n: np.concatenate([c.attributes[n] for c in cells]) for n in level.attributes}
        ids = np.concatenate(
            [index.ids(level.store_level, parse_world_key(c.key), len(c.positions)) for c in cells]
        )
        # Neuroglancer draws a prefix of a chunk when it subsamples, so the rows are
        # put in a random order (the same for a chunk every time it is served).
        order = np.random.default_rng([level.store_level, *chunk]).permutation(len(positions))
        return encode_annotations(
            positions[order], {n: v[order] for n, v in columns.items()}, ids[order], specs
        )

    def annotation_bytes(self, annotation_id: int) -> bytes:
        """The single-annotation encoding of one point, by its id."""
        index = self.index
        found = index.locate(annotation_id)
        if found is None:
            raise NotFound(f"no annotation has id {annotation_id}")
        k, world, row = found
        level = next((lv for lv in index.levels if lv.store_level == k), None)
        if level is None or world not in level.chunks.get(index.chunk_of(level, world), []):
            raise NotFound(f"no annotation has id {annotation_id}")
        cells = self.read_cells(level, [world])
        if not cells or row >= len(cells[0].positions):
            raise NotFound(f"no annotation has id {annotation_id}")
        cell = cells[0]
        return encode_single(
            cell.positions[row].astype(np.float32),
            {n: cell.attributes[n][row : row + 1] for n in level.attributes},
            index.properties,
        )


class AnnotationSource:
    """Serves one store's points in Neuroglancer's precomputed annotation format.

    The HTTP layer (:mod:`zarr_vectors.serve.app`) maps URLs onto :meth:`info`,
    :meth:`spatial` and :meth:`by_id`; this class holds the state, the cache
    and the thread pool the blocking backend calls run on.
    """

    def __init__(
        self,
        backend: Any,
        *,
        refresh_interval: float = 1.0,
        cache_bytes: int = 64 << 20,
        max_fetches: int = 8,
        owns_backend: bool = False,
    ) -> None:
        self.backend = backend
        self._owns_backend = owns_backend
        self.refresh_interval = float(refresh_interval)
        self.cache = ChunkCache(cache_bytes)
        self._pool = ThreadPoolExecutor(max(1, int(max_fetches)), thread_name_prefix="zv-serve")
        self._state: StoreState | None = None
        self._checked = -float("inf")  # monotonic time the root read of _state started
        self._lock: asyncio.Lock | None = None
        #: Root documents read (state checks), for tests and the benchmark.
        self.root_reads = 0

    def close(self) -> None:
        """Stop the thread pool, and close the backend if :func:`open_source` made it."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._owns_backend:
            self._owns_backend = False
            self.backend.close()

    def __enter__(self) -> AnnotationSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def _run(self, func: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, partial(func, *args))

    async def state(self, *, newer_than: float | None = None) -> StoreState:
        """The current committed state, reading the root if the last look is too old.

        ``newer_than`` (a :func:`time.monotonic` time) asks for a state whose root
        was read after that moment (after a request found its state gone).
        """
        asked = time.monotonic()
        if newer_than is not None:
            wanted = newer_than
        elif self.refresh_interval > 0:
            wanted = asked - self.refresh_interval
        else:
            wanted = asked  # a root read that started after this request arrived
        if self._state is not None and self._checked >= wanted:
            return self._state
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            # Whoever held the lock may have read the root after this request arrived.
            if self._state is not None and self._checked >= wanted:
                return self._state
            started = time.monotonic()
            raw = await self._run(self._read_root)
            if self._state is None or raw != self._state.raw_root:
                self._state = await self._run(StoreState.from_root, self.backend, raw)
                self.cache.clear()
            self._checked = started
            return self._state

    def read_state(self) -> StoreState:
        """The store's state as it is now, read synchronously (outside the server's loop)."""
        return StoreState.from_root(self.backend, self._read_root())

    def _read_root(self) -> bytes:
        self.root_reads += 1
        raw = self.backend.get_many([ROOT_KEY]).get(ROOT_KEY)
        if raw is None:
            from zarr_vectors.exceptions import StoreError

            raise StoreError(f"no Zarr Vectors store at {self.backend.url}: it has no zarr.json")
        return bytes(raw)

    async def _with_state(self, work: Any) -> Any:
        """``await work(state)``, once more on a fresh state if this one was replaced meanwhile."""
        state = await self._points()
        try:
            return await work(state)
        except StaleSnapshotError:
            return await work(await self.state(newer_than=time.monotonic()))

    async def _points(self) -> StoreState:
        """The current state, or NotFound when its points are not served (a Draco mesh)."""
        state = await self.state()
        if state.index.refused is not None:
            raise NotFound(f"{state.index.refused}; its meshes are served under /meshes")
        return state

    async def info(self) -> dict[str, Any]:
        """The ``info`` document of the current state."""
        state = await self._points()
        doc = state.index.info()
        return doc

    async def spatial(self, key: str, chunk: tuple[int, ...]) -> bytes:
        """An encoded spatial index chunk (``NotFound`` for a level or cell not in the index)."""

        async def work(state: StoreState) -> bytes:
            level = state.index.level_by_key(key)
            if level is None:
                raise NotFound(f"no spatial index level {key!r}")
            if len(chunk) != len(level.grid_shape) or any(
                not 0 <= c < g for c, g in zip(chunk, level.grid_shape, strict=True)
            ):
                raise NotFound(f"{key}: chunk {list(chunk)} is outside {list(level.grid_shape)}")
            cache_key = (state.token, key, chunk)
            return await self.cache.get(
                cache_key, lambda: self._run(state.chunk_bytes, level, chunk)
            )

        result: bytes = await self._with_state(work)
        return result

    async def by_id(self, annotation_id: int) -> bytes:
        """One annotation's single encoding, by id."""

        async def work(state: StoreState) -> bytes:
            key = (state.token, "by_id", annotation_id)
            return await self.cache.get(
                key, lambda: self._run(state.annotation_bytes, annotation_id)
            )

        result: bytes = await self._with_state(work)
        return result


def open_source(
    store: StoreLike,
    *,
    refresh_interval: float = 1.0,
    cache_bytes: int = 64 << 20,
    max_fetches: int = 8,
    storage_options: Mapping[str, Any] | None = None,
    backend: str | None = None,
    **backend_kwargs: Any,
) -> AnnotationSource:
    """An :class:`AnnotationSource` for ``store`` (a path, URL or backend, read-only).

    The store is resolved like everywhere else (``storage_options`` /
    ``backend_kwargs`` configure a backend made from a URL) and its root is read
    once here, so a wrong URL fails now rather than at the first request.
    Close the source (or use it in a ``with`` block) to release a backend made here.
    """
    from zarr_vectors.store.location import StoreLocation

    location = StoreLocation.of(
        store,
        backend=backend,
        storage_options=storage_options,
        backend_kwargs=backend_kwargs,
        caller=open_source,
    )
    made, owned = location.resolve("r")
    source = AnnotationSource(
        made,
        refresh_interval=refresh_interval,
        cache_bytes=cache_bytes,
        max_fetches=max_fetches,
        owns_backend=owned,
    )
    try:
        source.read_state()
    except BaseException:
        source.close()
        raise
    return source
