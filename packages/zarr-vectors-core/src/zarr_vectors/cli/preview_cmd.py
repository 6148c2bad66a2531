"""``zarr-vectors preview URL -o preview.png``: a density picture of a cloud.

(A mesh store is drawn as shaded faces, :mod:`.preview_mesh`, and a store of
curves as its segments, :mod:`.preview_curves`.)

The points are projected onto two axes (x and y by default: a view from
above) and counted per pixel; the picture shows the counts on a log scale, so
sparse edges and dense cores are both visible. What is read is bounded by
``--max-points``: the finest level holding at most that many points is read
whole (a coarse level when the store has them); when even the coarsest holds
more, an evenly drawn random sample of its cells is read. The title says which
level and how much of it the picture shows. Drawn with matplotlib
(``pip install "zarr-vectors-core[viz]"``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from zarr_vectors.cli._errors import InputError, handle_errors
from zarr_vectors.cli.points_cmd import backend_options, store_kwargs
from zarr_vectors.storage.secrets import redact_url

if TYPE_CHECKING:
    import numpy.typing as npt

    from zarr_vectors.lazy import ZVStore

__all__ = ["Selection", "preview", "render_density", "select_points"]

#: Picture formats matplotlib writes without extra libraries.
FORMATS = (".png", ".jpg", ".jpeg", ".svg", ".pdf")


@dataclass
class Selection:
    """The points a preview shows and where they came from.

    ``cells`` are the world coordinates of every occupied cell of the level (the
    picture shades those it did not read); ``cells_read`` is ``None`` when the
    whole level was read.
    """

    positions: npt.NDArray[Any]
    level: int
    level_points: int
    cells_read: int | None
    cells: list[tuple[int, ...]]
    #: One value per point to colour by (``--colour-by``), or ``None`` for density.
    values: npt.NDArray[Any] | None = None


def _choose_level(zv: ZVStore, max_points: int, attribute: str | None = None) -> int:
    """The finest level holding at most ``max_points`` points, unless it is so sparse
    (under a twentieth of that) that a sample of the next finer level shows more.
    With ``attribute``, among the levels that hold it (a survey's overview carries
    intensity, class and colours, not GPS time, which then reads level 0)."""
    levels = sorted(zv.levels)
    if attribute is not None:
        levels = [n for n in levels if attribute in zv.level(n).attribute_names] or levels
    fitting = [n for n in levels if zv.level(n).vertex_count <= max_points]
    if not fitting:
        return levels[-1]
    best = fitting[0]
    if best > levels[0] and zv.level(best).vertex_count < max_points / 20:
        return levels[levels.index(best) - 1]
    return best


def select_points(
    zv: ZVStore, *, max_points: int, level: int | None = None, attribute: str | None = None
) -> Selection:
    """At most about ``max_points`` points of ``zv``: a whole level, or a sample of its cells.

    ``attribute`` is read too, as the selection's ``values`` (to colour by).
    """
    import numpy as np

    if level is None:
        level = _choose_level(zv, max_points, attribute)
    chosen = zv.level(level)
    names = [] if attribute is None else [attribute]
    if attribute is not None and attribute not in chosen.attribute_names:
        raise InputError(
            f"level {level} has no attribute {attribute!r} to colour by; its attributes: "
            f"{', '.join(chosen.attribute_names) or 'none'} (or elevation, or density)"
        )
    cells = chosen.nonempty_chunks
    if chosen.vertex_count <= max_points or not cells:
        cloud = chosen.read(attribute_names=names)
        values = cloud.vertex_attributes.get(attribute) if attribute else None
        return Selection(cloud.positions, level, chosen.vertex_count, None, cells, values)
    per_cell = chosen.vertex_count / len(cells)
    want = max(1, min(len(cells), math.floor(max_points / per_cell)))
    rng = np.random.default_rng(0)  # the same picture every time
    picked = rng.choice(len(cells), size=want, replace=False)
    clouds = [chosen.chunk(cells[int(i)], attribute_names=names) for i in np.sort(picked)]
    ndim = len(zv.metadata.chunk_shape)
    positions = np.concatenate([c.positions for c in clouds]) if clouds else np.empty((0, ndim))
    values = None
    if attribute is not None:
        values = np.concatenate([c.vertex_attributes[attribute] for c in clouds])
    return Selection(positions, level, chosen.vertex_count, want, cells, values)


def _per_pixel(
    positions: npt.NDArray[Any],
    values: npt.NDArray[Any],
    axes: tuple[int, int],
    bins: tuple[int, int],
    extent: tuple[tuple[float, float], tuple[float, float]],
    categorical: bool,
) -> npt.NDArray[Any]:
    """Each pixel's mean value (or most common value, for classes); NaN where empty."""
    import numpy as np

    a, b = axes
    (lo_a, hi_a), (lo_b, hi_b) = extent
    ia = np.clip(
        ((positions[:, a] - lo_a) / (hi_a - lo_a) * bins[0]).astype(np.int64), 0, bins[0] - 1
    )
    ib = np.clip(
        ((positions[:, b] - lo_b) / (hi_b - lo_b) * bins[1]).astype(np.int64), 0, bins[1] - 1
    )
    pixel = ia * bins[1] + ib
    flat = values.reshape(len(values), -1)[:, 0].astype(np.float64)
    out = np.full(bins[0] * bins[1], np.nan)
    if categorical and len(flat):
        pairs, counts = np.unique(np.column_stack([pixel, flat]), axis=0, return_counts=True)
        order = np.lexsort((-counts, pairs[:, 0]))  # per pixel, the most common class first
        first = np.unique(pairs[order, 0], return_index=True)[1]
        out[pairs[order[first], 0].astype(np.int64)] = pairs[order[first], 1]
    elif len(flat):
        sums = np.bincount(pixel, weights=flat, minlength=out.size)
        counts = np.bincount(pixel, minlength=out.size)
        seen = counts > 0
        out[seen] = sums[seen] / counts[seen]
    return out.reshape(bins)


def render_density(
    positions: npt.NDArray[Any],
    bounds: tuple[tuple[float, ...], tuple[float, ...]],
    axes: tuple[int, int],
    axis_names: tuple[str, str],
    title: str,
    output: Path,
    *,
    size: int = 800,
    unread: Sequence[tuple[float, float, float, float]] = (),
    values: npt.NDArray[Any] | None = None,
    colour_label: str = "",
) -> None:
    """Count ``positions`` per pixel on ``axes`` within ``bounds`` and save the picture.

    ``unread`` are rectangles ``(x, y, width, height)`` (in the two axes' units):
    the footprint of every occupied cell, drawn in grey under the counts when
    only a sample of cells was read, so the picture still shows where the whole
    cloud lies. With ``values`` (one per point) each pixel shows their mean
    instead of the count, or their most common value when ``colour_label`` is
    ``classification`` (a class is not a quantity to average).
    """
    import numpy as np

    from zarr_vectors._extras import require

    require("matplotlib", feature="zarr-vectors preview", extra="viz")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PatchCollection
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    a, b = axes
    lo = [float(bounds[0][a]), float(bounds[0][b])]
    hi = [float(bounds[1][a]), float(bounds[1][b])]
    for i in (0, 1):
        if hi[i] <= lo[i]:  # a flat cloud: give the axis some width to draw
            lo[i], hi[i] = lo[i] - 0.5, hi[i] + 0.5
    width, height = hi[0] - lo[0], hi[1] - lo[1]
    scale = size / max(width, height)
    nx, ny = max(1, round(width * scale)), max(1, round(height * scale))
    counts, _, _ = np.histogram2d(
        positions[:, a].astype(np.float64),
        positions[:, b].astype(np.float64),
        bins=(nx, ny),
        range=((lo[0], hi[0]), (lo[1], hi[1])),
    )
    shown = np.ma.masked_equal(counts.T, 0)  # empty pixels take the background colour
    categorical = colour_label == "classification"
    if values is not None:
        shown = np.ma.masked_invalid(
            _per_pixel(
                positions, values, axes, (nx, ny), ((lo[0], hi[0]), (lo[1], hi[1])), categorical
            ).T
        )

    fig_w = max(4.0, nx / 100 + 2.6)  # room for the axis labels and the colour bar
    fig_h = max(3.0, ny / 100 + 1.0)
    fig = Figure(figsize=(fig_w, fig_h), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_facecolor("black")
    if unread:
        ax.add_collection(
            PatchCollection(
                [Rectangle((x, y), w, h) for x, y, w, h in unread],
                facecolor="#2b2b2b",
                edgecolor="none",
                zorder=0,
            )
        )
    peak = float(counts.max()) if counts.size else 0.0
    # vmin below 1: a pixel with one point is dim but not the background's black
    norm = LogNorm(vmin=0.6, vmax=max(peak, 1.0)) if peak > 1 and values is None else None
    cmap = "inferno" if values is None else "tab20" if categorical else "viridis"
    image = ax.imshow(
        shown,
        zorder=1,
        origin="lower",
        extent=(lo[0], hi[0], lo[1], hi[1]),
        cmap=cmap,
        norm=norm,
        interpolation="nearest",
        aspect="equal",
    )
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.set_title(title, fontsize=9)
    if unread:
        ax.text(
            0.01,
            0.99,
            "grey: every occupied cell; colour: the points of the cells read",
            transform=ax.transAxes,
            color="#bbbbbb",
            fontsize=8,
            va="top",
        )
    label = "points per pixel" if values is None else colour_label
    if values is not None and not categorical:
        label = f"mean {colour_label} per pixel"
    fig.colorbar(image, ax=ax, label=label, shrink=0.8)
    fig.savefig(output)


@click.command("preview")
@click.argument("url")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Picture to write: .png (or .jpg, .svg, .pdf).",
)
@click.option(
    "--level",
    type=click.IntRange(min=0),
    default=None,
    help="Level to draw (default: the finest holding at most --max-points points).",
)
@click.option(
    "--axes",
    "axes_text",
    default=None,
    metavar="A,B",
    help="The two axes to project onto, by name or number (default: the first two, x,y).",
)
@click.option(
    "--max-points",
    type=click.IntRange(min=1),
    default=2_000_000,
    show_default=True,
    help="Read at most about this many points (a sample of cells beyond it).",
)
@click.option(
    "--size",
    type=click.IntRange(min=50, max=8000),
    default=800,
    show_default=True,
    help="Pixels along the longer side of the picture.",
)
@click.option(
    "--colour-by",
    "--color-by",
    "colour_by",
    default="density",
    show_default=True,
    metavar="WHAT",
    help="density (points per pixel), elevation (the last axis), or an attribute such as "
    "intensity or classification (each pixel's mean; for classification its commonest class).",
)
@backend_options
@handle_errors
def preview(
    url: str,
    output: Path,
    level: int | None,
    axes_text: str | None,
    max_points: int,
    size: int,
    colour_by: str,
    backend: str | None,
    options: tuple[str, ...],
) -> None:
    """Draw a picture of the store at URL, seen along one axis.

    Points as their density; a mesh as shaded faces; lines, polylines,
    streamlines, graphs and skeletons as their segments, one tint per object.
    """
    from zarr_vectors.cli.preview_curves import CURVE_TYPES
    from zarr_vectors.lazy import open_zv
    from zarr_vectors.store.location import StoreLocation

    kwargs = store_kwargs(url, backend, options)
    if output.suffix.lower() not in FORMATS:
        raise InputError(f"{output}: use one of {', '.join(FORMATS)} for the picture")
    if not output.parent.is_dir():
        raise InputError(f"{output}: the directory {output.parent} does not exist")
    start = time.perf_counter()
    chosen_backend = kwargs.pop("backend", None)
    with StoreLocation.of(url, backend=chosen_backend, backend_kwargs=kwargs).open("r") as source:
        zv = open_zv(source)
        names = [str(a.get("name", i)) for i, a in enumerate(zv.metadata.axes)]
        axes = _parse_axes(axes_text, names)
        kinds = [k for k in zv.metadata.geometry_types if k == "mesh" or k in CURVE_TYPES]
        if kinds:  # shaded faces or curves, not point density
            if level is not None or colour_by != "density":
                raise InputError(
                    f"{redact_url(url)} holds a {kinds[0]}, drawn tinted by object; --level and "
                    "--colour-by apply to point clouds"
                )
            _preview_objects(source, kinds[0], url, output, axes, names, size, max_points, start)
            return
        if level is not None and level not in zv.levels:
            raise InputError(f"level {level} does not exist; this store has levels {zv.levels}")
        attribute = None if colour_by in ("density", "elevation") else colour_by
        sel = select_points(zv, max_points=max_points, level=level, attribute=attribute)
        if colour_by == "elevation":
            sel.values = sel.positions[:, -1]
        bounds = zv.metadata.bounds
        chunk = zv.metadata.chunk_shape
    unread: list[tuple[float, float, float, float]] = []
    if sel.cells_read is not None:
        a, b = axes
        factor = 2.0**sel.level  # level k bins points by chunk_shape * 2**k
        size_a, size_b = chunk[a] * factor, chunk[b] * factor
        footprint = {(c[a], c[b]) for c in sel.cells}
        unread = [(i * size_a, j * size_b, size_a, size_b) for i, j in sorted(footprint)]
    where = redact_url(url).rstrip("/").rsplit("/", 1)[-1] or redact_url(url)
    shown = f"{len(sel.positions):,} points"
    if sel.cells_read is not None:
        shown += f", a sample of {sel.cells_read:,} of {len(sel.cells):,} cells"
    else:
        shown = f"all {shown}"
    what = "the full resolution" if sel.level == 0 else "one centroid per occupied bin"
    title = f"{where}: level {sel.level} ({what}), {shown}"
    render_density(
        sel.positions,
        (tuple(bounds[0]), tuple(bounds[1])),
        axes,
        (names[axes[0]], names[axes[1]]),
        title,
        output,
        size=size,
        unread=unread,
        values=sel.values,
        colour_label="" if colour_by == "density" else colour_by,
    )
    took = time.perf_counter() - start
    click.echo(
        f"Drew {shown} of level {sel.level} ({sel.level_points:,} points) of "
        f"{redact_url(url)} seen along {_other(names, axes)} in {took:.2f} s; saved to {output}."
    )


def _preview_objects(
    source: Any,
    kind: str,
    url: str,
    output: Path,
    axes: tuple[int, int],
    names: list[str],
    size: int,
    max_points: int,
    start: float,
) -> None:
    """A mesh (shaded faces) or curves (segments) projected on ``axes``."""
    where = redact_url(url).rstrip("/").rsplit("/", 1)[-1] or redact_url(url)
    pair = (names[axes[0]], names[axes[1]])
    if kind == "mesh":
        from zarr_vectors.cli.preview_mesh import render_mesh
        from zarr_vectors.types.meshes import read_mesh

        mesh = read_mesh(source)
        shown = f"{mesh.face_count:,} faces of {len(mesh.objects):,} object(s)"
        args = (mesh.vertices, mesh.faces, mesh.object_ids, axes, pair, f"{where}: {shown}")
        render_mesh(*args, output, size=size)
    else:
        from zarr_vectors.cli.preview_curves import read_curves, render_curves

        curves = read_curves(source, kind, max_points=max_points)
        if not len(curves.segments):
            raise InputError(f"{redact_url(url)}: the store holds no {kind}s to draw")
        shown = f"{len(curves.segments):,} segments of {curves.objects_read:,} {kind}(s)"
        if curves.objects_read < curves.objects_total:
            shown += f", a sample of {curves.objects_total:,}"
        render_curves(curves, axes, pair, f"{where}: {shown}", output, size=size)
    click.echo(
        f"Drew {shown} of {redact_url(url)} seen along {_other(names, axes)} in "
        f"{time.perf_counter() - start:.2f} s; saved to {output}."
    )


def _parse_axes(text: str | None, names: list[str]) -> tuple[int, int]:
    if len(names) < 2:
        raise InputError("preview draws two axes; this store has one")
    if text is None:
        return 0, 1
    parts = [p.strip() for p in text.split(",") if p.strip()]
    picked: list[int] = []
    for part in parts:
        if part in names:
            picked.append(names.index(part))
        elif part.isdigit() and int(part) < len(names):
            picked.append(int(part))
        else:
            raise InputError(f"--axes: {part!r} is not an axis; this store's axes are {names}")
    if len(picked) != 2 or picked[0] == picked[1]:
        raise InputError(f"--axes takes two different axes, e.g. {names[0]},{names[1]}")
    return picked[0], picked[1]


def _other(names: list[str], axes: tuple[int, int]) -> str:
    rest = [n for i, n in enumerate(names) if i not in axes]
    return ",".join(rest) if rest else "no other axis"
