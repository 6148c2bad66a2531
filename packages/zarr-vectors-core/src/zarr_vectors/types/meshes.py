"""Surface meshes: :func:`write_mesh` and :func:`read_mesh`.

A mesh is vertices ``(V, D)`` and faces ``(F, L)`` of vertex indices,
triangles (``L = 3``) or quads (``L = 4``); ``object_ids`` (one per vertex)
split it into objects, e.g. one segmented cell per id. As the published
0.9.2 stores them, a mesh is an object store (:mod:`zarr_vectors.format.objects`):
each cell holds one fragment of vertices per object, and every face is a
link of width ``L`` (``links/0/<offsets>``), a face whose vertices fall in
several cells filed once, under the first of its cells, with its winding kept.

``encoding="draco"`` (:mod:`zarr_vectors.types.draco_cells`) stores each
cell's vertices and its own faces as one Draco bitstream; only the faces
crossing cells stay links. Reads return whole objects (``object_ids``,
fetching only the cells those objects touch) or every face with a vertex in
a box (``bbox``), each face once with its vertices.
The user guide is ``docs/meshes.md``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors._extras import require
from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format.batches import is_stream
from zarr_vectors.format.draco import (
    DracoCells,
    ForeignDracoError,
    check_draco,
    read_foreign_level,
)
from zarr_vectors.format.faces import triangulate
from zarr_vectors.format.objects import ObjectLevel
from zarr_vectors.format.objread import ObjectData
from zarr_vectors.format.snapshot import Snapshot, load_snapshot
from zarr_vectors.format.validate import check_attributes, check_level, check_positions
from zarr_vectors.store.location import StoreLike, StoreLocation
from zarr_vectors.types._objects import (
    ObjectResult,
    check_layout,
    check_object_attributes,
    merge_levels,
    read_store,
    write_store,
    write_stream,
)
from zarr_vectors.types._write_options import WriteOptions

__all__ = ["Mesh", "MeshWriteSummary", "read_mesh", "triangulate", "write_mesh"]

_DECODERS = {"draco": DracoCells().decode}

Box = tuple[Sequence[float], Sequence[float]]
ENCODINGS = ("raw", "draco")
FACE_WIDTHS = (3, 4)


@dataclass
class Mesh(ObjectResult):
    """A mesh read from a store; also indexable like 0.9.2's result dict.

    ``object_ids`` has one id per vertex; ``objects`` the ids of the objects
    read, ascending, with one row of ``object_attributes`` each.
    """

    vertices: npt.NDArray[Any]
    faces: npt.NDArray[np.int64]
    object_ids: npt.NDArray[np.int64]
    objects: npt.NDArray[np.int64]
    vertex_attributes: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    object_attributes: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    encoding: str = "raw"
    _keys = (
        "vertices",
        "faces",
        "object_ids",
        "objects",
        "vertex_attributes",
        "object_attributes",
        "vertex_count",
        "face_count",
        "encoding",
    )
    _title = "mesh"

    @property
    def vertex_count(self) -> int:
        return len(self.vertices)

    @property
    def face_count(self) -> int:
        return len(self.faces)

    def __len__(self) -> int:
        return self.face_count

    def _vertex_table(self) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64], dict[str, Any]]:
        return self.vertices, self.object_ids, self.vertex_attributes

    def _summary(self) -> list[tuple[str, str]]:
        kind = {3: "triangles", 4: "quads"}.get(self.faces.shape[1], f"{self.faces.shape[1]}-gons")
        return [
            ("encoding", self.encoding),
            ("objects", f"{len(self.objects):,}"),
            ("faces", f"{self.face_count:,} {kind}"),
        ]

    def to_trimesh(self, process: bool = False) -> Any:
        """A ``trimesh.Trimesh`` (quads split into two triangles; needs the ``io`` extra).

        Vertex attributes go to ``vertex_attributes``; ``process=False`` keeps
        the vertices as read (no merging), so indices still match this result.
        """
        trimesh = require("trimesh", feature="Mesh.to_trimesh()", extra="io")
        if self.vertices.shape[1] != 3:
            raise ValidationError(
                f"trimesh holds 3-D meshes; this one has {self.vertices.shape[1]} axes"
            )
        return trimesh.Trimesh(
            vertices=np.asarray(self.vertices, dtype=np.float64),
            faces=triangulate(self.faces),
            vertex_attributes=dict(self.vertex_attributes),
            process=process,
        )


@dataclass(frozen=True)
class MeshWriteSummary:
    """What :func:`write_mesh` wrote."""

    vertex_count: int
    face_count: int
    object_count: int
    chunk_count: int
    #: Faces within one cell and across cells (``None`` for an append: the store's cells).
    intra_face_count: int | None
    cross_face_count: int | None
    encoding: str
    mode: str


def check_faces(faces: Any, n: int) -> npt.NDArray[np.int64]:
    """``faces`` as an ``(F, 3)`` or ``(F, 4)`` int64 array of valid, distinct vertex indices."""
    if isinstance(faces, (list, tuple)) and faces and not isinstance(faces[0], int):
        widths = sorted({len(f) for f in faces})
        if len(widths) > 1:
            k = next(i for i, f in enumerate(faces) if len(f) != len(faces[0]))
            raise ValidationError(
                f"faces mix widths {widths} (face 0 has {len(faces[0])} vertices, face {k} has "
                f"{len(faces[k])}); write triangles and quads as separate stores or triangulate"
            )
    f = np.asarray(faces)
    if f.size == 0:
        raise ValidationError("faces is empty: give at least one face (F, 3) or (F, 4)")
    if f.ndim != 2 or f.shape[1] not in FACE_WIDTHS or f.dtype.kind not in "iu":
        raise ValidationError(
            f"faces must be an (F, 3) or (F, 4) array of vertex indices, got {f.dtype} shape "
            f"{f.shape}"
        )
    f = f.astype(np.int64)
    out_of_range = f.min() < 0 or f.max() >= n
    bad = np.flatnonzero(((f < 0) | (f >= n)).any(axis=1)) if out_of_range else np.zeros(0, int)
    if len(bad):
        k = int(bad[0])
        raise ValidationError(
            f"{len(bad)} faces name vertices that do not exist (first: face {k} {f[k].tolist()}; "
            f"there are {n} vertices, indices 0..{n - 1})"
        )
    same = np.zeros(len(f), dtype=bool)
    for i in range(f.shape[1]):
        for j in range(i + 1, f.shape[1]):
            same |= f[:, i] == f[:, j]
    degen = np.flatnonzero(same)
    if len(degen):
        k = int(degen[0])
        raise ValidationError(
            f"{len(degen)} of {len(f)} faces repeat a vertex (first: face {k} {f[k].tolist()}); "
            "drop the degenerate faces before writing"
        )
    return f


def write_mesh(
    store: StoreLike,
    vertices: Any,
    faces: Any = None,
    *,
    chunk_shape: Sequence[float] | None = None,
    bounds: Box | None = None,
    encoding: str = "raw",
    draco_quantization_bits: int = 11,
    vertex_attributes: Mapping[str, Any] | None = None,
    object_attributes: Mapping[str, Any] | None = None,
    object_ids: Any = None,
    dtype: npt.DTypeLike = "float32",
    compressor: str | dict[str, Any] | None = None,
    shard_shape: int | Sequence[int] | None = None,
    mode: str = "w-",
    checksum: bool = True,
    consolidate: bool = True,
    axes: Sequence[Any] | None = None,
    lock_timeout: float | None = None,
    memory_limit: int | str | None = None,
    spill_dir: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    backend: str | None = None,
    **backend_kwargs: Any,
) -> MeshWriteSummary:
    """Write a triangle or quad mesh to ``store`` (created, replaced or appended to).

    ``vertices`` ``(V, D)``; ``faces`` ``(F, 3)`` or ``(F, 4)`` vertex indices
    (winding kept); ``object_ids`` one per vertex (default: all 0), every face
    inside one object; ``vertex_attributes`` V rows, ``object_attributes`` one
    row per distinct object id, ascending. ``encoding="draco"`` (3-D, the
    ``draco`` extra) quantizes each cell's positions to
    ``draco_quantization_bits`` bits of the cell's extent (quads are split
    into triangle pairs for Draco and put back together on reading). ``mode="a"`` appends
    whole objects whose ids are new. Bad input is refused before anything is
    written.

    A mesh larger than memory comes as an iterator of batches of whole objects
    in place of ``vertices`` (``faces`` left out): each a ``(vertices, faces)``
    or ``(vertices, faces, object_ids)`` tuple, or a dict with those keys and
    ``vertex_attributes``/``object_attributes``, faces indexing the batch's own
    vertices. It needs ``bounds=``, is stored raw, and is spilled to
    ``spill_dir`` and joined ``memory_limit`` bytes at a time, as for polylines.
    """
    if encoding not in ENCODINGS:
        raise ValidationError(f"encoding must be 'raw' or 'draco', got {encoding!r}")
    options = WriteOptions(
        mode, axes, consolidate, lock_timeout, storage_options, backend, backend_kwargs
    )
    common = options.keywords(write_mesh, "mesh", "explicit")
    if faces is None:
        if vertex_attributes or object_attributes or object_ids is not None:
            raise ValidationError(
                "with batches, give the attributes and object_ids in each batch (a dict with "
                "those keys); the keywords are for data in memory"
            )
        if not is_stream(vertices, None) or isinstance(vertices, np.ndarray):
            raise ValidationError(
                "faces is missing: give faces (F, 3) or (F, 4), or pass an iterator of "
                "(vertices, faces[, object_ids]) batches as vertices"
            )
        return _write_stream(
            store,
            vertices,
            encoding=encoding,
            dtype=dtype,
            layout_args=(chunk_shape, bounds, compressor, checksum, shard_shape),
            memory_limit=memory_limit,
            spill_dir=spill_dir,
            common=common,
        )
    pos, f, level = _mesh_objects(
        vertices, faces, dtype, vertex_attributes, object_attributes, object_ids
    )
    n, ids = len(pos), level.object_ids
    layout = check_layout(
        mode, pos.shape[1], chunk_shape, bounds, compressor, checksum, shard_shape
    )
    hooks: dict[str, Any] = {"cell_decoders": _DECODERS}
    if encoding == "draco":
        cells = DracoCells(check_draco(pos.shape[1], f.shape[1], draco_quantization_bits))
        hooks["encoder"] = cells
    enc = write_store(store, level, layout=layout, merge=_merge, **common, **hooks)
    cross = _count_cross(pos, f, layout.chunk_shape)
    intra = None if cross is None else len(f) - cross
    return MeshWriteSummary(n, len(f), len(ids), enc.cells, intra, cross, encoding, mode)


def _mesh_objects(
    vertices: Any,
    faces: Any,
    dtype: Any,
    vertex_attributes: Mapping[str, Any] | None,
    object_attributes: Mapping[str, Any] | None,
    object_ids: Any,
) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64], ObjectLevel]:
    """A mesh checked and laid out as objects: ``(vertices, faces, level)``."""
    pos = check_positions(vertices, dtype)
    n = len(pos)
    if n == 0:
        raise ValidationError("vertices is empty: give at least one vertex")
    f = check_faces(faces, n)
    attrs = check_attributes(vertex_attributes, n)
    vid = np.zeros(n, np.int64) if object_ids is None else np.asarray(object_ids)
    if vid.shape != (n,) or (vid.size and vid.dtype.kind not in "iu"):
        raise ValidationError(f"object_ids must be {n} integers, one per vertex")
    ids, owner = np.unique(vid.astype(np.int64), return_inverse=True)
    owner = owner.reshape(-1).astype(np.int64)
    split = np.flatnonzero((owner[f] != owner[f[:, :1]]).any(axis=1))
    if len(split):
        k = int(split[0])
        objs = sorted({int(ids[o]) for o in owner[f[k]]})
        raise ValidationError(
            f"{len(split)} faces join vertices of different objects (first: face {k} joins "
            f"objects {objs}); a face's vertices must share one object id"
        )
    oattrs = check_object_attributes(object_attributes, len(ids), "object")
    order = np.argsort(owner, kind="stable")
    where = np.empty(n, dtype=np.int64)
    where[order] = np.arange(n)
    level = ObjectLevel(
        positions=pos[order],
        object_row=owner[order],
        object_ids=ids,
        split="cells",
        attributes={k: v[order] for k, v in attrs.items()},
        links=where[f],
        object_attributes=oattrs,
        arrays_present=("vertices", "links", "object_index"),
    )
    return pos, f, level


def _write_stream(
    store: Any,
    items: Any,
    *,
    encoding: str,
    dtype: Any,
    layout_args: tuple[Any, ...],
    memory_limit: int | str | None,
    spill_dir: str | None,
    common: dict[str, Any],
) -> MeshWriteSummary:
    """:func:`write_mesh` from batches of whole objects (see its docstring)."""
    if encoding != "raw":
        raise ValidationError(
            "a mesh written from batches is stored raw; encoding='draco' needs the mesh in memory"
        )
    chunk_shape, bounds = layout_args[0], layout_args[1]
    ndim = len(bounds[0]) if bounds is not None else len(chunk_shape or ())
    mode = common["mode"]
    layout = check_layout(mode, ndim, *layout_args)
    seen = [0, 0, 0]  # vertices, faces, objects: what this write adds (an append's too)

    def levels() -> Any:
        for item in items:
            if isinstance(item, Mapping):
                keys = {"vertices", "faces", "object_ids", "vertex_attributes", "object_attributes"}
                if set(item) - keys or not {"vertices", "faces"} <= set(item):
                    raise ValidationError(
                        f"a batch dict needs 'vertices' and 'faces' and may have 'object_ids', "
                        f"'vertex_attributes', 'object_attributes'; got {sorted(item)}"
                    )
                parts = [item["vertices"], item["faces"], item.get("object_ids")]
                extra = (item.get("vertex_attributes"), item.get("object_attributes"))
            else:
                parts, extra = [*item, None][:3], (None, None)
            _, f, level = _mesh_objects(parts[0], parts[1], dtype, extra[0], extra[1], parts[2])
            seen[0] += len(level.positions)
            seen[1] += len(f)
            seen[2] += len(level.object_ids)
            yield level

    enc = write_stream(
        store, levels(), layout=layout, memory_limit=memory_limit, spill_dir=spill_dir, **common
    )
    return MeshWriteSummary(seen[0], seen[1], seen[2], enc.cells, None, None, encoding, mode)


def _count_cross(
    pos: npt.NDArray[Any], f: npt.NDArray[np.int64], cs: Sequence[float] | None
) -> int | None:
    if cs is None:  # an append: the store's cells
        return None
    cell = np.floor(pos / np.asarray(cs, dtype=np.float64)).astype(np.int64)
    fc = cell[f]
    return int((fc != fc[:, :1]).any(axis=(1, 2)).sum())


def _merge(old: ObjectData, snap: Snapshot, new: ObjectLevel) -> ObjectLevel:
    if new.links is not None and len(old.links) and old.links.shape[1] != new.links.shape[1]:
        raise ValidationError(
            f"the store holds faces of {old.links.shape[1]} vertices but the appended ones have "
            f"{new.links.shape[1]}; append the same face width"
        )
    return merge_levels(old, snap, new)


def read_mesh(
    store: StoreLike,
    *,
    level: int = 0,
    bbox: Box | None = None,
    object_ids: Sequence[int] | None = None,
    attribute_names: Sequence[str] | None = None,
    storage_options: Mapping[str, Any] | None = None,
    backend: str | None = None,
    **backend_kwargs: Any,
) -> Mesh:
    """Read a mesh: whole objects, every face once with its vertices.

    ``object_ids`` fetches only the cells those objects touch; ``bbox`` (a
    closed box ``(min, max)``) returns every face with a vertex in the box,
    with all its vertices (some may lie outside), and the vertices inside the
    box. Faces index the returned ``vertices``.
    """
    try:
        data, snap = read_store(
            store,
            level=level,
            bbox=bbox,
            object_ids=object_ids,
            attribute_names=attribute_names,
            links=True,
            storage_options=storage_options,
            backend=backend,
            backend_kwargs=backend_kwargs,
            caller=read_mesh,
            cell_decoders=_DECODERS,
        )
    except ForeignDracoError:
        if bbox is not None or object_ids is not None or attribute_names:
            raise
        loc = StoreLocation.of(
            store,
            backend=backend,
            storage_options=storage_options,
            backend_kwargs=backend_kwargs,
            caller=read_mesh,
        )
        return _read_foreign(loc, check_level(level))
    vdoc = snap.node(f"{level}/vertices") or {}
    enc = str((vdoc.get("attributes") or {}).get("encoding", "raw"))
    width = _face_width(snap, level)
    faces = data.links if len(data.links) else np.zeros((0, width), np.int64)
    owner = np.repeat(data.object_ids, np.diff(data.offsets))
    out = Mesh(
        vertices=data.positions,
        faces=faces,
        object_ids=owner,
        objects=data.object_ids,
        vertex_attributes=data.attributes,
        object_attributes=data.object_attributes,
        encoding=enc,
    )
    return out if bbox is None else _faces_in_box(out, bbox)


def _read_foreign(loc: StoreLocation, level: int) -> Mesh:
    """A Draco store written without keeping cell order (0.9.2's): see read_foreign_level."""
    with loc.open("r") as source:
        snap = load_snapshot(source)
        pos, faces, owner, lost = read_foreign_level(snap, level)
        url = source.url
    if lost:
        warnings.warn(
            f"{url}: {lost} faces between cells cannot be read from this Draco store (its cells "
            "were encoded without keeping their vertex order, as zarr-vectors 0.9.2 does); the "
            "vertices and the faces within cells are returned",
            UserWarning,
            stacklevel=3,
        )
    return Mesh(
        vertices=pos,
        faces=faces,
        object_ids=owner,
        objects=np.unique(owner[owner >= 0]),
        encoding="draco",
    )


def _face_width(snap: Snapshot, level: int) -> int:
    fam = snap.node(f"{level}/links/0")
    return int(((fam or {}).get("attributes") or {}).get("link_width", 3))


def _faces_in_box(mesh: Mesh, box: Box) -> Mesh:
    """Every face with a vertex in the closed box, its vertices, and the vertices inside."""
    lo, hi = np.asarray(box[0], dtype=np.float64), np.asarray(box[1], dtype=np.float64)
    inside = np.all((mesh.vertices >= lo) & (mesh.vertices <= hi), axis=1)
    f = mesh.faces
    keep_f = inside[f].any(axis=1) if len(f) else np.zeros(0, bool)
    keep_v = inside.copy()
    keep_v[f[keep_f].reshape(-1)] = True
    remap = np.full(len(keep_v), -1, dtype=np.int64)
    remap[keep_v] = np.arange(int(keep_v.sum()))
    owner = mesh.object_ids[keep_v]
    objs = np.unique(owner)
    sel = np.isin(mesh.objects, objs)
    return Mesh(
        vertices=mesh.vertices[keep_v],
        faces=remap[f[keep_f]],
        object_ids=owner,
        objects=mesh.objects[sel],
        vertex_attributes={k: v[keep_v] for k, v in mesh.vertex_attributes.items()},
        object_attributes={k: v[sel] for k, v in mesh.object_attributes.items()},
        encoding=mesh.encoding,
    )
