"""Check a whole store against its own metadata and list every problem found.

Reads refuse a damaged store at the first problem they meet; ``verify`` goes
on to the end and reports them all: unreadable metadata, listed cells that are
missing, empty, truncated, fail their checksum or disagree with their sibling
arrays, levels whose vertex counts do not add up, and (as warnings) cell objects
no metadata lists, which an interrupted write can leave behind. Cells are
fetched in batches through the backend's bounded-concurrency ``get_many``; a
batch that fails is checked again cell by cell to name each bad one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from zarr_vectors.exceptions import StoreNotFoundError, ZarrVectorsError
from zarr_vectors.format.cellread import decode_cells, fetch_world, plan_cells
from zarr_vectors.format.grid import parse_world_key, world_key
from zarr_vectors.format.journal import is_private
from zarr_vectors.format.levels import VERTICES, attribute_names, fetch_cells, listed_cells
from zarr_vectors.format.sharding import parse_sharding
from zarr_vectors.format.snapshot import Snapshot, load_snapshot
from zarr_vectors.storage.base import StorageBackend

__all__ = ["Problem", "VerifyReport", "repair_backend", "verify_backend"]

#: Cells checked per batch (one concurrent fetch each).
BATCH_CELLS = 512


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a store: where, what, and whether reads fail on it."""

    where: str
    what: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.severity}: {self.where}: {self.what}"


@dataclass
class VerifyReport:
    """Everything ``verify`` found (``ok`` when no error; warnings do not count)."""

    url: str
    problems: list[Problem] = field(default_factory=list)
    levels: int = 0
    cells_checked: int = 0
    points_checked: int = 0
    #: What :func:`repair_backend` did before the check (``verify --repair``).
    repaired: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def verify_backend(
    backend: StorageBackend, *, progress: Callable[[int, int], None] | None = None
) -> VerifyReport:
    """Check every level, array and cell of the store on ``backend``.

    Raises :class:`StoreNotFoundError` when there is no store there at all: the
    report is about a store's damage, and nothing is not a damaged store.
    """
    report = VerifyReport(backend.url)
    try:
        snap = load_snapshot(backend)
        snap.check_complete()
    except StoreNotFoundError:
        raise
    except ZarrVectorsError as exc:
        report.problems.append(Problem("root zarr.json", str(exc)))
        return report
    pending = snap.pending
    if pending is not None:
        report.problems.append(
            Problem(
                "root zarr.json",
                f"a write ({'append' if pending.mode == 'a' else 'replace'}) did not finish; "
                "readers see the state before it, and the next write repairs it",
                "warning",
            )
        )
    plans: list[tuple[int, list[str]]] = []
    for level in (int(p) for p in snap.meta.levels):
        try:
            cells = _listed(snap, level)
        except ZarrVectorsError as exc:
            report.problems.append(Problem(f"level {level}", str(exc)))
            continue
        plans.append((level, cells))
    total = sum(len(c) for _, c in plans)
    done = 0
    if progress is not None:
        progress(0, total)
    for level, cells in plans:
        report.levels += 1
        if _encoding(snap, level) != "raw":  # cells of their own encoding: read as objects
            _check_objects(snap, level, report, cells=len(cells))
            done += len(cells)
            continue
        points = 0
        for start in range(0, len(cells), BATCH_CELLS):
            batch = cells[start : start + BATCH_CELLS]
            points += _check_batch(snap, level, batch, report)
            done += len(batch)
            if progress is not None:
                progress(done, total)
        report.points_checked += points
        _check_count(snap, level, points, report)
        _check_orphans(snap, level, set(cells), report)
        _check_objects(snap, level, report)
    return report


def _encoding(snap: Snapshot, level: int) -> str:
    vdoc = snap.node(f"{level}/{VERTICES}") or {}
    return str((vdoc.get("attributes") or {}).get("encoding", "raw"))


def repair_backend(backend: StorageBackend, *, lock_timeout: float | None = None) -> list[str]:
    """Repair what killed writers left, under the write lease; return what was done.

    The repairs the next writer would make, made now (``zarr-vectors verify
    --repair``): an unfinished append is rolled back (so readers that do not
    know the journal, such as zarr-vectors 0.9.2, stop seeing its uncommitted
    points), an unfinished replace is dropped or finished, and staged copies
    no journal entry names (``.zv-staged-*``) and temporary files of killed puts
    (``.zv-tmp-*``, on backends that have them) are deleted. A store with
    nothing to repair gets its root rewritten unchanged.
    """
    from zarr_vectors.format.journal import PRIVATE_PREFIX
    from zarr_vectors.format.transaction import rewrite_root

    done: list[str] = []
    before = load_snapshot(backend).pending

    def change(snap: Snapshot) -> tuple[dict[str, object], None]:
        # The snapshot is repaired already (rewrite_root recovers under the lease).
        if before is not None:
            kind = "append" if before.mode == "a" else "replace"
            done.append(
                f"an unfinished {kind} was {'rolled back' if kind == 'append' else 'repaired'}"
            )
        staged = f"{PRIVATE_PREFIX}staged-"
        for child in backend.list_prefix("", recursive=False):
            if child.startswith(staged):
                backend.delete_prefix(child.rstrip("/"))
                done.append(f"deleted the leftover staged copy {child.rstrip('/')}")
        # A backend whose puts go through temporary files (the local disk) removes those
        # of killed puts; under the lease no put of a live writer is in flight.
        sweep = getattr(backend, "remove_temporaries", None)
        if sweep is not None and (count := sweep()):
            done.append(f"deleted {count} temporary file(s) of puts that never finished")
        return dict(snap.root_doc), None

    rewrite_root(backend, change, lock_timeout=lock_timeout)
    return done


def _check_objects(
    snap: Snapshot, level: int, report: VerifyReport, cells: int | None = None
) -> None:
    """A level of objects (lines, polylines, graphs): every object read whole, with its links.

    Reading every object checks what a point-by-point pass cannot: each manifest
    names cells and fragments that exist, fragments lie within their cells, links
    name rows their cells have, and the objects' vertices add up to the level's.
    A level whose cells have an encoding of their own (Draco meshes: ``cells``
    given) is checked only this way, every cell decoded.
    """
    if snap.node(f"{level}/object_index") is None:
        return
    from zarr_vectors.format.draco import DracoCells, ForeignDracoError
    from zarr_vectors.format.objread import read_objects

    try:
        data = read_objects(snap, level, links=True, cell_decoders={"draco": DracoCells().decode})
    except ForeignDracoError as exc:
        report.problems.append(Problem(f"level {level} objects", str(exc), "warning"))
    except ZarrVectorsError as exc:
        report.problems.append(Problem(f"level {level} objects", str(exc)))
    else:
        if cells is not None:
            report.cells_checked += data.cells_read
            report.points_checked += len(data.positions)


def _listed(snap: Snapshot, level: int) -> list[str]:
    """World keys of the level's listed cells (raises if the listing itself is bad)."""
    snap.level_meta(level)
    vdoc = snap.node(f"{level}/{VERTICES}")
    if vdoc is None:
        return []
    attrs = vdoc.get("attributes", {})
    origin = [int(o) for o in attrs.get("chunk_grid_origin", [0] * snap.meta.ndim)]
    return [world_key(w) for w in listed_cells(snap, level, attrs, origin).tolist()]


def _check_batch(snap: Snapshot, level: int, batch: list[str], report: VerifyReport) -> int:
    """Points in the good cells of ``batch``; a problem for each bad one.

    The batch is fetched once. When its decoding fails, each cell is decoded
    again from the bytes already fetched to name the bad ones: fetching them
    again one by one (a shard index and a range per cell) made verifying a
    damaged sharded store several times slower than an intact one. Only a
    batch whose fetch itself fails is fetched again cell by cell.
    """
    names = _names(snap, level)
    try:
        plan = plan_cells(snap, level, bbox=None, only=set(batch), attribute_names_=names)
        if plan is None:
            return 0
        got = fetch_world(plan, plan.world_list, None)
    except ZarrVectorsError:
        return _check_one_by_one(snap, level, batch, names, report)
    try:
        cells = decode_cells(plan, plan.world_list, got, plan.limits)
    except ZarrVectorsError:
        points = 0
        for world in plan.world_list:  # find which cells are bad, from the fetched bytes
            try:
                one = decode_cells(plan, [world], got, plan.limits)
            except ZarrVectorsError as exc:
                report.problems.append(Problem(f"level {level} cell {world_key(world)}", str(exc)))
                continue
            report.cells_checked += 1
            points += sum(len(c.positions) for c in one)
        _warn_unlisted(plan.sums.unlisted, level, report)
        return points
    report.cells_checked += len(cells)
    _warn_unlisted(plan.sums.unlisted, level, report)
    return int(sum(len(c.positions) for c in cells))


def _warn_unlisted(cells: list[str], level: int, report: VerifyReport) -> None:
    """A warning per attribute cell whose checksum matched no cell its array lists."""
    for key in dict.fromkeys(cells):
        report.problems.append(
            Problem(
                f"level {level} {key}",
                "its checksum is not the one its array lists, nor any other cell's: it was "
                "rewritten by a writer that does not keep the table (such as zarr-vectors "
                "0.9.2's edits) or restored from elsewhere; reads take its values as they are",
                "warning",
            )
        )


def _check_one_by_one(
    snap: Snapshot, level: int, batch: list[str], names: list[str], report: VerifyReport
) -> int:
    """Points in the good cells of a batch whose fetch failed, each cell fetched alone."""
    points = 0
    for key in batch:
        try:
            one, _, _ = fetch_cells(snap, level, only={key}, attribute_names_=names, confirm=False)
        except ZarrVectorsError as exc:
            report.problems.append(Problem(f"level {level} cell {key}", str(exc)))
            continue
        report.cells_checked += 1
        points += sum(len(c.positions) for c in one)
    return points


def _names(snap: Snapshot, level: int) -> list[str]:
    try:
        return attribute_names(snap, level)
    except ZarrVectorsError:
        return []


def _check_count(snap: Snapshot, level: int, points: int, report: VerifyReport) -> None:
    try:
        expected = snap.level_meta(level).vertex_count
    except ZarrVectorsError:
        return
    pending = snap.pending
    limits = pending.row_limits(level) if pending is not None else {}
    if limits and pending is not None:
        expected = pending.vertex_count
    if points != expected and report.ok:
        report.problems.append(
            Problem(
                f"level {level}",
                f"its metadata counts {expected} points but its cells hold {points}",
            )
        )


def _check_orphans(snap: Snapshot, level: int, listed: set[str], report: VerifyReport) -> None:
    """Cell objects of the vertices array that no metadata lists (warnings).

    A sharded array's objects are its shards: one is an orphan when it holds none of
    the listed cells.
    """
    vdoc = snap.node(f"{level}/{VERTICES}")
    if vdoc is None:
        return
    origin = [int(o) for o in vdoc["attributes"].get("chunk_grid_origin", [0] * snap.meta.ndim)]
    sharding = parse_sharding(vdoc)
    wanted: set[tuple[int, ...]] = set()
    for key in listed:
        grid = tuple(w - o for w, o in zip(parse_world_key(key), origin, strict=True))
        wanted.add(sharding.locate(grid)[0] if sharding is not None else grid)
    prefix = f"{level}/{VERTICES}/c/"
    unlisted = []
    for key in snap.backend.list_prefix(prefix, recursive=True):
        if is_private(key):
            continue
        try:
            grid = tuple(int(p) for p in key[len(prefix) :].split("/"))
        except ValueError:
            unlisted.append(key)
            continue
        if grid not in wanted:
            unlisted.append(key)
    if unlisted:
        report.problems.append(
            Problem(
                f"level {level} vertices",
                f"{len(unlisted)} cell object(s) are not listed in nonempty_chunks and are "
                f"ignored by readers (e.g. {unlisted[0]!r}); an interrupted write may have "
                "left them",
                "warning",
            )
        )
