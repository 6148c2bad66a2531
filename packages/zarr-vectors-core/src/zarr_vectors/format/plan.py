"""What a write will do, decided and checked before the store is touched.

A :class:`WritePlan` gathers every argument of a write in one object, already
validated, so the commit sequence (:mod:`zarr_vectors.format.transaction`) takes
one value instead of a long parameter list, and a geometry type builds it once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy.typing as npt

from zarr_vectors.format.metadata import RootMetadata
from zarr_vectors.format.scaled import Scaling

if TYPE_CHECKING:
    from zarr_vectors.format.lease import RootLease

__all__ = ["Batch", "CellWriter", "Coarsen", "Progress", "WritePlan"]

#: One batch of a streaming write: positions (n, D) and their attribute columns.
Batch = tuple[npt.NDArray[Any], Mapping[str, npt.NDArray[Any]]]

#: ``progress(done, total)``, called as cell objects are written or read.
Progress = Callable[[int, int], None]
#: Makes the vertices of a coarser level: ``coarsen(positions, chunk_shape, factor)``
#: gives them and, for each, the input row whose attribute values it carries.
Coarsen = Callable[
    [npt.NDArray[Any], Sequence[float], float], tuple[npt.NDArray[Any], npt.NDArray[Any]]
]
#: Writes every cell of a new store somewhere other than this process (Dask workers:
#: :mod:`zarr_vectors.dask`): ``cell_writer(meta, plan, lease, prefix)`` puts each cell
#: object under ``prefix`` exactly once and returns, per level, the number of points
#: written, the world keys (``"i.j.k"``) of the cells written and, per attribute, each
#: attribute cell's checksum by world key (``format.cellsums``). It runs while the
#: caller holds ``lease`` (and keeps renewing it); it must not return before every
#: object it started writing is written or abandoned.
CellWriter = Callable[
    [RootMetadata, "WritePlan", "RootLease", str],
    Sequence[tuple[int, Collection[str], Mapping[str, Mapping[str, int]]]],
]


@dataclass(frozen=True)
class WritePlan:
    """A validated write of one level-0 vertex set (and its coarser levels).

    ``meta`` is the root metadata of a new store (``None`` when appending with
    the store's own chunk shape); ``chunk_shape`` is what the caller asked for
    (``None`` = the store's); ``dtype`` the requested vertex dtype (``None`` =
    as given, or the store's when appending).
    """

    mode: str
    positions: npt.NDArray[Any]
    attributes: dict[str, npt.NDArray[Any]]
    codecs: list[dict[str, Any]]
    meta: RootMetadata | None = None
    chunk_shape: tuple[float, ...] | None = None
    levels: int = 1
    dtype: Any = None
    consolidate: bool = True
    coarsen: Coarsen | None = None
    progress: Progress | None = field(default=None, compare=False)
    #: Streaming input: a callable giving the batches ``(positions, attributes)``,
    #: each already checked and in the stored dtypes (``positions`` above is then an
    #: empty array that only carries the dtype and width, ``attributes`` likewise).
    batches: Callable[[], Iterator[Batch]] | None = field(default=None, compare=False)
    #: Writes the cells instead of this process (see :data:`CellWriter`); ``positions``
    #: and ``attributes`` are then empty arrays that only carry the layout. Only new
    #: stores (create, replace) take it.
    cell_writer: CellWriter | None = field(default=None, compare=False)
    #: How many points ``batches`` will give, when known (sizes the spill partitions).
    expected_rows: int | None = None
    #: Most bytes the write may hold in memory for point rows (``None``: all of them).
    memory_limit: int | None = None
    #: Where streaming writes spill rows (a local directory; ``None``: the system's temp).
    spill_dir: str | None = None
    #: Cells per shard per axis (Zarr v3 sharding), or ``None`` for one object per cell.
    shard_shape: tuple[int, ...] | None = None
    #: The ``bounds=`` the caller gave, checked (``None``: not given). An append
    #: refuses bounds other than the store's (its grid is fixed).
    bounds: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    #: Level 0's positions stored as scaled int32 (:mod:`zarr_vectors.format.scaled`).
    scaling: Scaling | None = None
    #: The attributes coarse levels carry (``None``: all of them).
    coarse_attributes: tuple[str, ...] | None = None

    @property
    def streaming(self) -> bool:
        """Whether the vertices come in batches (spilled to disk) rather than as one array."""
        return self.batches is not None
