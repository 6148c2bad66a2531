"""``zarr-vectors write-points`` and ``zarr-vectors read-points``.

Thin wrappers over :func:`zarr_vectors.types.points.write_points` and
:func:`~zarr_vectors.types.points.read_points`: the file formats live in
:mod:`zarr_vectors.io` (one module per format), the option parsing in :mod:`zarr_vectors.cli._args`,
and the mapping of errors to exit codes in :mod:`zarr_vectors.cli._errors`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from zarr_vectors.cli._args import BoxType, ChunkShapeType, MemorySizeType, ShardShapeType
from zarr_vectors.cli._errors import InputError, handle_errors, secrets_of
from zarr_vectors.cli._progress import phase_bars
from zarr_vectors.cli.options import parse_options
from zarr_vectors.storage.secrets import redact_url

__all__ = ["backend_options", "read_points_cmd", "store_kwargs", "write_points_cmd"]

if TYPE_CHECKING:
    import numpy.typing as npt

    from zarr_vectors.io.points_files import PointReader
    from zarr_vectors.progress import PhaseBars

F = TypeVar("F", bound=Callable[..., Any])


def backend_options(func: F) -> F:
    """``--backend NAME`` and repeated ``--option KEY=VALUE`` (shared by every store command)."""
    func = click.option(
        "--option",
        "options",
        multiple=True,
        metavar="KEY=VALUE",
        help="Backend option, repeatable (e.g. --option region=us-east-1 "
        "--option endpoint=http://127.0.0.1:8333). Values true/false/numbers/JSON are parsed.",
    )(func)
    func = click.option(
        "--backend",
        default=None,
        metavar="NAME",
        help="Backend to use instead of the one chosen from the URL (see 'zarr-vectors backends').",
    )(func)
    return func


def store_kwargs(url: str, backend: str | None, options: tuple[str, ...]) -> dict[str, Any]:
    """``backend=`` and backend options for the store API; remembers secrets for redaction."""
    kwargs = parse_options(options)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta.setdefault("zv_secrets", []).extend(secrets_of(kwargs, [url]))
    return {"backend": backend, **kwargs}


def _full_chunk_shape(chunk: tuple[float, ...] | None, ndim: int) -> tuple[float, ...] | None:
    if chunk is None or len(chunk) != 1:
        return chunk
    return chunk * ndim


#: LAS/LAZ input whose grid has more cells than this is sharded by default: each
#: cell is 2 + n_attributes objects (a point format 3 survey: 18), so 64 cells are
#: already over a thousand objects, and object stores bill per request. A shard of
#: 8 cells per axis holds up to 512 cells in each object; a box read still fetches
#: only the byte ranges of the cells it needs.
AUTO_SHARD_CELLS = 64
AUTO_SHARD_SIDE = 8


def _auto_shards(
    positions: Any,
    bounds: tuple[tuple[float, ...], tuple[float, ...]] | None,
    chunk_shape: tuple[float, ...] | None,
) -> tuple[int, ...] | None:
    """Cells per shard for a survey whose grid has more than :data:`AUTO_SHARD_CELLS` cells."""
    import math

    import numpy as np

    if chunk_shape is None or (len(positions) == 0 and bounds is None):
        return None
    lo = np.asarray(bounds[0] if bounds else positions.min(axis=0), dtype=np.float64)
    hi = np.asarray(bounds[1] if bounds else positions.max(axis=0), dtype=np.float64)
    if len(chunk_shape) != len(lo):
        return None  # the write names the mismatch
    cs = np.asarray(chunk_shape, dtype=np.float64)
    cells = np.floor(hi / cs) - np.floor(lo / cs) + 1
    if math.prod(int(c) for c in cells) <= AUTO_SHARD_CELLS:
        return None
    return tuple(int(min(AUTO_SHARD_SIDE, c)) for c in cells)


#: The default overview of a LAS/LAZ survey: one coarse level of about this many
#: points (50,000 to 200,000, as the bin is rounded to a power of two), which
#: ``preview`` reads whole (it prefers a level of 100,000 to 2,000,000 points to a
#: sample of cells) and a viewer shows first. Making it costs one pass over the
#: points; storing it a few per cent of the survey's bytes. Surveys of at most twice
#: this many points are drawn whole from level 0 and get none.
OVERVIEW_POINTS = 100_000
#: What the coarse levels of a survey carry besides positions: the fields a viewer
#: colours by (each coarse point takes its bin's first point's values). Every field would
#: more than double the overview's bytes, GPS times alone adding about as much again as
#: the positions (bench/bench_lidar.py; docs/lidar.md).
OVERVIEW_FIELDS = ("intensity", "classification", "red", "green", "blue", "nir")


def _auto_overview(
    positions: Any, chunk_shape: tuple[float, ...] | None
) -> tuple[int, tuple[float, ...] | None]:
    """``(levels, bin_shape)`` of a survey's default overview.

    A survey is a surface: binning it by ``b`` keeps about ``area / b**2`` points,
    so level 1's bin is about ``sqrt(area / OVERVIEW_POINTS)``; ``bin_shape`` (half
    of it, as level ``k`` bins by ``bin_shape * 2**k``) is the cell size divided by
    the power of two that comes closest, as the format wants.
    """
    import math

    import numpy as np

    n = len(positions)
    if chunk_shape is None or n <= 2 * OVERVIEW_POINTS or positions.shape[1] < 2:
        return 1, None
    span = np.ptp(positions[:, :2], axis=0).astype(np.float64)
    area = max(float(span[0]) * float(span[1]), 1e-12)
    want = math.sqrt(area / OVERVIEW_POINTS) / 2
    cs = min(chunk_shape[:2])
    steps = max(0, round(math.log2(cs / want))) if want < cs else 0
    return 2, tuple(c / 2**steps for c in chunk_shape)


def _read_input(
    reader: PointReader, bars: PhaseBars | None
) -> tuple[npt.NDArray[Any], dict[str, npt.NDArray[Any]]]:
    """Every point of ``reader``, batch by batch, counted on the "reading input" bar."""
    import numpy as np

    from zarr_vectors.io.common import BATCH_POINTS

    if bars is not None:
        bars.start(f"reading {reader.path.name}", reader.count, "points")
    parts = []
    # The command holds every point anyway: a file that says how many it has is read
    # in one batch, which spares concatenating batches (a copy of everything).
    for positions, attributes in reader.batches(max(reader.count or BATCH_POINTS, 1)):
        parts.append((positions, attributes))
        if bars is not None:
            bars.advance(len(positions))
    if bars is not None:
        bars.finish()
    if len(parts) == 1:
        return parts[0]
    return (
        np.concatenate([p for p, _ in parts]),
        {n: np.concatenate([a[n] for _, a in parts]) for n in parts[0][1]},
    )


def _choose(
    attributes: dict[str, npt.NDArray[Any]], names: tuple[str, ...], none: bool, path: Path
) -> dict[str, npt.NDArray[Any]]:
    """The attributes asked for with --attribute (all by default, none with --no-attributes)."""
    if none:
        return {}
    if not names:
        return attributes
    missing = [n for n in names if n not in attributes]
    if missing:
        raise InputError(
            f"{path} has no attribute(s) {missing}; its attributes are {sorted(attributes)}"
        )
    return {n: attributes[n] for n in names}


def _notes(notes: list[str]) -> None:
    for note in notes:
        click.echo(f"Note: {note}", err=True)


@click.command("write-points")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("url")
@click.option(
    "-c",
    "--chunk-shape",
    type=ChunkShapeType(),
    default=None,
    help="Cell size per axis, e.g. 200 (all axes) or 200,200,100. Required unless --mode a.",
)
@click.option(
    "--bounds",
    type=BoxType(),
    default=None,
    help="Store bounds as MIN...,MAX... (e.g. 0,0,0,1000,1000,1000); default: the data's extent.",
)
@click.option(
    "--mode",
    type=click.Choice(["w-", "w", "a"]),
    default="w-",
    show_default=True,
    help="w- create (fail if a store exists), w replace, a append.",
)
@click.option(
    "--consolidate/--no-consolidate",
    default=True,
    show_default=True,
    help="Keep zarr v3 consolidated metadata in the root (one request to open remotely).",
)
@click.option(
    "--levels",
    type=click.IntRange(min=1),
    default=None,
    help="Resolution levels; each coarser level bins points by twice the size of the one "
    "before. Default: 1, except LAS/LAZ input of more than "
    f"{2 * OVERVIEW_POINTS:,} points, which gets an overview (a level of about "
    f"{OVERVIEW_POINTS:,} points, with {', '.join(OVERVIEW_FIELDS[:-1])} and "
    f"{OVERVIEW_FIELDS[-1]}); --levels 1 for none.",
)
@click.option(
    "--compressor",
    type=click.Choice(["auto", "none", "zstd", "gzip", "blosc", "lzma"]),
    default="auto",
    show_default=True,
    help="Compression of the cell chunks; auto: blosc (zstd over a byte shuffle) for LAS/LAZ "
    "input (surveys are compared with LAZ), none otherwise (as 0.9.2 writes); lzma: the "
    "smallest store (a byte shuffle, a delta filter and LZMA; about 20% fewer bytes than blosc "
    "for about 2.5 times the write time; zarr-python reads it, other Zarr readers may not).",
)
@click.option(
    "--dtype",
    type=click.Choice(["float32", "float64"]),
    default=None,
    help="Coordinate type to store (default: the file's floating type; integers -> float32; "
    "LAS/LAZ: the file's 32-bit integers with its scale and offset, read back as float64).",
)
@click.option(
    "--sep",
    default=None,
    metavar="CHAR",
    help="CSV field separator, e.g. ';' or tab (default: sniffed from the first lines).",
)
@click.option(
    "--attribute",
    "attribute_names",
    multiple=True,
    metavar="NAME",
    help="Attribute of the file to store (repeatable); default: all of them.",
)
@click.option("--no-attributes", is_flag=True, help="Store positions only.")
@click.option(
    "--shard-shape",
    type=ShardShapeType(),
    default=None,
    help="Store cells in shards of this many cells per axis, e.g. 8 or 8,8,4 (fewer, larger "
    "objects; good for object stores). Default: one object per cell, except LAS/LAZ input "
    f"of more than {AUTO_SHARD_CELLS} cells, which is sharded {AUTO_SHARD_SIDE} per axis.",
)
@click.option(
    "--memory-limit",
    type=MemorySizeType(),
    default=None,
    help="Memory the write may use, e.g. 512MB, 1GiB or bytes (at least 16 MiB); larger "
    "inputs are sorted through temporary files on disk.",
)
@click.option(
    "--spill-dir",
    type=click.Path(exists=True, file_okay=False, writable=True),
    default=None,
    help="Existing directory for those temporary files (default: the system's temp dir).",
)
@backend_options
@handle_errors
def write_points_cmd(
    input_path: Path,
    url: str,
    chunk_shape: tuple[float, ...] | None,
    bounds: tuple[tuple[float, ...], tuple[float, ...]] | None,
    mode: str,
    consolidate: bool,
    levels: int | None,
    compressor: str,
    dtype: str | None,
    sep: str | None,
    attribute_names: tuple[str, ...],
    no_attributes: bool,
    shard_shape: int | tuple[int, ...] | None,
    memory_limit: int | None,
    spill_dir: str | None,
    backend: str | None,
    options: tuple[str, ...],
) -> None:
    """Write the points of INPUT (.npy, .csv, .ply, .las or .laz) to a store at URL.

    URL is a local path or any URL a backend serves (s3://, gs://, az://, ...).
    Columns, PLY properties and LAS point fields other than x, y, z are stored as
    per-point attributes.
    """
    from zarr_vectors.io.points_files import open_point_file
    from zarr_vectors.progress import WRITE_PHASES, PhasedProgress
    from zarr_vectors.types.points import write_points

    kwargs = store_kwargs(url, backend, options)
    if chunk_shape is None and mode != "a":
        raise InputError("--chunk-shape is required to create a store, e.g. --chunk-shape 200")
    reader = open_point_file(input_path, sep=sep)
    if mode == "a" and reader.crs is not None:
        _check_same_crs(url, reader.crs, input_path, kwargs)
    with phase_bars() as bars:
        start = time.perf_counter()
        positions, attributes = _read_input(reader, bars)
        read_took = time.perf_counter() - start
        attributes = _choose(attributes, attribute_names, no_attributes, input_path)
        if len(positions) == 0 and bounds is None and mode != "a":
            raise InputError(
                f"{input_path} holds no points; pass --bounds to create an empty store "
                "(e.g. --bounds 0,0,0,1000,1000,1000)"
            )
        ndim = positions.shape[1] if positions.ndim == 2 else 0
        survey = input_path.suffix.lower() in (".las", ".laz")
        if compressor == "auto":
            compressor = "blosc" if survey else "none"
        # LAS coordinates stay the file's integers with its scale and offset (bit-exact, and
        # a third of float64's bytes); --dtype asks for floats instead.
        scale_offset = reader.scale_offset if dtype is None and mode != "a" else None
        if shard_shape is None and survey and mode != "a" and chunk_shape is not None:
            shard_shape = _auto_shards(positions, bounds, _full_chunk_shape(chunk_shape, ndim))
        bin_shape = None
        if levels is None and survey and mode != "a" and chunk_shape is not None:
            levels, bin_shape = _auto_overview(positions, _full_chunk_shape(chunk_shape, ndim))
        start = time.perf_counter()
        counter = PhasedProgress(bars, WRITE_PHASES)
        summary = write_points(
            url,
            positions,
            chunk_shape=_full_chunk_shape(chunk_shape, ndim),
            bounds=bounds,
            vertex_attributes=attributes or None,
            dtype=dtype,
            compressor=None if compressor == "none" else compressor,
            mode=mode,
            levels=levels or 1,
            bin_shape=bin_shape,
            consolidate=consolidate,
            progress=counter,
            shard_shape=shard_shape,
            memory_limit=memory_limit,
            spill_dir=spill_dir,
            crs=reader.crs if mode != "a" else None,
            metadata=(reader.metadata or None) if mode != "a" else None,
            scale_offset=scale_offset,
            overview_attributes=[n for n in attributes if n in OVERVIEW_FIELDS] if survey else None,
            **kwargs,
        )
        took = time.perf_counter() - start
    _notes(reader.notes)
    click.echo(
        f"Read {len(positions):,} points from {input_path.name} ({reader.description}) "
        f"in {read_took:.2f} s."
    )
    attrs = f" with attributes {sorted(attributes)}" if attributes else ""
    verb = "Appended" if mode == "a" else "Wrote"
    objects = f" ({counter.total:,} points written)" if counter.total is not None else ""
    click.echo(
        f"{verb} {summary.points_written:,} {ndim}-D points{attrs} to {redact_url(url)} "
        f"in {took:.2f} s: {summary.cells_written:,} cells{objects}, {summary.levels} level(s), "
        f"{summary.vertex_count:,} points in the store."
    )


@click.command("read-points")
@click.argument("url")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Output file: .npy (positions), .npz (positions and attributes), .csv, .ply, "
    ".las or .laz.",
)
@click.option(
    "--bbox",
    type=BoxType(),
    default=None,
    help="Only points inside this closed box, MIN...,MAX... (e.g. 0,0,0,500,500,500).",
)
@click.option("--level", type=click.IntRange(min=0), default=0, show_default=True)
@click.option(
    "--attribute",
    "attributes",
    multiple=True,
    metavar="NAME",
    help="Attribute to read (repeatable); default: all of them.",
)
@click.option("--no-attributes", is_flag=True, help="Read positions only.")
@click.option(
    "--crs",
    "target_crs",
    default=None,
    metavar="CRS",
    help="Reproject x,y,z from the store's CRS to this one (e.g. EPSG:4326 or WKT); "
    "needs pyproj (pip install 'zarr-vectors-core[crs]').",
)
@backend_options
@handle_errors
def read_points_cmd(
    url: str,
    output: Path,
    bbox: tuple[tuple[float, ...], tuple[float, ...]] | None,
    level: int,
    attributes: tuple[str, ...],
    no_attributes: bool,
    target_crs: str | None,
    backend: str | None,
    options: tuple[str, ...],
) -> None:
    """Read the points of a store at URL (all, or a bounding box) into a file."""
    from zarr_vectors.io.points_files import OUT_SUFFIXES, write_point_file
    from zarr_vectors.progress import READ_PHASES, PhasedProgress
    from zarr_vectors.types.points import read_points

    kwargs = store_kwargs(url, backend, options)
    if output.suffix.lower() not in OUT_SUFFIXES:
        raise InputError(
            f"{output}: unknown output type {output.suffix!r}; use .npy (positions), "
            ".npz (positions and attributes), .csv, .ply, .las or .laz"
        )
    if not output.parent.is_dir():
        raise InputError(f"{output}: the directory {output.parent} does not exist")
    names: list[str] | None = [] if no_attributes else (list(attributes) or None)
    # zarr-python is not imported: reading cells needs only numcodecs, and importing
    # zarr took most of a box read's time (several seconds on a loaded machine).

    with phase_bars() as bars:
        start = time.perf_counter()
        cloud = read_points(
            url,
            level=level,
            bbox=bbox,
            attribute_names=names,
            progress=PhasedProgress(bars, READ_PHASES) if bars is not None else None,
            **kwargs,
        )
        took = time.perf_counter() - start
        positions, crs, metadata = cloud.positions, cloud.crs, cloud.metadata
        if target_crs is not None:
            positions, crs, metadata = _reproject(cloud, target_crs)
        if bars is not None:
            bars.start(f"writing {output.name}")
        notes = write_point_file(
            output, positions, cloud.vertex_attributes, crs=crs, metadata=metadata
        )
    _notes(notes)
    if bbox is not None and len(cloud) == 0:
        _notes([_missed_box(url, bbox, kwargs)])
    where = f" inside {list(bbox[0])}..{list(bbox[1])}" if bbox else ""
    attrs = f" with attributes {sorted(cloud.vertex_attributes)}" if cloud.vertex_attributes else ""
    click.echo(
        f"Read {len(cloud):,} points{where} from level {level} of {redact_url(url)}{attrs} "
        f"in {took:.2f} s; saved to {output}."
    )


def _reproject(cloud: Any, target: str) -> tuple[Any, Any, dict[str, Any]]:
    """Positions in ``target``'s CRS, its ``crs`` dict, and metadata without the old
    CRS records or the old scale and offset (which described the old coordinates)."""
    import numpy as np

    from zarr_vectors.format.crs import transformer
    from zarr_vectors.io.las_header import LAS_KEY

    if cloud.positions.ndim != 2 or cloud.positions.shape[1] not in (2, 3):
        raise InputError("--crs reprojects 2-D or 3-D points only")
    transform, described = transformer(cloud.crs, target)
    columns = [cloud.positions[:, i].astype(np.float64) for i in range(cloud.positions.shape[1])]
    moved = np.column_stack(transform.transform(*columns))
    metadata = dict(cloud.metadata)
    las = metadata.get(LAS_KEY)
    if isinstance(las, dict):
        kept = [r for r in las.get("vlrs") or () if r.get("user_id") != "LASF_Projection"]
        evlrs = [r for r in las.get("evlrs") or () if r.get("user_id") != "LASF_Projection"]
        metadata[LAS_KEY] = {
            **{k: v for k, v in las.items() if k not in ("scales", "offsets")},
            "vlrs": kept,
            "evlrs": evlrs,
        }
    return moved.astype(cloud.positions.dtype, copy=False), described, metadata


def _missed_box(
    url: str, bbox: tuple[tuple[float, ...], tuple[float, ...]], kwargs: dict[str, Any]
) -> str:
    """Why a box read found nothing, when the box misses the store's bounds."""
    from zarr_vectors.store.api import read_metadata

    meta = read_metadata(url, **kwargs).meta
    lo, hi = meta.bounds
    fmt = ", ".join
    inside = all(
        b_lo <= s_hi and b_hi >= s_lo
        for b_lo, b_hi, s_lo, s_hi in zip(bbox[0], bbox[1], lo, hi, strict=False)
    )
    bounds = f"({fmt(f'{v:g}' for v in lo)}) .. ({fmt(f'{v:g}' for v in hi)})"
    if inside:
        return f"no points inside the box; it overlaps the store's bounds {bounds} but holds none"
    return (
        f"the box misses the data: the store's bounds are {bounds}, which the box "
        f"({fmt(f'{v:g}' for v in bbox[0])}) .. ({fmt(f'{v:g}' for v in bbox[1])}) does not overlap"
    )


def _check_same_crs(
    url: str, crs: dict[str, Any], input_path: Path, kwargs: dict[str, Any]
) -> None:
    """Refuse to append points in another coordinate system than the store's, before
    anything is written (mixed systems in one store would be silently wrong)."""
    from zarr_vectors.format.crs import CRS_KEY, describe_crs
    from zarr_vectors.store.api import read_metadata

    stored = read_metadata(url, **kwargs).meta.extra.get(CRS_KEY)
    if not stored:
        return
    keys = ("epsg", "wkt")
    same = any(stored.get(k) is not None and stored.get(k) == crs.get(k) for k in keys)
    if not same:
        raise InputError(
            f"{input_path} is in {describe_crs(crs)} but the store is in "
            f"{describe_crs(stored)}; reproject the file first (or write a new store)"
        )
