"""Zarr v3 ``sharding_indexed`` shards of the cell arrays, read and written by hand.

Why by hand: a read wants a few cells out of many shards, and on an object
store each request costs a round trip. This module lets the read path fetch a
shard's index, then only the byte ranges of the cells it needs (neighbouring
ranges coalesced), and decode them with the same :class:`CellCodec` as an
unsharded cell; and it lets the writer build whole shard objects from cell
bytes it already has, without zarr-python's array machinery.

The layout, as the published zarr-vectors 0.9.2 writes it (through
zarr-python's sharding codec) and as the Zarr v3 sharding specification
defines it:

* The array's ``chunk_grid.configuration.chunk_shape`` is the **shard shape**,
  in cells (0.9.2's ``shard_shape=``); ``shape`` stays the cell grid's shape, so
  shards on the upper edge reach past it (a 21-cell axis in shards of 4 has a
  last shard covering cells 20..23).
* ``codecs`` is one entry, ``sharding_indexed``, whose configuration holds the
  inner ``chunk_shape`` (all 1: one cell per inner chunk), the inner
  ``codecs`` (``vlen-bytes`` then optionally ``zstd``/``gzip``: exactly the
  codec chain of an unsharded cell array), the ``index_codecs`` (``bytes``
  little-endian then ``crc32c``) and the ``index_location`` (``end``).
* A shard object's key is the shard's coordinates under the array's chunk key
  encoding (``<array>/c/i/j/k``); a shard whose cells are all empty is not
  stored.
* The index is a C-order table with one ``(offset, length)`` pair of uint64
  per inner chunk of the full shard shape (edge shards included), then a
  4-byte CRC-32C of the table. An empty cell is ``(2**64-1, 2**64-1)``.
  With the index at the end, offsets count from the start of the object; at
  the start, they already include the index's size.
* Inner chunks are laid out back to back in Morton (Z-) order of their
  coordinates (compressed Morton code, axis 0 in the lowest bit), which is
  what zarr-python writes; readers only follow the index, but writing the
  same order makes shards byte-identical to 0.9.2's.
* ``nonempty_chunks`` still lists **world cells** (``"i.j.k"``), not shards,
  and ``chunk_grid_origin`` (absent when zero) is still subtracted per cell:
  a world cell ``w`` is grid cell ``g = w - origin``, in shard ``g // shard``
  at inner coordinates ``g % shard``.

Entry points: :func:`parse_sharding` / :class:`ShardingSpec` (from an array's
``zarr.json``), :meth:`ShardingSpec.locate` and :func:`group_by_shard` (cell ->
shard key and inner index), :func:`decode_index`, :func:`plan_ranges` and
:func:`slice_ranges` (ranged reads), :func:`decode_shard` (a whole shard),
:meth:`ShardingSpec.decode_cell`, and for writing :func:`encode_shard` /
:func:`assemble_shard`, :func:`sharding_codecs` and :func:`sharded_array_json`.
The index table, Morton order, checksum and ranged-read planning that need no
array metadata live in :mod:`zarr_vectors.format.shardindex`; their names are
importable from here too.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import CorruptStoreError, StoreError, ValidationError
from zarr_vectors.format.cells import CellCodec
from zarr_vectors.format.shardindex import (
    COALESCE_GAP,
    EMPTY,
    ByteRange,
    ShardIndex,
    crc32c,
    morton_order,
    plan_ranges,
    slice_ranges,
)

__all__ = [
    "COALESCE_GAP",
    "EMPTY",
    "ByteRange",
    "ShardIndex",
    "ShardingSpec",
    "assemble_shard",
    "crc32c",
    "decode_index",
    "decode_shard",
    "encode_shard",
    "group_by_shard",
    "morton_order",
    "parse_sharding",
    "plan_ranges",
    "sharded_array_json",
    "sharding_codecs",
    "slice_ranges",
    "validate_shard_shape",
]

_SHARDING = "sharding_indexed"
IndexLocation = Literal["start", "end"]


def validate_shard_shape(shard_shape: int | Sequence[int], ndim: int) -> tuple[int, ...]:
    """``shard_shape`` (cells per shard, one int for every axis or one per axis) as a tuple."""
    if isinstance(shard_shape, bool):
        raise ValidationError(f"shard_shape must be cells per shard, got {shard_shape!r}")
    shape: tuple[Any, ...] = (
        (shard_shape,) * ndim if isinstance(shard_shape, int) else tuple(shard_shape)
    )
    if len(shape) != ndim or not all(
        isinstance(s, int | np.integer) and not isinstance(s, bool) and s >= 1 for s in shape
    ):
        raise ValidationError(
            f"shard_shape must be a positive number of cells per shard, one int or {ndim} ints "
            f"(one per axis), got {shard_shape!r}"
        )
    return tuple(int(s) for s in shape)


@dataclass(frozen=True)
class ShardingSpec:
    """The sharding of one cell array, from its ``zarr.json`` (see :func:`parse_sharding`)."""

    #: Cells per shard, per axis (the array's chunk grid).
    shard_shape: tuple[int, ...]
    #: Cells per inner chunk (all 1 for cell arrays).
    inner_shape: tuple[int, ...]
    #: The inner codec chain (``vlen-bytes`` [+ ``zstd``/``gzip``]).
    codecs: tuple[dict[str, Any], ...]
    #: The index codec chain (``bytes`` [+ ``crc32c``]).
    index_codecs: tuple[dict[str, Any], ...]
    index_location: IndexLocation = "end"
    #: The array's shape in cells (``None``: not checked).
    array_shape: tuple[int, ...] | None = None
    #: Separator of the chunk key encoding and whether keys start with ``c``.
    key_separator: str = "/"
    key_prefix: bool = True
    _codec: CellCodec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        d = len(self.shard_shape)
        if len(self.inner_shape) != d or any(
            s % c for s, c in zip(self.shard_shape, self.inner_shape, strict=True)
        ):
            raise StoreError(
                f"sharding inner chunk_shape {list(self.inner_shape)} does not divide the shard "
                f"shape {list(self.shard_shape)}"
            )
        if any(c != 1 for c in self.inner_shape):
            raise StoreError(
                f"sharding inner chunk_shape {list(self.inner_shape)} is not supported on a cell "
                "array: zarr-vectors stores one cell per inner chunk (chunk_shape of all 1)"
            )
        if self.index_location not in ("start", "end"):
            raise StoreError(
                f"sharding index_location {self.index_location!r} is not 'start' or 'end'"
            )
        _index_layout(self.index_codecs)  # refuse unsupported index codecs now
        object.__setattr__(self, "_codec", CellCodec(tuple(dict(c) for c in self.codecs)))

    @property
    def ndim(self) -> int:
        return len(self.shard_shape)

    @property
    def chunks_per_shard(self) -> tuple[int, ...]:
        return tuple(s // c for s, c in zip(self.shard_shape, self.inner_shape, strict=True))

    @property
    def n_inner(self) -> int:
        """Entries in a shard's index (inner chunks of the full shard shape)."""
        return math.prod(self.chunks_per_shard)

    @property
    def index_nbytes(self) -> int:
        """Size of the encoded index: 16 bytes per inner chunk, plus 4 with ``crc32c``."""
        return 16 * self.n_inner + (4 if _index_layout(self.index_codecs)[1] else 0)

    @property
    def cell_codec(self) -> CellCodec:
        """Codec of one inner chunk (the cell codec of an unsharded array)."""
        return self._codec

    def index_range(self, shard_size: int) -> tuple[int, int]:
        """``(start, length)`` of the index inside a shard object of ``shard_size`` bytes.

        With the index at the end this needs the object's size (a ``head``);
        at the start it does not (pass any size).
        """
        if self.index_location == "start":
            return 0, self.index_nbytes
        if shard_size < self.index_nbytes:
            raise CorruptStoreError(
                f"shard of {shard_size} bytes is shorter than its index ({self.index_nbytes} bytes)"
            )
        return shard_size - self.index_nbytes, self.index_nbytes

    def locate(self, grid: Sequence[int]) -> tuple[tuple[int, ...], int]:
        """Shard coordinates and inner index (C order) of grid cell ``grid``.

        ``grid`` is the cell's chunk index in the array: world cell minus
        ``chunk_grid_origin``.
        """
        g = [int(v) for v in grid]
        if len(g) != self.ndim:
            raise ValidationError(f"cell {g} has {len(g)} coordinates; the array has {self.ndim}")
        if any(v < 0 for v in g) or (
            self.array_shape is not None
            and any(v >= s for v, s in zip(g, self.array_shape, strict=True))
        ):
            raise ValidationError(
                f"grid cell {g} is outside the array's cell grid {list(self.array_shape or ())}"
            )
        shard = tuple(v // s for v, s in zip(g, self.shard_shape, strict=True))
        inner = self.inner_index(tuple(v % s for v, s in zip(g, self.shard_shape, strict=True)))
        return shard, inner

    def inner_index(self, inner: Sequence[int]) -> int:
        """C-order position of inner coordinates ``inner`` in the shard index."""
        cps = self.chunks_per_shard
        if len(inner) != len(cps) or any(
            not 0 <= int(i) < c for i, c in zip(inner, cps, strict=True)
        ):
            raise ValidationError(f"inner coordinates {list(inner)} are outside a shard of {cps}")
        flat = 0
        for i, c in zip(inner, cps, strict=True):
            flat = flat * c + int(i)
        return flat

    def inner_coords(self, index: int) -> tuple[int, ...]:
        """Inverse of :meth:`inner_index`."""
        return tuple(int(v) for v in np.unravel_index(index, self.chunks_per_shard))

    def shard_key(self, array_path: str, shard: Sequence[int]) -> str:
        """Storage key of shard ``shard`` of the array at ``array_path``."""
        parts = [str(int(s)) for s in shard]
        if self.key_prefix:
            parts.insert(0, "c")
        return f"{array_path}/{self.key_separator.join(parts)}"

    def decode_cell(self, data: bytes | memoryview, where: str = "cell") -> bytes:
        """The cell payload held by one inner chunk's bytes."""
        return self._codec.decode(bytes(data), where)

    def encode_cell(self, payload: bytes | memoryview) -> bytes:
        """One inner chunk's bytes for a cell whose payload is ``payload``."""
        return self._codec.encode(payload)


def _index_layout(index_codecs: Sequence[Mapping[str, Any]]) -> tuple[str, bool]:
    """(numpy byte order, has crc32c) of an index codec chain; refuse anything else."""
    names = [c.get("name") for c in index_codecs]
    if names not in (["bytes"], ["bytes", "crc32c"]):
        raise StoreError(
            f"shard index codecs {names} are not supported by zarr-vectors "
            "(supported: bytes, optionally followed by crc32c)"
        )
    endian = (index_codecs[0].get("configuration") or {}).get("endian", "little")
    if endian not in ("little", "big"):
        raise StoreError(f"shard index bytes codec has endian {endian!r}; use little or big")
    return ("<" if endian == "little" else ">"), len(names) == 2


def parse_sharding(doc: Mapping[str, Any]) -> ShardingSpec | None:
    """The sharding of the array whose ``zarr.json`` is ``doc``; ``None`` if it is not sharded.

    An unsharded cell array (codecs starting with ``vlen-bytes``) gives
    ``None``, so a reader can branch on it. A sharded one must have
    ``sharding_indexed`` as its only codec (a checksum or compressor around
    whole shards would defeat ranged reads and is not what 0.9.2 writes).
    """
    codecs = list(doc.get("codecs") or [])
    if not codecs or codecs[0].get("name") != _SHARDING:
        return None
    if len(codecs) != 1:
        raise StoreError(
            f"codecs {[c.get('name') for c in codecs]}: zarr-vectors reads a sharded cell array "
            "only when sharding_indexed is its single codec"
        )
    conf = codecs[0].get("configuration") or {}
    grid = doc.get("chunk_grid") or {}
    if grid.get("name") != "regular":
        raise StoreError(f"chunk grid {grid.get('name')!r} is not supported; use 'regular'")
    shard_shape = tuple(int(s) for s in grid["configuration"]["chunk_shape"])
    cke = doc.get("chunk_key_encoding") or {"name": "default"}
    cke_conf = cke.get("configuration") or {}
    if cke.get("name") == "default":
        sep, prefix = cke_conf.get("separator", "/"), True
    elif cke.get("name") == "v2":
        sep, prefix = cke_conf.get("separator", "."), False
    else:
        raise StoreError(f"chunk key encoding {cke.get('name')!r} is not supported")
    location = conf.get("index_location", "end")
    shape = doc.get("shape")
    return ShardingSpec(
        shard_shape=shard_shape,
        inner_shape=tuple(int(c) for c in conf.get("chunk_shape", shard_shape)),
        codecs=tuple(dict(c) for c in conf.get("codecs") or ()),
        index_codecs=tuple(
            dict(c)
            for c in conf.get("index_codecs")
            or ({"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"})
        ),
        index_location=location,
        array_shape=tuple(int(s) for s in shape) if shape is not None else None,
        key_separator=str(sep),
        key_prefix=prefix,
    )


def decode_index(
    spec: ShardingSpec,
    data: bytes | memoryview,
    *,
    shard_size: int | None = None,
    where: str = "shard",
) -> ShardIndex:
    """Decode (and check) a shard index read from a shard named ``where``.

    ``data`` is exactly the index's bytes (:meth:`ShardingSpec.index_range`).
    With ``shard_size`` every entry is also checked to lie inside the shard's
    data area. A damaged index raises :class:`CorruptStoreError`.
    """
    order, has_crc = _index_layout(spec.index_codecs)
    raw = bytes(data)
    if len(raw) != spec.index_nbytes:
        raise CorruptStoreError(
            f"{where}: shard index is {len(raw)} bytes, expected {spec.index_nbytes} "
            f"({spec.n_inner} inner chunks); the shard is truncated or its array metadata "
            "does not match it"
        )
    table_bytes = raw[: 16 * spec.n_inner]
    if has_crc:
        (stored,) = np.frombuffer(raw, dtype="<u4", offset=16 * spec.n_inner, count=1)
        if int(stored) != crc32c(table_bytes):
            raise CorruptStoreError(
                f"{where}: shard index checksum mismatch (stored {int(stored):#010x}, computed "
                f"{crc32c(table_bytes):#010x}); the shard is damaged: rewrite the store"
            )
    table = np.frombuffer(table_bytes, dtype=f"{order}u8").astype(np.uint64).reshape(-1, 2)
    off, length = table[:, 0], table[:, 1]
    empty = off == np.uint64(EMPTY)
    if np.any(empty != (length == np.uint64(EMPTY))):
        raise CorruptStoreError(f"{where}: shard index marks an inner chunk half empty")
    if shard_size is not None:
        lo, hi = (
            (spec.index_nbytes, shard_size)
            if spec.index_location == "start"
            else (0, shard_size - spec.index_nbytes)
        )
        used = ~empty
        o, n = off[used], length[used]
        end = o + n  # wraps past 2**64 only for a damaged entry: caught by end < o
        wrong = (o < np.uint64(lo)) | (end < o) | (end > np.uint64(max(hi, 0)))
        bad = np.flatnonzero(used)[wrong].tolist()
        if bad:
            raise CorruptStoreError(
                f"{where}: shard index points outside the shard's {shard_size} bytes "
                f"(inner chunks {bad[:5]}); the shard is truncated or damaged"
            )
    return ShardIndex(table)


def decode_shard(
    spec: ShardingSpec, data: bytes | memoryview, where: str = "shard"
) -> dict[int, bytes]:
    """Every non-empty cell of a whole shard object: ``{inner index: payload}``."""
    start, length = spec.index_range(len(data))
    index = decode_index(spec, data[start : start + length], shard_size=len(data), where=where)
    view = memoryview(data)
    out: dict[int, bytes] = {}
    for i in index.nonempty():
        span = index.span(i)
        assert span is not None
        off, n = span
        out[i] = spec.decode_cell(view[off : off + n], f"{where} (inner chunk {i})")
    return out


def group_by_shard(
    spec: ShardingSpec, grid: npt.ArrayLike
) -> dict[tuple[int, ...], tuple[npt.NDArray[np.int64], npt.NDArray[np.intp]]]:
    """Grid cells ``grid`` (m, D) grouped by shard.

    Returns ``{shard coordinates: (inner indices, rows of grid)}``, shards in
    lexicographic order and cells inside a shard in their input order.
    """
    cells = np.asarray(grid, dtype=np.int64).reshape(-1, spec.ndim)
    if not len(cells):
        return {}
    if np.any(cells < 0) or (
        spec.array_shape is not None and np.any(cells >= np.asarray(spec.array_shape))
    ):
        raise ValidationError(
            f"grid cells outside the array's cell grid {list(spec.array_shape or ())}"
        )
    shape = np.asarray(spec.shard_shape, dtype=np.int64)
    shards = cells // shape
    local = cells % shape
    inner = np.ravel_multi_index(tuple(local.T), spec.chunks_per_shard).astype(np.int64)
    order = np.lexsort(shards.T[::-1])
    sorted_shards = shards[order]
    cut = np.flatnonzero(np.any(sorted_shards[1:] != sorted_shards[:-1], axis=1)) + 1
    bounds = [0, *cut.tolist(), len(order)]
    out: dict[tuple[int, ...], tuple[npt.NDArray[np.int64], npt.NDArray[np.intp]]] = {}
    for s, e in itertools.pairwise(bounds):
        rows = order[s:e]
        out[tuple(int(v) for v in sorted_shards[s])] = (inner[rows], rows)
    return out


def assemble_shard(spec: ShardingSpec, chunks: Mapping[tuple[int, ...], bytes]) -> bytes | None:
    """A shard object from already encoded inner chunks ``{inner coordinates: bytes}``.

    Chunks go in Morton order, the index where the spec says; an empty bytes
    value is an empty cell. ``None`` when no cell holds data (no object is
    stored for such a shard).
    """
    by_index = {spec.inner_index(k): v for k, v in chunks.items() if len(v)}
    if not by_index:
        return None
    table = np.full((spec.n_inner, 2), EMPTY, dtype=np.uint64)
    base = spec.index_nbytes if spec.index_location == "start" else 0
    parts: list[bytes] = []
    pos = base
    for i in morton_order(spec.chunks_per_shard):
        blob = by_index.get(i)
        if blob is None:
            continue
        table[i] = (pos, len(blob))
        parts.append(blob)
        pos += len(blob)
    order, has_crc = _index_layout(spec.index_codecs)
    index = table.astype(f"{order}u8").tobytes()
    if has_crc:
        index += np.array([crc32c(index)], dtype="<u4").tobytes()
    if spec.index_location == "start":
        parts.insert(0, index)
    else:
        parts.append(index)
    return b"".join(parts)


def encode_shard(
    spec: ShardingSpec, payloads: Mapping[tuple[int, ...], bytes | memoryview]
) -> bytes | None:
    """A shard object from cell payloads ``{inner coordinates: payload}``.

    Each payload is what an unsharded cell would hold before its codecs (raw
    rows, a fragment index blob); it is run through the inner codec chain.
    Empty payloads are empty cells, as zarr-python leaves out chunks equal to
    the fill value ``""``.
    """
    return assemble_shard(spec, {k: spec.encode_cell(v) for k, v in payloads.items() if len(v)})


def sharding_codecs(
    ndim: int,
    codecs: Sequence[Mapping[str, Any]],
    *,
    index_location: IndexLocation = "end",
) -> list[dict[str, Any]]:
    """The ``codecs`` list of a sharded cell array whose cells use ``codecs``.

    What 0.9.2 writes: one cell per inner chunk, the index little-endian with a
    CRC-32C. The array's chunk grid must then be the shard shape (see
    :func:`sharded_array_json`).
    """
    return [
        {
            "name": _SHARDING,
            "configuration": {
                "chunk_shape": [1] * ndim,
                "codecs": [dict(c) for c in codecs],
                "index_codecs": [
                    {"name": "bytes", "configuration": {"endian": "little"}},
                    {"name": "crc32c"},
                ],
                "index_location": index_location,
            },
        }
    ]


def sharded_array_json(
    doc: Mapping[str, Any],
    shard_shape: int | Sequence[int],
    *,
    index_location: IndexLocation = "end",
) -> dict[str, Any]:
    """The ``zarr.json`` of an unsharded cell array (``cell_array_json``), sharded.

    The chunk grid becomes the shard shape and the cell codecs move inside
    ``sharding_indexed``; shape, attributes (``nonempty_chunks``,
    ``chunk_grid_origin``) and everything else stay.
    """
    out = {k: v for k, v in doc.items()}
    ndim = len(doc["shape"])
    shape = validate_shard_shape(shard_shape, ndim)
    inner = list(doc.get("codecs") or [])
    if not inner or inner[0].get("name") != "vlen-bytes":
        raise ValidationError(
            f"only an unsharded cell array (codecs starting with vlen-bytes) can be sharded, "
            f"got codecs {[c.get('name') for c in inner]}"
        )
    out["chunk_grid"] = {"name": "regular", "configuration": {"chunk_shape": list(shape)}}
    out["codecs"] = sharding_codecs(ndim, inner, index_location=index_location)
    return out
