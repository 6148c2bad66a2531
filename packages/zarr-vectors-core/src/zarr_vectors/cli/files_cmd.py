"""``zarr-vectors write FILE URL`` and ``zarr-vectors read URL -o FILE``: geometry files.

The geometry is chosen by the file's suffix on the way in (:data:`WRITERS`)
and by the store's geometry type on the way out (:data:`READERS`); each
entry is one geometry's pair of functions, so another geometry (curves,
skeletons) adds its suffixes and store types here without touching the rest.
No ``--chunk-shape`` is needed: by default the cells are cubes of a quarter
of the data's largest extent (:func:`default_chunk_shape`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from zarr_vectors.cli import curve_files
from zarr_vectors.cli._args import BoxType, ChunkShapeType
from zarr_vectors.cli._chunks import chosen_chunk_shape, default_chunk_shape, in_cells
from zarr_vectors.cli._errors import InputError, handle_errors
from zarr_vectors.cli.points_cmd import backend_options, store_kwargs
from zarr_vectors.storage.secrets import redact_url

__all__ = ["READERS", "WRITERS", "default_chunk_shape", "read_cmd", "write_cmd"]


def _write_mesh_file(path: Path, url: str, opts: dict[str, Any], kwargs: dict[str, Any]) -> str:
    import numpy as np

    from zarr_vectors.io.mesh_files import read_mesh_file
    from zarr_vectors.types.meshes import write_mesh

    mesh = read_mesh_file(path)
    chunk = chosen_chunk_shape(opts, mesh.vertices)
    s = write_mesh(
        url,
        mesh.vertices.astype(np.float32),
        mesh.faces,
        chunk_shape=chunk,
        vertex_attributes=mesh.vertex_attributes,
        encoding=opts["encoding"],
        draco_quantization_bits=opts["bits"],
        mode=opts["mode"],
        object_ids=None if opts["object_id"] is None else [opts["object_id"]] * len(mesh.vertices),
        **kwargs,
    )
    return (
        f"Wrote a mesh of {s.vertex_count:,} vertices and {s.face_count:,} faces ({s.encoding})"
        f"{in_cells(chunk)} into {s.chunk_count:,} cells"
    )


def _read_mesh_file(url: str, out: Path, opts: dict[str, Any], kwargs: dict[str, Any]) -> str:
    from zarr_vectors.io.mesh_files import write_mesh_file
    from zarr_vectors.types.meshes import read_mesh

    mesh = read_mesh(url, bbox=opts["bbox"], object_ids=opts["object_ids"], **kwargs)
    if not mesh.face_count:
        raise InputError(f"{redact_url(url)}: no faces to write (nothing matched)")
    for note in write_mesh_file(out, mesh.vertices, mesh.faces, mesh.vertex_attributes):
        click.echo(f"Note: {note}", err=True)
    return (
        f"Read {mesh.face_count:,} faces and {mesh.vertex_count:,} vertices of "
        f"{len(mesh.objects):,} object(s)"
    )


#: file suffix -> what writes such a file into a store.
WRITERS: dict[str, Callable[[Path, str, dict[str, Any], dict[str, Any]], str]] = {
    **{s: _write_mesh_file for s in (".ply", ".obj", ".stl", ".off", ".glb", ".gltf")},
    ".trk": curve_files.write_tract_file,
    ".tck": curve_files.write_tract_file,
    ".trx": curve_files.write_tract_file,
    ".swc": curve_files.write_swc_file,
    ".graphml": curve_files.write_graphml_file,
}
#: store geometry type -> (what writes it to a file, the suffixes it can write).
READERS: dict[
    str, tuple[Callable[[str, Path, dict[str, Any], dict[str, Any]], str], tuple[str, ...]]
] = {
    "mesh": (_read_mesh_file, (".ply", ".obj", ".stl", ".off", ".glb")),
    "streamline": (curve_files.read_tract_file, (".trk", ".tck", ".trx")),
    "polyline": (curve_files.read_tract_file, (".trk", ".tck", ".trx")),
    "skeleton": (curve_files.read_skeleton_file, (".swc", ".graphml")),
    "graph": (curve_files.read_graphml_file, (".graphml",)),
}


@click.command("write")
@click.argument("input_path", metavar="FILE", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("url")
@click.option(
    "-c",
    "--chunk-shape",
    type=ChunkShapeType(),
    default=None,
    help="Cell size per axis (e.g. 50 or 50,50,20); default: cubes of 1/4 of the data's extent.",
)
@click.option("--encoding", type=click.Choice(["raw", "draco"]), default="raw", show_default=True)
@click.option(
    "--draco-bits",
    "bits",
    type=click.IntRange(1, 30),
    default=11,
    show_default=True,
    help="Quantization bits per axis of a cell (encoding draco).",
)
@click.option("--object-id", type=int, default=None, help="Object id of what the file holds.")
@click.option(
    "--mode",
    type=click.Choice(["w-", "w", "a"]),
    default="w-",
    show_default=True,
    help="w- create, w replace, a append whole objects (give a new --object-id).",
)
@backend_options
@handle_errors
def write_cmd(
    input_path: Path,
    url: str,
    chunk_shape: tuple[float, ...] | None,
    encoding: str,
    bits: int,
    object_id: int | None,
    mode: str,
    backend: str | None,
    options: tuple[str, ...],
) -> None:
    """Write a geometry file into a store at URL.

    Meshes: .ply .obj .stl .off .glb; streamlines: .trk .tck .trx; skeletons: .swc;
    graphs: .graphml.
    """
    writer = WRITERS.get(input_path.suffix.lower())
    if writer is None:
        raise InputError(
            f"{input_path}: unknown file type {input_path.suffix!r}; this command writes "
            f"{', '.join(sorted(WRITERS))} (points: zarr-vectors write-points)"
        )
    if not input_path.is_file():
        raise InputError(f"{input_path}: no such file")
    kwargs = store_kwargs(url, backend, options)
    opts = {
        "chunk_shape": chunk_shape,
        "encoding": encoding,
        "bits": bits,
        "object_id": object_id,
        "mode": mode,
    }
    start = time.perf_counter()
    said = writer(input_path, url, opts, kwargs)
    click.echo(f"{said} in {time.perf_counter() - start:.2f} s: {redact_url(url)}.")


@click.command("read")
@click.argument("url")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Output file; its suffix chooses the format (mesh: .ply .obj .stl .off .glb; "
    "streamlines: .trk .tck .trx; skeleton: .swc or .graphml; graph: .graphml).",
)
@click.option("--bbox", type=BoxType(), default=None, help="Only what meets this box.")
@click.option("--object-id", "object_ids", type=int, multiple=True, help="Object id (repeatable).")
@backend_options
@handle_errors
def read_cmd(
    url: str,
    output: Path,
    bbox: tuple[tuple[float, ...], tuple[float, ...]] | None,
    object_ids: tuple[int, ...],
    backend: str | None,
    options: tuple[str, ...],
) -> None:
    """Read the geometry of a store at URL into a file."""
    from zarr_vectors.format.snapshot import load_snapshot
    from zarr_vectors.store.location import StoreLocation

    kwargs = store_kwargs(url, backend, options)
    if not output.parent.is_dir():
        raise InputError(f"{output}: the directory {output.parent} does not exist")
    extra = {k: v for k, v in kwargs.items() if k != "backend"}
    loc = StoreLocation.of(url, backend=backend, backend_kwargs=extra, caller=read_cmd)
    with loc.open("r") as source:
        kinds = list(load_snapshot(source).meta.geometry_types)
    kind = kinds[0] if kinds else "point_cloud"
    if kind not in READERS:
        hint = " (points: zarr-vectors read-points)" if kind in ("point_cloud", "points") else ""
        raise InputError(
            f"{redact_url(url)} holds {kind}; this command reads {sorted(READERS)}{hint}"
        )
    reader, suffixes = READERS[kind]
    if output.suffix.lower() not in suffixes:
        raise InputError(f"{output}: a {kind} is written as {', '.join(suffixes)}")
    opts = {"bbox": bbox, "object_ids": list(object_ids) or None}
    start = time.perf_counter()
    said = reader(url, output, opts, kwargs)
    click.echo(f"{said} in {time.perf_counter() - start:.2f} s; saved to {output}.")
