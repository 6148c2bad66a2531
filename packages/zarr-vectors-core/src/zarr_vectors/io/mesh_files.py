"""Mesh files (PLY, OBJ, STL, OFF, glTF/GLB) read and written through trimesh.

Why trimesh and not meshio: these are surface-mesh formats, and trimesh
reads and writes all of them with what surface meshes carry (per-vertex
colours, normals, glTF scenes) and is the library ``Mesh.to_trimesh()``
returns to; meshio's strength is volume meshes (VTK, Gmsh, XDMF), and it
drops PLY colours. One dependency, in the ``io`` extra.

Each format is described once in :data:`FORMATS` (suffixes, trimesh's file
type, whether vertex colours and normals survive the trip through it; glTF's
normals do not come back through trimesh's scene reading); the choice by suffix is
:func:`mesh_format`. Files come in as triangles (trimesh splits quads) with
vertex colours as the ``colour`` attribute (``uint8``, RGBA) and normals as
``normal`` (``float32``) where the file has them; they go out the same way,
and an attribute the format cannot hold is named in the returned notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors._extras import require
from zarr_vectors.exceptions import ValidationError
from zarr_vectors.io.common import unreadable

__all__ = ["FORMATS", "MeshFile", "MeshFormat", "mesh_format", "read_mesh_file", "write_mesh_file"]

COLOUR = "colour"
NORMAL = "normal"


@dataclass(frozen=True)
class MeshFormat:
    """A mesh file format as trimesh reads and writes it."""

    name: str
    suffixes: tuple[str, ...]
    file_type: str
    colours: bool
    normals: bool


FORMATS: tuple[MeshFormat, ...] = (
    MeshFormat("PLY", (".ply",), "ply", colours=True, normals=True),
    MeshFormat("OBJ", (".obj",), "obj", colours=True, normals=True),
    MeshFormat("STL", (".stl",), "stl", colours=False, normals=False),
    MeshFormat("OFF", (".off",), "off", colours=False, normals=False),
    MeshFormat("glTF", (".glb", ".gltf"), "glb", colours=True, normals=False),
)


def mesh_format(path: str | Path) -> MeshFormat:
    """The format of ``path`` by its suffix; a ValidationError naming those known."""
    suffix = Path(str(path)).suffix.lower()
    for fmt in FORMATS:
        if suffix in fmt.suffixes:
            return fmt
    known = ", ".join(s for f in FORMATS for s in f.suffixes)
    raise ValidationError(f"{path}: not a mesh file this library reads ({known})")


@dataclass
class MeshFile:
    """A mesh as read from a file: vertices, triangles and per-vertex attributes."""

    vertices: npt.NDArray[np.float64]
    faces: npt.NDArray[np.int64]
    vertex_attributes: dict[str, npt.NDArray[Any]]


def _trimesh() -> Any:
    return require("trimesh", feature="mesh files", extra="io")


def read_mesh_file(path: str | Path) -> MeshFile:
    """Vertices, faces, colours and normals of the mesh file at ``path`` (scenes merged)."""
    fmt = mesh_format(path)
    trimesh = _trimesh()
    if not Path(path).is_file():
        raise ValidationError(f"{path}: no such file")
    with unreadable(path, fmt.name):
        mesh = trimesh.load(str(path), file_type=fmt.file_type, process=False)
        if isinstance(mesh, trimesh.Scene):  # several parts (glTF, OBJ groups): one mesh
            parts = [g for g in mesh.dump() if isinstance(g, trimesh.Trimesh)]
            mesh = trimesh.util.concatenate(parts) if parts else trimesh.Trimesh()
        if fmt.file_type == "stl":  # STL repeats each face's corners: share them again
            mesh.merge_vertices()
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.faces, dtype=np.int64).reshape(-1, 3)
    if not len(vertices) or not len(faces):
        raise ValidationError(f"{path}: the {fmt.name} file holds no faces")
    if fmt.file_type == "off":
        _check_off_counts(Path(path), len(vertices), len(faces))
    attrs: dict[str, npt.NDArray[Any]] = {}
    visual = getattr(mesh, "visual", None)
    if fmt.colours and visual is not None and getattr(visual, "kind", None) == "vertex":
        attrs[COLOUR] = np.ascontiguousarray(visual.vertex_colors, dtype=np.uint8)
    if fmt.normals and "vertex_normals" in mesh._cache:  # given by the file, not computed
        attrs[NORMAL] = np.ascontiguousarray(mesh.vertex_normals, dtype=np.float32)
    return MeshFile(vertices, faces, attrs)


def _check_off_counts(path: Path, vertices: int, faces: int) -> None:
    """An OFF file's header counts against what trimesh read (it reads a file cut short
    without a word, and its header says how much there should be)."""
    with path.open("rb") as fh:
        head = fh.read(1 << 12).decode("ascii", "replace")
    words = " ".join(line.split("#")[0] for line in head.splitlines()).split()
    if len(words) < 3 or not words[0].endswith("OFF"):
        return
    try:
        promised = int(words[1]), int(words[2])
    except ValueError:
        return
    # polygons of more corners become several triangles, so only fewer is a loss
    if vertices < promised[0] or faces < promised[1]:
        raise ValidationError(
            f"{path}: the OFF header promises {promised[0]:,} vertices and {promised[1]:,} "
            f"faces but the file holds {vertices:,} and {faces:,}; it is cut short or its "
            "header is wrong"
        )


def write_mesh_file(
    path: str | Path,
    vertices: npt.NDArray[Any],
    faces: npt.NDArray[np.int64],
    vertex_attributes: dict[str, npt.NDArray[Any]] | None = None,
) -> list[str]:
    """Write a mesh file (quads split into triangles); notes on what the format dropped."""
    fmt = mesh_format(path)
    trimesh = _trimesh()
    if np.asarray(vertices).shape[1:] != (3,):
        raise ValidationError(f"{fmt.name} files hold 3-D meshes; this one has other axes")
    from zarr_vectors.types.meshes import triangulate

    attrs = dict(vertex_attributes or {})
    notes = []
    kwargs: dict[str, Any] = {}
    colour = attrs.pop(COLOUR, None)
    normal = attrs.pop(NORMAL, None)
    if colour is not None and fmt.colours:
        kwargs["vertex_colors"] = np.asarray(colour)
    elif colour is not None:
        notes.append(f"{fmt.name} holds no vertex colours: '{COLOUR}' left out")
    if normal is not None and fmt.normals:
        kwargs["vertex_normals"] = np.asarray(normal, dtype=np.float64)
    elif normal is not None:
        notes.append(f"{fmt.name} holds no vertex normals: '{NORMAL}' left out")
    if attrs:
        notes.append(f"{fmt.name}: vertex attributes {sorted(attrs)} are not written")
    mesh = trimesh.Trimesh(
        vertices=np.asarray(vertices, dtype=np.float64),
        faces=triangulate(np.asarray(faces, dtype=np.int64)),
        process=False,
        **kwargs,
    )
    extra = {"include_normals": True} if fmt.file_type == "obj" and normal is not None else {}
    data = mesh.export(file_type=fmt.file_type, **extra)
    Path(path).write_bytes(data if isinstance(data, bytes) else str(data).encode())
    return notes
