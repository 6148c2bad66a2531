"""Zarr Vectors metadata: the one place it is read from and written to JSON.

The root group's ``zarr.json`` attributes hold ``zarr_vectors`` (see
:class:`RootMetadata`), an OME-style ``multiscales`` entry and an ``ome``
collection node; each level group ``L`` holds ``zarr_vectors_level`` (see
:class:`LevelMetadata`); each per-cell array holds ``zv_array`` and friends.
Everything that builds or parses those documents lives here so the writer,
the reader, the lazy view and the CLI cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from zarr_vectors.exceptions import (
    CorruptStoreError,
    FormatVersionError,
    StoreError,
    ValidationError,
)

__all__ = [
    "CAP_MULTISCALE_LINKS",
    "CAP_PRESERVED_OBJECT_IDS",
    "CAP_SHARED_FRAGMENTS",
    "FORMAT_VERSION",
    "KNOWN_CAPABILITIES",
    "LevelMetadata",
    "RootMetadata",
    "cell_array_json",
    "check_format_version",
    "group_json",
]

#: Format version this package writes (the published 0.9.2 layout).
FORMAT_VERSION = "0.9.2"
#: Format versions (major, minor) this package reads.
READABLE_SERIES = ((0, 9),)

#: Capability tokens that may appear in ``format_capabilities``.
CAP_MULTISCALE_LINKS = "multiscale_links"
CAP_PRESERVED_OBJECT_IDS = "preserved_object_ids"
CAP_SHARED_FRAGMENTS = "shared_fragments"
CAP_OBJECT_INDEX = "object_index"
CAP_GROUPINGS = "groupings"
KNOWN_CAPABILITIES = frozenset(
    {
        CAP_MULTISCALE_LINKS,
        CAP_PRESERVED_OBJECT_IDS,
        CAP_SHARED_FRAGMENTS,
        CAP_OBJECT_INDEX,
        CAP_GROUPINGS,
    }
)

GEOMETRY_POINT_CLOUD = "point_cloud"
DEFAULT_AXIS_NAMES = ("x", "y", "z", "w")
#: Private root attribute this package uses to order its own writes.
WRITER_KEY = "zarr_vectors_writer"


def _parse_version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split(".")[:3])
    except ValueError:
        return ()


def check_format_version(found: object, where: str = "store") -> str:
    """Raise :class:`FormatVersionError` unless ``found`` is a version this package reads."""
    text = str(found)
    parsed = _parse_version(text)
    if len(parsed) >= 2 and parsed[:2] in READABLE_SERIES:
        return text
    readable = ", ".join(f"{a}.{b}.x" for a, b in READABLE_SERIES)
    raise FormatVersionError(
        f"{where} was written in Zarr Vectors format version {text!r}; this package "
        f"reads format versions {readable} and writes {FORMAT_VERSION}. Upgrade "
        "zarr-vectors, or rewrite the store with a version that reads it."
    )


@dataclass(frozen=True)
class RootMetadata:
    """The ``zarr_vectors`` root attributes, plus the axes of ``multiscales``."""

    chunk_shape: tuple[float, ...]
    bounds: tuple[tuple[float, ...], tuple[float, ...]]
    axes: tuple[dict[str, Any], ...]
    geometry_types: tuple[str, ...] = (GEOMETRY_POINT_CLOUD,)
    format_capabilities: tuple[str, ...] = ()
    zv_version: str = FORMAT_VERSION
    levels: tuple[str, ...] = ("0",)
    level_scales: tuple[tuple[float, ...], ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    generation: int = 0

    @property
    def ndim(self) -> int:
        """Number of spatial axes."""
        return len(self.chunk_shape)

    @property
    def bin_shape(self) -> tuple[float, ...]:
        """The bin level 1 coarsens by, halved: level ``k`` holds one point per
        ``bin_shape * 2**k`` bin. The root's ``base_bin_shape`` (as 0.9.2 writes it,
        a whole fraction of the chunk shape), else the chunk shape."""
        base = self.extra.get("base_bin_shape")
        if isinstance(base, list | tuple) and len(base) == self.ndim:
            return tuple(float(b) for b in base)
        return self.chunk_shape

    @classmethod
    def build(
        cls,
        *,
        chunk_shape: Sequence[float],
        bounds: Sequence[Sequence[float]],
        axes: Sequence[str | Mapping[str, Any]] | None = None,
        geometry_types: Sequence[str] | None = None,
        format_capabilities: Sequence[str] = (),
    ) -> RootMetadata:
        """Validated metadata for a new store (raises :class:`ValidationError`)."""
        cs = validate_chunk_shape(chunk_shape)
        lo, hi = validate_bounds(bounds, len(cs))
        validate_grid(cs, (lo, hi))
        return cls(
            chunk_shape=cs,
            bounds=(lo, hi),
            axes=normalize_axes(axes, len(cs)),
            geometry_types=tuple(geometry_types or (GEOMETRY_POINT_CLOUD,)),
            format_capabilities=tuple(format_capabilities),
        )

    @classmethod
    def from_attributes(cls, attrs: Mapping[str, Any], where: str = "store") -> RootMetadata:
        """Parse root group attributes; raise if this is not a Zarr Vectors store we read."""
        zv = attrs.get("zarr_vectors")
        if not isinstance(zv, Mapping):
            raise StoreError(
                f"{where} is a zarr group but not a Zarr Vectors store (its zarr.json has "
                "no 'zarr_vectors' attributes)"
            )
        version = check_format_version(zv.get("zv_version"), where)
        try:
            cs = tuple(float(c) for c in zv["chunk_shape"])
            b = zv["bounds"]
            bounds = (tuple(float(v) for v in b[0]), tuple(float(v) for v in b[1]))
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            raise StoreError(f"{where}: malformed zarr_vectors metadata ({exc!r})") from exc
        try:
            axes, levels, scales = _parse_multiscales(attrs.get("multiscales"), len(cs))
        except (AttributeError, KeyError, TypeError, IndexError, ValueError) as exc:
            raise CorruptStoreError(
                f"{where}: the root's 'multiscales' attribute is malformed ({exc!r}); restore "
                "the root zarr.json from a copy, or rewrite the store (mode='w')"
            ) from None
        known = {
            "zv_version",
            "format_capabilities",
            "chunk_shape",
            "bounds",
            "geometry_types",
        }
        writer = writer_record(attrs, where)
        try:
            generation = int(writer.get("generation", 0))
        except (TypeError, ValueError):
            raise CorruptStoreError(
                f"{where}: the writer record's generation {writer.get('generation')!r:.80} is "
                "not a number; restore the root zarr.json from a copy, or rewrite the store"
            ) from None
        return cls(
            chunk_shape=cs,
            bounds=bounds,
            axes=axes,
            geometry_types=tuple(zv.get("geometry_types") or ()),
            format_capabilities=tuple(zv.get("format_capabilities") or ()),
            zv_version=version,
            levels=levels,
            level_scales=tuple(scales),
            extra={k: v for k, v in zv.items() if k not in known},
            generation=generation,
        )

    def with_levels(self, n_levels: int, factor: int = 2) -> RootMetadata:
        """Copy listing levels ``0..n_levels-1``, level k scaled by ``factor**k``."""
        scales = tuple(tuple(float(factor**k) for _ in self.chunk_shape) for k in range(n_levels))
        return replace(self, levels=tuple(str(k) for k in range(n_levels)), level_scales=scales)

    def to_attributes(self, name: str = "zarr_vectors") -> dict[str, Any]:
        """The root group attributes (``zarr_vectors``, ``multiscales``, ``ome``)."""
        zv: dict[str, Any] = {
            "zv_version": self.zv_version,
            "format_capabilities": list(self.format_capabilities),
            "chunk_shape": [float(c) for c in self.chunk_shape],
            "bounds": [[float(v) for v in self.bounds[0]], [float(v) for v in self.bounds[1]]],
            "geometry_types": list(self.geometry_types),
            "links_convention": "implicit_sequential",
            "object_index_convention": "standard",
            "cross_chunk_strategy": "explicit_links",
        }
        for k, v in self.extra.items():
            zv.setdefault(k, v)
        scales = self.level_scales or tuple(
            tuple(1.0 for _ in self.chunk_shape) for _ in self.levels
        )
        datasets = [
            {
                "path": path,
                "coordinateTransformations": [
                    {"type": "scale", "scale": list(scale)},
                    {
                        "type": "translation",
                        "translation": [
                            c * s / 2.0 for c, s in zip(self.chunk_shape, scale, strict=True)
                        ],
                    },
                ],
            }
            for path, scale in zip(self.levels, scales, strict=True)
        ]
        axes = [dict(a) for a in self.axes]
        return {
            "zarr_vectors": zv,
            "multiscales": [
                {
                    "version": "0.4",
                    "name": "default",
                    "axes": axes,
                    "datasets": datasets,
                    "metadata": {"format": "zarr_vectors"},
                }
            ],
            "ome": {
                "version": "0.6",
                "type": "collection",
                "name": name,
                "attributes": {
                    "scene": {
                        "coordinateSystems": [{"name": "world", "axes": axes}],
                        "coordinateTransformations": [],
                    }
                },
                "nodes": [{"type": "zv:level", "name": p} for p in self.levels],
            },
            WRITER_KEY: {"generation": self.generation},
        }

    # -- grid geometry -------------------------------------------------------
    def grid_origin(self) -> tuple[int, ...]:
        """World chunk coordinates of grid cell 0 (``floor(bounds_min / chunk)``)."""
        return tuple(
            math.floor(lo / c) for lo, c in zip(self.bounds[0], self.chunk_shape, strict=True)
        )

    def grid_shape(self) -> tuple[int, ...]:
        """Cells per axis: ``floor(max/cs) - floor(min/cs) + 1``."""
        return tuple(
            math.floor(hi / c) - math.floor(lo / c) + 1
            for lo, hi, c in zip(self.bounds[0], self.bounds[1], self.chunk_shape, strict=True)
        )


@dataclass(frozen=True)
class LevelMetadata:
    """The ``zarr_vectors_level`` attributes of one level group."""

    level: int
    vertex_count: int
    arrays_present: tuple[str, ...] = ("vertices",)
    coarsening_method: str = "none"
    parent_level: int | None = None
    object_sparsity: float = 1.0
    fragments_tile: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_attributes(cls, attrs: Mapping[str, Any], where: str = "level") -> LevelMetadata:
        """Parse a level group's attributes."""
        lv = attrs.get("zarr_vectors_level")
        if not isinstance(lv, Mapping):
            raise StoreError(f"{where} has no 'zarr_vectors_level' attributes")
        known = {
            "level",
            "vertex_count",
            "arrays_present",
            "coarsening_method",
            "parent_level",
            "object_sparsity",
            "fragments_tile",
        }
        return cls(
            level=int(lv.get("level", 0)),
            vertex_count=int(lv.get("vertex_count", 0)),
            arrays_present=tuple(lv.get("arrays_present") or ("vertices",)),
            coarsening_method=str(lv.get("coarsening_method", "none")),
            parent_level=lv.get("parent_level"),
            object_sparsity=float(lv.get("object_sparsity", 1.0)),
            fragments_tile=bool(lv.get("fragments_tile", False)),
            extra={k: v for k, v in lv.items() if k not in known},
        )

    def to_attributes(self) -> dict[str, Any]:
        """The level group attributes."""
        lv: dict[str, Any] = {
            "level": self.level,
            "object_sparsity": self.object_sparsity,
            "vertex_count": self.vertex_count,
            "coarsening_method": self.coarsening_method,
            "parent_level": self.parent_level,
            "arrays_present": list(self.arrays_present),
            "fragments_tile": self.fragments_tile,
        }
        lv.update({k: v for k, v in self.extra.items() if k not in lv})
        return {"zarr_vectors_level": lv}


# -- JSON documents ----------------------------------------------------------
def dump_json(doc: Mapping[str, Any]) -> bytes:
    """``zarr.json`` bytes, compact (no indentation or spaces): the root document holds
    every array's document (consolidated metadata), and indenting a LiDAR survey's took
    it from 57 kB to 114 kB; every JSON reader (zarr-python, 0.9.2) reads either."""
    import json

    return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()


def group_json(attributes: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A zarr v3 group ``zarr.json`` document."""
    return {"attributes": dict(attributes or {}), "zarr_format": 3, "node_type": "group"}


def cell_array_json(
    shape: Sequence[int],
    codecs: Sequence[Mapping[str, Any]],
    attributes: Mapping[str, Any],
) -> dict[str, Any]:
    """A zarr v3 ``variable_length_bytes`` array with one element per chunk.

    ``dimension_names`` (``cell_0``, ``cell_1``...) name the cell grid's axes,
    the same for every array of a level, so xarray opens a level as a dataset.
    """
    return {
        "shape": [int(s) for s in shape],
        "dimension_names": [f"cell_{i}" for i in range(len(shape))],
        "data_type": "variable_length_bytes",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [1] * len(shape)}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": "",
        "codecs": [dict(c) for c in codecs],
        "attributes": dict(attributes),
        "zarr_format": 3,
        "node_type": "array",
        "storage_transformers": [],
    }


# -- validation --------------------------------------------------------------
def validate_chunk_shape(chunk_shape: Sequence[float] | None) -> tuple[float, ...]:
    """Chunk shape as floats; every entry finite and > 0.

    A string is refused: ``"555"`` is a sequence of three characters, which
    would silently become ``(5, 5, 5)``.
    """
    if chunk_shape is None:
        raise ValidationError("chunk_shape is required, e.g. chunk_shape=(200.0, 200.0, 200.0)")
    if isinstance(chunk_shape, str | bytes):
        raise ValidationError(
            f"chunk_shape must be a sequence of numbers, one per axis, not the string "
            f"{chunk_shape!r:.40}; write e.g. chunk_shape=(200.0, 200.0, 200.0)"
        )
    try:
        cs = tuple(float(c) for c in chunk_shape)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"chunk_shape must be a sequence of numbers, got {chunk_shape!r}"
        ) from exc
    if not cs or any(not math.isfinite(c) or c <= 0 for c in cs):
        raise ValidationError(
            f"chunk_shape must hold one positive, finite size per axis, got {list(cs)!r}"
        )
    return cs


def writer_record(attrs: Mapping[str, Any], where: str = "store") -> Mapping[str, Any]:
    """The root's writer record (generation, journal entry, lease); empty if there is none.

    Anything but a JSON object there is a :class:`CorruptStoreError`: readers
    and writers would otherwise fail on it with a bare ``AttributeError``.
    """
    writer = attrs.get(WRITER_KEY)
    if writer is None:
        return {}
    if not isinstance(writer, Mapping):
        raise CorruptStoreError(
            f"{where}: the root's {WRITER_KEY!r} record is not a JSON object "
            f"({writer!r:.80}); restore the root zarr.json from a copy, or rewrite the store "
            "(mode='w')"
        )
    return writer


def _parse_multiscales(
    multiscales: Any, ndim: int
) -> tuple[tuple[dict[str, Any], ...], tuple[str, ...], list[tuple[float, ...]]]:
    """Axes, level paths and level scales from the root's ``multiscales`` (raises if malformed)."""
    ms = (multiscales or [{}])[0]
    axes = tuple(dict(a) for a in ms.get("axes") or ()) or normalize_axes(None, ndim)
    datasets = ms.get("datasets") or [{"path": "0"}]
    levels = tuple(str(d["path"]) for d in datasets)
    scales: list[tuple[float, ...]] = []
    for d in datasets:
        scale = next(
            (
                t["scale"]
                for t in d.get("coordinateTransformations", [])
                if t.get("type") == "scale"
            ),
            [1.0] * ndim,
        )
        scales.append(tuple(float(s) for s in scale))
    if not levels or any(len(s) != ndim for s in scales):
        raise ValueError(f"{len(levels)} levels with scales {scales!r:.80} for {ndim} axes")
    return axes, levels, scales


def validate_bounds(
    bounds: Sequence[Sequence[float]], ndim: int
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Bounds as ``((min...), (max...))`` with ``ndim`` finite values each and min <= max."""
    try:
        lo = tuple(float(v) for v in bounds[0])
        hi = tuple(float(v) for v in bounds[1])
        if len(bounds) != 2:
            raise ValueError
    except (TypeError, ValueError, IndexError) as exc:
        raise ValidationError(
            f"bounds must be ((min_x, min_y, ...), (max_x, max_y, ...)), got {bounds!r}"
        ) from exc
    if len(lo) != ndim or len(hi) != ndim:
        raise ValidationError(
            f"bounds have {len(lo)}/{len(hi)} values per corner but the data has {ndim} axes"
        )
    if any(
        not (math.isfinite(a) and math.isfinite(b)) or a > b for a, b in zip(lo, hi, strict=True)
    ):
        raise ValidationError(
            f"bounds must be finite with min <= max on every axis, got {bounds!r}"
        )
    return lo, hi


#: Most cells along one axis of the chunk grid (zarr chunk grids index with int64;
#: world cell coordinates must also be exact in float64).
MAX_CELLS_PER_AXIS = 2**40
_MAX_WORLD_CELL = 2**52


def validate_grid(
    chunk_shape: Sequence[float], bounds: tuple[Sequence[float], Sequence[float]]
) -> tuple[int, ...]:
    """Cells per axis of the grid ``chunk_shape`` lays over ``bounds``, refusing absurd ones.

    A chunk size tiny against the coordinates (1e-320) or bounds far out
    (1e300) would give cell numbers that overflow or keys too long for any
    file system; both are refused here, before anything is written.
    """
    shape = []
    for axis, (lo, hi, c) in enumerate(zip(bounds[0], bounds[1], chunk_shape, strict=True)):
        first, last = lo / c, hi / c
        if (
            not (math.isfinite(first) and math.isfinite(last))
            or max(abs(first), abs(last)) >= _MAX_WORLD_CELL
        ):
            raise ValidationError(
                f"chunk size {c!r} on axis {axis} is too small for bounds {lo!r}..{hi!r}: "
                "cell numbers would overflow; use a larger chunk_shape (or rescale the data)"
            )
        cells = math.floor(last) - math.floor(first) + 1
        if cells > MAX_CELLS_PER_AXIS:
            raise ValidationError(
                f"axis {axis} would have {cells} cells (bounds {lo!r}..{hi!r}, chunk {c!r}); "
                f"at most {MAX_CELLS_PER_AXIS} are allowed: use a larger chunk_shape"
            )
        shape.append(cells)
    return tuple(shape)


def normalize_axes(
    axes: Sequence[str | Mapping[str, Any]] | None, ndim: int
) -> tuple[dict[str, Any], ...]:
    """OME axis dicts; names default to x, y, z, w."""
    if axes is None:
        if ndim > len(DEFAULT_AXIS_NAMES):
            return tuple({"name": f"d{i}", "type": "space"} for i in range(ndim))
        return tuple({"name": n, "type": "space"} for n in DEFAULT_AXIS_NAMES[:ndim])
    out: list[dict[str, Any]] = []
    for a in axes:
        if isinstance(a, str):
            out.append({"name": a, "type": "space"})
        elif isinstance(a, Mapping) and "name" in a:
            out.append({"type": "space", **dict(a)})
        else:
            raise ValidationError(f"an axis must be a name or a dict with 'name', got {a!r}")
    if len(out) != ndim:
        raise ValidationError(f"{len(out)} axes given for {ndim}-D data")
    return tuple(out)
