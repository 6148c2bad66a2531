"""Draco-encoded vertex cells of meshes (through DracoPy, the ``draco`` extra).

The published 0.9.2 layout (its ``types/meshes.py``, read for facts): with
``encoding="draco"`` a mesh level's ``vertices`` array says
``"encoding": "draco"`` and each of its cells holds one Draco bitstream of
the cell's vertices and the faces whose vertices all lie in that cell (in
the cell's own row numbers); only faces crossing cells stay links in
``links/0/<offsets>``, naming ``(cell, row)`` like raw stores. Vertex
attributes stay raw arrays beside the cells.

One difference, and why: 0.9.2 lets Draco reorder and merge a cell's
points, so the rows its cross-cell links name no longer exist after
decoding, and its manifests name the whole cell for every object in it.
Here each cell is encoded with ``preserve_order`` (every row kept, in
order), so a cell's rows, fragments per object, attributes and the
cross-cell links agree exactly as in a raw store; the vertices array records
it (``draco_order: "preserved"``) with ``draco_quantization_bits`` and the
largest position error the quantization allows (``draco_max_error``: a cell's
extent over ``2**bits - 1``). A Draco store without that record (0.9.2's)
is read cell by cell: positions and each cell's own faces, no cross-cell
faces (see :func:`decode_foreign_cell`).

Draco holds triangles only. A quad mesh's own faces in a cell are split
into triangle pairs (:func:`~zarr_vectors.format.faces.triangulate`) in the
bitstream, and the vertices array records it (``draco_quads:
"triangle_pairs"``): each quad ``(a, b, c, d)`` is the triangles
``(a, b, c)``, ``(a, c, d)``, one after the other, which the order-keeping
encoding returns as they went in, so reading puts the quads back exactly.
The quads crossing cells stay links of width 4, as in a raw store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors._extras import require
from zarr_vectors.exceptions import CorruptStoreError, ValidationError
from zarr_vectors.format.cellio import ArrayLayout, fetch_cell_bytes
from zarr_vectors.format.cells import CellCodec
from zarr_vectors.format.faces import quads_from_pairs, triangulate
from zarr_vectors.format.grid import group_by_cell, parse_world_key, world_key
from zarr_vectors.format.levels import le_dtype
from zarr_vectors.format.metadata import RootMetadata
from zarr_vectors.format.objarrays import read_plain, read_vlen
from zarr_vectors.format.objects import (
    EncodedObjects,
    ObjectLevel,
    decode_manifests,
    encode_objects,
)
from zarr_vectors.format.snapshot import Snapshot

__all__ = ["DracoCells", "ForeignDracoError", "check_draco", "max_error", "read_foreign_level"]

PRESERVED = "preserved"
#: How a quad mesh's cells hold their quads (the ``draco_quads`` record).
QUAD_PAIRS = "triangle_pairs"
COMPRESSION_LEVEL = 7


class ForeignDracoError(ValidationError):
    """A Draco store whose cells do not keep their vertex order, read by cells or objects."""


def _dracopy() -> Any:
    return require("DracoPy", feature="Draco-encoded meshes", extra="draco")


def check_draco(ndim: int, width: int, bits: Any) -> int:
    """Draco holds 3-D triangles (quads as triangle pairs) with 1..30 quantization bits."""
    if ndim != 3:
        raise ValidationError(f"encoding='draco' holds 3-D vertices; these have {ndim} axes")
    if width not in (3, 4):
        raise ValidationError(
            f"encoding='draco' holds triangles and quads; these faces have {width} vertices"
        )
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 30:
        raise ValidationError(f"draco_quantization_bits must be an integer 1..30, got {bits!r}")
    _dracopy()
    return int(bits)


def max_error(chunk_shape: Sequence[float], bits: int) -> float:
    """The largest distance per axis between a position and its quantized value."""
    return float(max(chunk_shape)) / float(2**bits - 1)


class DracoCells:
    """The encoder (``write_store(encoder=...)``) and cell decoder of Draco meshes."""

    def __init__(self, bits: int = 11) -> None:
        self.bits = bits

    def __call__(
        self,
        obj: ObjectLevel,
        meta: RootMetadata,
        *,
        codecs: Sequence[Mapping[str, Any]],
        index_codecs: Sequence[Mapping[str, Any]],
        shard_shape: Sequence[int] | None,
        level: str = "0",
    ) -> EncodedObjects:
        draco = _dracopy()
        pos = obj.positions
        faces = obj.links if obj.links is not None else np.zeros((0, 3), np.int64)
        quads = faces.shape[1] == 4
        groups = group_by_cell(pos, meta.chunk_shape)
        order = np.asarray(groups.order, dtype=np.int64)
        cell_of = np.empty(len(pos), dtype=np.int64)
        cell_of[order] = np.repeat(np.arange(len(groups.world)), groups.counts)
        local = np.empty(len(pos), dtype=np.int64)
        local[order] = np.arange(len(pos)) - groups.starts[:-1][cell_of[order]]
        fc = cell_of[faces]
        intra = (fc == fc[:, :1]).all(axis=1)
        enc = encode_objects(
            replace(obj, links=faces[~intra]),
            meta,
            codecs=codecs,
            index_codecs=index_codecs,
            shard_shape=shard_shape,
            level=level,
        )
        # Each cell's own faces, in its row numbers, grouped by cell.
        own = faces[intra]
        own_cell = fc[intra, 0]
        by_cell = np.argsort(own_cell, kind="stable")
        own, own_cell = local[own[by_cell]], own_cell[by_cell]
        bounds = np.searchsorted(own_cell, np.arange(len(groups.world) + 1))
        codec = CellCodec(tuple(dict(c) for c in codecs))
        origin = np.asarray(meta.grid_origin(), dtype=np.int64)
        blobs: dict[str, bytes] = {}
        rows = groups.starts.tolist()
        for i, w in enumerate(groups.world.tolist()):
            pts = np.ascontiguousarray(pos[order[rows[i] : rows[i + 1]]], dtype=np.float32)
            tri = triangulate(own[bounds[i] : bounds[i + 1]]).astype(np.uint32)
            blob = draco.encode(
                pts,
                tri if len(tri) else None,
                quantization_bits=self.bits,
                compression_level=COMPRESSION_LEVEL,
                preserve_order=True,
            )
            grid = "/".join(map(str, (np.asarray(w) - origin).tolist()))
            blobs[f"{level}/vertices/c/{grid}"] = codec.encode(bytes(blob))
        enc.chunks = [(k, blobs.get(k, v)) for k, v in enc.chunks]
        attrs = enc.docs[f"{level}/vertices"]["attributes"]
        attrs.update(
            {
                "encoding": "draco",
                "draco_order": PRESERVED,
                "draco_quantization_bits": self.bits,
                "draco_max_error": max_error(meta.chunk_shape, self.bits),
            }
        )
        if quads:
            attrs["draco_quads"] = QUAD_PAIRS
        return enc

    def decode(
        self, data: bytes, attrs: Mapping[str, Any], where: str
    ) -> tuple[bytes, npt.NDArray[np.int64] | None]:
        """A cell's rows (in the store's dtype) and its own faces, from its bitstream."""
        if attrs.get("draco_order") != PRESERVED:
            raise ForeignDracoError(
                f"{where}: this Draco store was written without keeping each cell's vertex order "
                "(zarr-vectors 0.9.2 does so), so its faces between cells cannot be placed; read "
                "it whole with read_mesh() (no bbox or object_ids): positions and the faces within "
                "cells come back"
            )
        pts, tri = _decode(data, where)
        quads = attrs.get("draco_quads")
        if quads is not None and quads != QUAD_PAIRS:
            raise CorruptStoreError(
                f"{where}: draco_quads is {quads!r}; this version reads {QUAD_PAIRS!r}"
            )
        if quads is not None and tri is not None:
            tri = quads_from_pairs(tri, where)
        dtype = le_dtype(attrs.get("dtype", "float32"))
        return np.ascontiguousarray(pts, dtype=dtype).tobytes(), tri


def _decode(data: bytes, where: str) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64] | None]:
    draco = _dracopy()
    try:
        mesh = draco.decode(bytes(data))
    except Exception as exc:  # DracoPy raises its own exception types
        raise CorruptStoreError(f"{where}: not a Draco bitstream ({type(exc).__name__})") from None
    pts = np.asarray(mesh.points, dtype=np.float32).reshape(-1, 3)
    raw_faces = getattr(mesh, "faces", None)
    tri = None if raw_faces is None else np.asarray(raw_faces, dtype=np.int64).reshape(-1, 3)
    return pts, tri


def decode_foreign_cell(data: bytes, where: str) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
    """Positions and own faces of a cell whose Draco points may be reordered or merged."""
    pts, tri = _decode(data, where)
    return pts, tri if tri is not None else np.zeros((0, 3), np.int64)


def read_foreign_level(
    snap: Snapshot, level: int
) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64], npt.NDArray[np.int64], int]:
    """A whole Draco level whose cells' order was not kept (0.9.2's): what can be had.

    Returns ``(positions, faces, object id per vertex, faces lost)``: every
    cell's decoded positions and its own faces. The faces between cells are
    lost (their rows name points Draco reordered or merged); a vertex whose
    cell several objects share has object id -1 (0.9.2 names the whole cell
    for each of them).
    """
    url = snap.backend.url
    vpath = f"{level}/vertices"
    vdoc = snap.node(vpath)
    if vdoc is None:
        raise CorruptStoreError(f"{url}: {vpath} is missing")
    attrs = vdoc.get("attributes") or {}
    origin = np.asarray(attrs.get("chunk_grid_origin", [0] * snap.meta.ndim), dtype=np.int64)
    cells = [tuple(parse_world_key(k)) for k in attrs.get("nonempty_chunks") or []]
    layout = ArrayLayout(vpath, vdoc)
    grids = [tuple(int(x) for x in np.asarray(c) - origin) for c in cells]
    got = fetch_cell_bytes(snap, {vpath: (layout, grids)})
    oi = f"{level}/object_index"
    ids = read_plain(snap, f"{oi}/object_ids", snap.node(f"{oi}/object_ids") or {})
    per, mcells, _ = decode_manifests(
        read_vlen(snap, f"{oi}/manifests", snap.node(f"{oi}/manifests") or {}),
        snap.meta.ndim,
        f"{url}: {oi}/manifests",
    )
    owners: dict[tuple[int, ...], set[int]] = {}
    for oid, c in zip(np.repeat(ids, per).tolist(), mcells.tolist(), strict=True):
        owners.setdefault(tuple(c), set()).add(int(oid))
    pts_all, faces_all, oid_all, base = [], [], [], 0
    for c, g in zip(cells, grids, strict=True):
        where = f"{url}: {vpath} cell {world_key(c)}"
        raw = got.get((vpath, g))
        if raw is None:
            raise CorruptStoreError(f"{where} is missing")
        pts, tri = decode_foreign_cell(bytes(layout.codec.decode(raw, "")), where)
        who = owners.get(c, set())
        pts_all.append(pts)
        faces_all.append(tri + base)
        oid_all.append(np.full(len(pts), next(iter(who)) if len(who) == 1 else -1, np.int64))
        base += len(pts)
    fam = snap.node(f"{level}/links/0") or {}
    lost = int((fam.get("attributes") or {}).get("num_links", 0))
    dtype = le_dtype(attrs.get("dtype", "float32"))
    return (
        np.concatenate(pts_all).astype(dtype) if pts_all else np.zeros((0, 3), dtype),
        np.concatenate(faces_all) if faces_all else np.zeros((0, 3), np.int64),
        np.concatenate(oid_all) if oid_all else np.zeros(0, np.int64),
        lost,
    )
