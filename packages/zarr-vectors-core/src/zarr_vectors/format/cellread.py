"""Fetching, verifying and decoding the cells of a level, as of a snapshot.

A read plans once (:func:`plan_cells`: which cells, which arrays, how each is
stored and decoded), fetches the cells' bytes in one concurrent batch
(:func:`fetch_world`), and decodes them (:func:`decode_cells`), checking that
every listed cell is there and that its arrays agree. What a read returns is
the snapshot's committed state: cells an unfinished append touched are cut
back to their old rows by the journal, and, with ``confirm``, the root is read
again after the fetch and cells changed by appends since the snapshot are cut
back too (:func:`changed_since`). :func:`fetch_cells` is the whole sequence;
:mod:`~zarr_vectors.format.levels` builds whole-level and box reads on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import (
    CorruptStoreError,
    StaleSnapshotError,
    StoreError,
    ValidationError,
)
from zarr_vectors.format.cellio import ArrayLayout, fetch_cell_bytes
from zarr_vectors.format.cellsums import CellTables
from zarr_vectors.format.fragments import decode_fragment_rows
from zarr_vectors.format.grid import cells_in_box, parse_world_key, world_key
from zarr_vectors.format.levelkeys import (
    ATTRIBUTES,
    FRAGMENTS,
    VERTICES,
    attribute_names,
    cell_key,
    le_dtype,
)
from zarr_vectors.format.scaled import Scaling, positions_dtype
from zarr_vectors.format.snapshot import Snapshot
from zarr_vectors.format.validate import check_in_cell, first_misplaced

__all__ = [
    "READ_ATTEMPTS",
    "Cell",
    "CellPlan",
    "appended_since",
    "changed_since",
    "decode_cells",
    "fetch_cells",
    "fetch_world",
    "listed_cells",
    "plan_cells",
    "planned_cells",
]


@dataclass
class Cell:
    """The rows of one cell: world key, positions and attribute columns."""

    key: str
    positions: npt.NDArray[Any]
    attributes: dict[str, npt.NDArray[Any]]


def _fetch(
    snap: Snapshot,
    layouts: Mapping[str, ArrayLayout],
    grids: list[tuple[int, ...]],
    progress: Callable[[int, int], None] | None,
) -> dict[tuple[str, tuple[int, ...]], bytes]:
    """The encoded bytes of ``grids`` in every array of ``layouts``.

    With ``progress``, in about 50 batches reporting cells done; each batch is
    still one concurrent fetch, and batches are only made when someone is
    watching, so a plain read keeps every request in one batch.
    """
    cells = len(grids)
    step = cells if progress is None or cells == 0 else max(64, cells // 50)
    got: dict[tuple[str, tuple[int, ...]], bytes] = {}
    if progress is not None:
        progress(0, cells)
    for i in range(0, cells, max(step, 1)):
        batch = grids[i : i + step]
        got.update(fetch_cell_bytes(snap, {p: (layout, batch) for p, layout in layouts.items()}))
        if progress is not None:
            progress(min(i + step, cells), cells)
    return got


def listed_cells(
    snap: Snapshot, level: int, vattrs: Mapping[str, Any], origin: list[int]
) -> npt.NDArray[np.int64]:
    """World coordinates of the level's cells, from ``nonempty_chunks`` or a listing."""
    ndim = snap.meta.ndim
    listed = vattrs.get("nonempty_chunks")
    where = f"{snap.backend.url}: level {level} vertices"
    if listed is None:
        prefix = f"{level}/{VERTICES}/c/"
        coords = []
        for k in snap.list_keys(prefix):
            parts = k[len(prefix) :].split("/")
            try:
                coords.append([int(p) + o for p, o in zip(parts, origin, strict=True)])
            except ValueError:
                continue  # not a cell key (a stray file): nothing of the format
        return np.array(coords, dtype=np.int64).reshape(-1, ndim)
    if not isinstance(listed, list):
        raise CorruptStoreError(
            f"{where}: nonempty_chunks is a {type(listed).__name__}, not a list"
        )
    out = []
    for entry in listed:
        try:
            world = parse_world_key(entry)
        except (AttributeError, ValueError):
            raise CorruptStoreError(
                f"{where}: nonempty_chunks holds {entry!r}, not a cell key like '0.1.2'"
            ) from None
        if len(world) != ndim:
            raise CorruptStoreError(
                f"{where}: nonempty_chunks entry {entry!r} has {len(world)} coordinates, "
                f"the store has {ndim} axes"
            )
        out.append(world)
    return np.array(out, dtype=np.int64).reshape(-1, ndim)


#: The dtype vertices are stored as when their document does not say.
_FLOAT32: np.dtype[Any] = np.dtype(np.float32)


@dataclass
class CellPlan:
    """What reading some cells of a level needs, worked out once before fetching."""

    snap: Snapshot
    level: int
    names: list[str]
    paths: list[str]
    layouts: dict[str, ArrayLayout]
    wanted_paths: list[str]
    origin: list[int]
    #: The dtype positions are read as (float64 for scaled integers).
    dtype: np.dtype[Any]
    attr_layout: dict[str, tuple[np.dtype[Any], tuple[int, ...]]]
    need_rows: bool
    world_list: list[tuple[int, ...]]
    limits: dict[str, int]
    committed_count: int
    whole_level: bool
    #: The attribute cells' recorded checksums (binding each cell to its key).
    sums: CellTables
    #: The dtype the vertices are stored as, and their scaling if they are integers.
    stored: np.dtype[Any] = _FLOAT32
    scaling: Scaling | None = None

    def grids(self, world: Sequence[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [tuple(w - o for w, o in zip(cell, self.origin, strict=True)) for cell in world]


def plan_cells(
    snap: Snapshot,
    level: int,
    *,
    bbox: tuple[Sequence[float], Sequence[float]] | None,
    only: set[str] | None,
    attribute_names_: Sequence[str] | None,
) -> CellPlan | None:
    """The cells to read and how to decode them; ``None`` for a level with no vertices."""
    snap.check_complete()
    lm = snap.level_meta(level)
    ndim = snap.meta.ndim
    names = list(attribute_names(snap, level) if attribute_names_ is None else attribute_names_)
    paths = [
        f"{level}/{VERTICES}",
        f"{level}/{FRAGMENTS}",
        *(f"{level}/{ATTRIBUTES}/{n}" for n in names),
    ]
    docs = snap.nodes(paths)
    vdoc = docs[paths[0]]
    pending = snap.pending
    limits = pending.row_limits(level) if pending is not None else {}
    committed_count = pending.vertex_count if pending is not None and limits else lm.vertex_count
    if vdoc is None:
        if committed_count == 0:
            return None
        raise CorruptStoreError(
            f"{snap.backend.url}: level {level} has {committed_count} vertices but no "
            "vertices array"
        )
    missing = [n for n, p in zip(names, paths[2:], strict=True) if docs[p] is None]
    if missing:
        have = attribute_names(snap, level)
        raise ValidationError(
            f"attribute(s) {missing} do not exist at level {level}; stored attributes: {have}"
        )
    vattrs = vdoc.get("attributes", {})
    origin = [int(o) for o in vattrs.get("chunk_grid_origin", [0] * ndim)]
    world = listed_cells(snap, level, vattrs, origin)
    at = np.arange(len(world))  # where each cell stands in the listing (its checksums)
    listed = (world, at)  # every listed cell: a caller may read others than those planned
    if bbox is not None and len(world):
        inside = cells_in_box(world, snap.meta.chunk_shape, bbox)
        world, at = world[inside], at[inside]
    if only is not None:
        keep = np.array([world_key(w) in only for w in world.tolist()], dtype=bool)
        world, at = world[keep].reshape(-1, ndim), at[keep]
    world_list = [tuple(w) for w in world.tolist()]
    sums = CellTables(
        vattrs.get("nonempty_chunks"),
        {p: d for p in paths[2:] if (d := docs[p]) is not None},
        world_list,
        at,
        listed=listed,
    )
    if limits:
        world_list = [w for w in world_list if limits.get(world_key(w), -1) != 0]
    need_rows = docs[paths[1]] is not None and not lm.fragments_tile
    attr_docs = {
        n: d for n, p in zip(names, paths[2:], strict=True) if (d := docs[p]) is not None
    }  # every one is there: missing attributes were refused above
    return CellPlan(
        snap=snap,
        level=level,
        names=names,
        paths=paths,
        layouts={p: ArrayLayout(p, d) for p in paths if (d := docs[p]) is not None},
        wanted_paths=[paths[0], *([paths[1]] if need_rows else []), *paths[2:]],
        origin=origin,
        dtype=le_dtype(positions_dtype(vattrs)),
        stored=le_dtype(vattrs.get("dtype", "float32")),
        scaling=Scaling.of_attrs(vattrs),
        attr_layout={
            n: (le_dtype(d["attributes"]["dtype"]), tuple(d["attributes"].get("row_shape") or ()))
            for n, d in attr_docs.items()
        },
        need_rows=need_rows,
        world_list=world_list,
        limits=limits,
        committed_count=committed_count,
        whole_level=bbox is None and only is None,
        sums=sums,
    )


def fetch_world(
    plan: CellPlan,
    world: Sequence[tuple[int, ...]],
    progress: Callable[[int, int], None] | None,
) -> dict[tuple[str, tuple[int, ...]], bytes]:
    layouts = {p: plan.layouts[p] for p in plan.wanted_paths}
    return _fetch(plan.snap, layouts, plan.grids(world), progress)


def decode_cells(
    plan: CellPlan,
    world: Sequence[tuple[int, ...]],
    got: Mapping[tuple[str, tuple[int, ...]], bytes],
    limits: Mapping[str, int],
) -> list[Cell]:
    """Verify and decode fetched cells ``world``, cut to ``limits`` (rows per cell)."""
    reader = _CellReader(plan.snap, plan.level, got, plan.layouts)
    ndim = plan.snap.meta.ndim
    paths, origin = plan.paths, plan.origin
    found: list[tuple[tuple[int, ...], int | None, npt.NDArray[Any]]] = []
    for w in world:
        limit = limits.get(world_key(w))
        if limit == 0:
            continue  # created by a write the snapshot does not include
        pts = reader.rows(paths[0], w, origin, plan.stored, (ndim,))
        if plan.scaling is not None:
            pts = plan.scaling.decode(pts)
        found.append((w, limit, pts))
    # Bytes bound to their key: every cell's positions checked at once, before anything else.
    cell_size = plan.snap.meta.chunk_shape
    stray = first_misplaced([(w, pts) for w, _, pts in found], cell_size)
    if stray is not None:
        at, _, stray_pts = found[stray]
        why = check_in_cell(stray_pts, at, cell_size)
        raise CorruptStoreError(f"{reader.where(paths[0], at, origin)}: {why}")
    out: list[Cell] = []
    for w, limit, pts in found:
        key = world_key(w)
        n_rows = len(pts)
        rows: npt.NDArray[np.int64] | int = n_rows
        if plan.need_rows:
            rows = reader.fragment_rows(paths[1], w, origin)
        if n_rows == 0 or (limit is not None and n_rows < limit):
            raise CorruptStoreError(
                f"{reader.where(paths[0], w, origin)}: the cell is listed in nonempty_chunks "
                f"but holds {n_rows} of its {limit or 'listed'} points"
            )
        if limit is not None:
            rows = min(rows, limit) if isinstance(rows, int) else rows[rows < limit]
        elif not isinstance(rows, int) and len(rows) and not 0 <= rows.min() <= rows.max() < n_rows:
            raise CorruptStoreError(
                f"{reader.where(paths[1], w, origin)}: the fragment index names rows outside "
                f"the cell's {n_rows} points"
            )
        cell = Cell(key, pts[:rows] if isinstance(rows, int) else pts[rows], {})
        out.append(cell)
        for n, p in zip(plan.names, paths[2:], strict=True):
            adt, rshape = plan.attr_layout[n]
            col = reader.rows(p, w, origin, adt, rshape)
            # While an append rewrites a cell's arrays one after the other, only the
            # committed rows (``limit``) have to be in every array.
            if len(col) != n_rows if limit is None else len(col) < limit:
                raise CorruptStoreError(
                    f"{reader.where(p, w, origin)}: {len(col)} attribute values for "
                    f"{n_rows} points in the cell"
                )
            if limit is None and (expected := plan.sums.expected(p, w)) is not None:
                reader.check_sum(p, w, origin, expected, plan.sums)  # this cell's values
            cell.attributes[n] = col[:rows] if isinstance(rows, int) else col[rows]
    return out


def fetch_cells(
    snap: Snapshot,
    level: int,
    *,
    bbox: tuple[Sequence[float], Sequence[float]] | None = None,
    only: set[str] | None = None,
    attribute_names_: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    confirm: bool = True,
) -> tuple[list[Cell], np.dtype[Any], dict[str, tuple[np.dtype[Any], tuple[int, ...]]]]:
    """Cells of ``level`` meeting ``bbox`` (or whose world keys are in ``only``), verified.

    Returns the cells, the vertex dtype and each attribute's (dtype, row shape).
    Every listed cell must be there and agree with its siblings and with the
    level's vertex count; a cell that does not raises
    :class:`~zarr_vectors.exceptions.CorruptStoreError` naming it. Cells touched
    by an unfinished append are cut back to their old rows; with ``confirm``,
    the root is read again afterwards and cells changed by writes committed
    since the snapshot are cut back too.
    """
    plan = plan_cells(snap, level, bbox=bbox, only=only, attribute_names_=attribute_names_)
    return planned_cells(plan, snap, level, attribute_names_, progress=progress, confirm=confirm)


def planned_cells(
    plan: CellPlan | None,
    snap: Snapshot,
    level: int,
    attribute_names_: Sequence[str] | None,
    *,
    progress: Callable[[int, int], None] | None,
    confirm: bool,
) -> tuple[list[Cell], np.dtype[Any], dict[str, tuple[np.dtype[Any], tuple[int, ...]]]]:
    """:func:`fetch_cells` once its cells are planned (``None``: a level with no vertices)."""
    if plan is None:
        names = list(attribute_names(snap, level) if attribute_names_ is None else attribute_names_)
        return [], np.dtype(np.float32), {n: (np.dtype(np.float32), ()) for n in names}
    out = _fetch_decoded(plan, progress, confirm=confirm)
    # The level's count is the snapshot's (Snapshot.level_meta), so the sum is exact.
    total = sum(len(c.positions) for c in out)
    if plan.whole_level and total != plan.committed_count:
        raise CorruptStoreError(
            f"{snap.backend.url}: level {level} says it holds {plan.committed_count} points "
            f"but its cells hold {total}; run 'zarr-vectors verify' to list what is wrong"
        )
    return out, plan.dtype, plan.attr_layout


#: How many times a read that appends tore is fetched (see :func:`_fetch_decoded`).
READ_ATTEMPTS = 3


def _fetch_decoded(
    plan: CellPlan, progress: Callable[[int, int], None] | None, *, confirm: bool
) -> list[Cell]:
    """The planned cells fetched and decoded, cut back to the snapshot (with ``confirm``).

    Appends only add rows and put each object whole, so cells fetched while
    appends run are cut back to their committed rows by the journal. What that
    cannot cut back is a read one append tore inside an object it rewrote: a
    shard read by ranges takes its size from before the append and its index
    or cells from after it, and fails verification. Such a failure, when an
    append to the level ran since the snapshot, fetches the cells again (at
    most :data:`READ_ATTEMPTS` times) rather than calling the store corrupt;
    with no append since, or without ``confirm`` (a writer holding the lease),
    it is raised as found.
    """
    for attempt in range(1, READ_ATTEMPTS + 1):
        try:
            got = fetch_world(plan, plan.world_list, progress)
            changed = changed_since(plan.snap, plan.level, plan.limits) if confirm else {}
            return decode_cells(plan, plan.world_list, got, {**plan.limits, **changed})
        except CorruptStoreError as exc:
            if not confirm or not appended_since(plan.snap, plan.level):
                raise
            if attempt == READ_ATTEMPTS:
                raise StaleSnapshotError(
                    f"{plan.snap.backend.url}: level {plan.level} was rewritten by appends while "
                    f"it was read, {READ_ATTEMPTS} times running; read it again"
                ) from exc
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def appended_since(snap: Snapshot, level: int) -> bool:
    """Whether an append to ``level`` committed or ran since ``snap`` (and may tear a read)."""
    return any(change.level == str(level) for change in snap.appends_since())


class _CellReader:
    """Decodes one array's cells out of a fetched batch, naming any cell that is wrong."""

    def __init__(
        self,
        snap: Snapshot,
        level: int,
        got: Mapping[tuple[str, tuple[int, ...]], bytes],
        layouts: Mapping[str, ArrayLayout],
    ) -> None:
        self.snap, self.level, self.got, self.layouts = snap, level, got, layouts
        self.raw = b""

    def where(self, path: str, world: Sequence[int], origin: Sequence[int]) -> str:
        return f"{self.snap.backend.url}: {cell_key(path, world, origin)} (level {self.level})"

    def payload(self, path: str, world: Sequence[int], origin: Sequence[int]) -> bytes:
        grid = tuple(int(w) - int(o) for w, o in zip(world, origin, strict=True))
        raw = self.got.get((path, grid))
        if raw is None:
            raise CorruptStoreError(
                f"{self.where(path, world, origin)}: the cell is listed in nonempty_chunks "
                "but missing from the store"
            )
        self.raw = raw  # for check_sum, which follows when the cell is bound to its key
        try:
            return self.layouts[path].codec.decode(raw, "")
        except CorruptStoreError as exc:  # named only when wrong: a name per cell costs
            raise CorruptStoreError(f"{self.where(path, world, origin)}{exc}") from None

    def check_sum(
        self,
        path: str,
        world: Sequence[int],
        origin: Sequence[int],
        expected: int,
        tables: CellTables,
    ) -> None:
        """Raise if the cell last decoded (``path``'s cell ``world``) holds another listed
        cell's bytes; note it in ``tables.unlisted`` if it holds bytes no cell lists."""
        got = self.layouts[path].codec.checksum(self.raw)
        if got == expected:
            return
        owner = tables.owner(got)
        if owner is None:  # rewritten whole by a writer that does not keep the table
            tables.unlisted.append(f"{cell_key(path, world, origin)}")
            return
        raise CorruptStoreError(
            f"{self.where(path, world, origin)}: the object holds another cell's bytes, "
            f"those listed for {owner[0]} cell {owner[1]} (moved, swapped or copied files)"
        )

    def rows(
        self,
        path: str,
        world: Sequence[int],
        origin: Sequence[int],
        dtype: np.dtype[Any],
        row_shape: tuple[int, ...],
    ) -> npt.NDArray[Any]:
        data = self.payload(path, world, origin)
        row_bytes = dtype.itemsize * math.prod(row_shape)
        if row_bytes == 0 or len(data) % row_bytes:
            raise CorruptStoreError(
                f"{self.where(path, world, origin)}: {len(data)} bytes is not a whole number "
                f"of {row_bytes}-byte rows"
            )
        return np.frombuffer(data, dtype=dtype).reshape(-1, *row_shape)

    def fragment_rows(
        self, path: str, world: Sequence[int], origin: Sequence[int]
    ) -> npt.NDArray[np.int64] | int:
        where = self.where(path, world, origin)
        try:
            return decode_fragment_rows(self.payload(path, world, origin), where)
        except CorruptStoreError:
            raise
        except (StoreError, ValueError) as exc:
            raise CorruptStoreError(str(exc)) from None


def changed_since(snap: Snapshot, level: int, known: Mapping[str, int]) -> dict[str, int]:
    """Row limits for cells changed by writes that started or committed after ``snap``.

    Read after the cells were fetched (see :meth:`Snapshot.appends_since`).
    Appends only add rows, so a cell's row count at the snapshot is the old
    count of the first append after it that touched the cell.
    """
    limits: dict[str, int] = {}
    for change in snap.appends_since():
        for cell, count in change.row_limits(level).items():
            if cell not in known and cell not in limits:
                limits[cell] = count
    return limits
