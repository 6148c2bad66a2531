"""Skeletons and meshes of a store, in Neuroglancer's precomputed object formats.

A store of skeletons or graphs is served as a precomputed *skeleton* source
under ``/skeletons`` (``info`` with ``"@type": "neuroglancer_skeletons"``, then
one binary per object id), and a store of meshes as a precomputed *legacy
mesh* source under ``/meshes`` (``info`` with ``"@type":
"neuroglancer_legacy_mesh"``, a manifest ``ID:0`` naming one fragment
``ID.frag`` per object). Neuroglancer opens them as
``precomputed://http://HOST:PORT/skeletons`` or ``.../meshes``.

Objects are read by id with :func:`~zarr_vectors.types.graphs.read_graph` /
:func:`~zarr_vectors.types.meshes.read_mesh`, which fetch only the cells the
object touches, through the source's own (read-only) backend, on the source's
thread pool; the encoded bytes are cached per committed state, so a commit
that changes the root is served from then on. Neuroglancer places these
sources' vertices in nanometres: the skeleton ``info``'s ``transform`` scales
the store's units to them, and legacy mesh fragments (which have no transform)
are written in nanometres, so skeletons and meshes line up with the store's
points served as annotations. An id no object has is
:class:`~zarr_vectors.serve.source.NotFound` (404); a damaged cell raises the
library's error naming its key (answered 500 by the app).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.serve.index import _attribute_layout, nanometres_per_unit
from zarr_vectors.serve.source import AnnotationSource, NotFound, StoreState

__all__ = [
    "SKELETON_KINDS",
    "ObjectSource",
    "encode_fragment",
    "encode_skeleton",
    "geometry_kind",
    "skeleton_attributes",
]

SKELETON_KINDS = ("skeleton", "graph")

#: dtypes a precomputed skeleton vertex attribute may have (float64 is sent as float32).
_VERTEX_DTYPES = ("float32", "int8", "uint8", "int16", "uint16", "int32", "uint32")


def geometry_kind(state: StoreState) -> str:
    """The store's geometry type (``point``, ``skeleton``, ``graph``, ``mesh``...)."""
    types = state.snap.meta.geometry_types
    return str(types[0]) if types else "point"


def _attribute_dtype(values: npt.NDArray[Any]) -> np.dtype[Any] | None:
    """The dtype an attribute is served as, or None when the format has none for it."""
    if values.dtype == np.float64:
        return np.dtype("<f4")
    if values.dtype.name in _VERTEX_DTYPES:
        return values.dtype.newbyteorder("<")
    return None


def skeleton_attributes(state: StoreState) -> list[tuple[str, np.dtype[Any], int]]:
    """``(name, served dtype, components)`` of the vertex attributes the format can carry."""
    out: list[tuple[str, np.dtype[Any], int]] = []
    for name, (dtype, row_shape) in sorted(_attribute_layout(state.snap, 0).items()):
        components = int(np.prod(row_shape)) if row_shape else 1
        served = _attribute_dtype(np.empty(0, dtype))
        if served is not None:
            out.append((name, served, components))
    return out


def _three_d(positions: npt.NDArray[Any], what: str) -> npt.NDArray[np.float32]:
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise ValidationError(
            f"{what}: Neuroglancer's precomputed objects are 3-D; this store's vertices "
            f"have {positions.shape[-1] if positions.ndim == 2 else '?'} coordinates"
        )
    return np.ascontiguousarray(positions, dtype="<f4")


def encode_skeleton(
    positions: npt.NDArray[Any],
    edges: npt.NDArray[Any],
    attributes: dict[str, npt.NDArray[Any]],
    served: list[tuple[str, np.dtype[Any], int]],
) -> bytes:
    """One precomputed skeleton: counts, positions, edges, then each served attribute."""
    pos = _three_d(positions, "skeleton")
    n = len(pos)
    links = np.ascontiguousarray(np.asarray(edges).reshape(-1, 2), dtype="<u4")
    parts = [
        np.array([n, len(links)], "<u4").tobytes(),
        pos.tobytes(),
        links.tobytes(),
    ]
    for name, dtype, components in served:
        values = np.asarray(attributes[name]).reshape(n, components)
        parts.append(np.ascontiguousarray(values, dtype=dtype).tobytes())
    return b"".join(parts)


def encode_fragment(
    vertices: npt.NDArray[Any], faces: npt.NDArray[Any], scale: tuple[float, ...] = (1.0,) * 3
) -> bytes:
    """One legacy mesh fragment: vertex count, positions (times ``scale``: nanometres),
    triangles (quads split in two)."""
    from zarr_vectors.types.meshes import triangulate

    pos = _three_d(vertices, "mesh")
    if any(s != 1.0 for s in scale):
        pos = np.ascontiguousarray(pos * np.asarray(scale), dtype="<f4")
    faces = np.asarray(faces, np.int64)
    triangles = triangulate(faces) if faces.size else np.zeros((0, 3), np.int64)
    return b"".join(
        [
            np.array([len(pos)], "<u4").tobytes(),
            pos.tobytes(),
            np.ascontiguousarray(triangles, dtype="<u4").tobytes(),
        ]
    )


def _nanometres(state: StoreState) -> tuple[float, ...]:
    """Nanometres per stored unit of the first three axes (objects are 3-D)."""
    return (tuple(nanometres_per_unit(state.index.dimensions)) + (1.0,) * 3)[:3]


def _check_id(object_id: int, what: str) -> None:
    """Object ids are stored as int64: a larger number names no object."""
    if not 0 <= object_id < 2**63:
        raise NotFound(f"no {what} has id {object_id}")


class ObjectSource:
    """The skeleton and mesh answers of one :class:`AnnotationSource`'s store."""

    def __init__(self, source: AnnotationSource) -> None:
        self.source = source

    async def _state(self, kinds: tuple[str, ...], what: str) -> StoreState:
        state = await self.source.state()
        kind = geometry_kind(state)
        if kind not in kinds:
            raise NotFound(f"this store holds {kind} geometry, not {what}")
        return state

    async def skeleton_info(self) -> dict[str, Any]:
        """The ``/skeletons/info`` document."""
        state = await self._state(SKELETON_KINDS, "skeletons")
        sx, sy, sz = _nanometres(state)
        return {
            "@type": "neuroglancer_skeletons",
            # stored units -> nanometres, 3x4 row-major
            "transform": [sx, 0.0, 0.0, 0.0, 0.0, sy, 0.0, 0.0, 0.0, 0.0, sz, 0.0],
            "vertex_attributes": [
                {"id": name, "data_type": dtype.name, "num_components": components}
                for name, dtype, components in skeleton_attributes(state)
            ],
        }

    async def mesh_info(self) -> dict[str, Any]:
        """The ``/meshes/info`` document."""
        await self._state(("mesh",), "meshes")
        return {"@type": "neuroglancer_legacy_mesh"}

    async def skeleton(self, object_id: int) -> bytes:
        """The encoded skeleton of one object."""
        _check_id(object_id, "skeleton")
        state = await self._state(SKELETON_KINDS, "skeletons")
        served = skeleton_attributes(state)

        def read() -> bytes:
            from zarr_vectors.types.graphs import read_graph

            graph = read_graph(self.source.backend, object_ids=[object_id])
            if len(graph.positions) == 0:
                raise NotFound(f"no skeleton has id {object_id}")
            return encode_skeleton(graph.positions, graph.edges, graph.vertex_attributes, served)

        key = (state.token, "skeleton", object_id)
        result: bytes = await self.source.cache.get(key, lambda: self.source._run(read))
        return result

    async def mesh_manifest(self, object_id: int) -> dict[str, Any]:
        """The ``ID:0`` manifest: one fragment holding the whole object."""
        await self.mesh_fragment(object_id)  # an unknown id is a 404 here already
        return {"fragments": [f"{object_id}.frag"]}

    async def mesh_fragment(self, object_id: int) -> bytes:
        """The encoded mesh of one object (its single fragment)."""
        _check_id(object_id, "mesh")
        state = await self._state(("mesh",), "meshes")
        scale = _nanometres(state)

        def read() -> bytes:
            from zarr_vectors.types.meshes import read_mesh

            mesh = read_mesh(self.source.backend, object_ids=[object_id])
            if len(mesh.vertices) == 0:
                raise NotFound(f"no mesh has id {object_id}")
            return encode_fragment(mesh.vertices, mesh.faces, scale)

        key = (state.token, "mesh", object_id)
        result: bytes = await self.source.cache.get(key, lambda: self.source._run(read))
        return result
