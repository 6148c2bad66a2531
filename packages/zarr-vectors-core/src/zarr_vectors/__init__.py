"""zarr-vectors: vector geometry (point clouds, lines, meshes) in Zarr v3 stores.

The everyday functions are here::

    import zarr_vectors as zv

    zv.write_points("cloud.zarrvectors", positions, chunk_shape=(200.0,) * 3)
    cloud = zv.read_points("cloud.zarrvectors", bbox=((0, 0, 0), (500, 500, 500)))
    with zv.open_zv("cloud.zarrvectors") as store: ...
    group = zv.open_store("cloud.zarrvectors")          # zarr-python view
    group = zv.create_store("empty.zarrvectors", bounds=..., chunk_shape=...)

Importing this package stays cheap: it imports neither zarr, numpy nor any
backend plugin. Those names are looked up on first use (a module
``__getattr__``), which imports the module that defines them; backend
libraries load only when a backend is made.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from zarr_vectors._version import __version__

if TYPE_CHECKING:  # the real names, for type checkers and editors
    from zarr_vectors.lazy import ZVStore, open_zv
    from zarr_vectors.store import create_store, open_store
    from zarr_vectors.types.graphs import Graph, read_graph, write_graph
    from zarr_vectors.types.lines import Lines, read_lines, write_lines
    from zarr_vectors.types.meshes import Mesh, read_mesh, write_mesh
    from zarr_vectors.types.points import PointCloud, WriteSummary, read_points, write_points
    from zarr_vectors.types.polylines import Polylines, read_polylines, write_polylines

#: public name -> the module that defines it (imported on first use).
_LAZY: dict[str, str] = {
    "write_points": "zarr_vectors.types.points",
    "read_points": "zarr_vectors.types.points",
    "PointCloud": "zarr_vectors.types.points",
    "WriteSummary": "zarr_vectors.types.points",
    "write_lines": "zarr_vectors.types.lines",
    "read_lines": "zarr_vectors.types.lines",
    "Lines": "zarr_vectors.types.lines",
    "write_polylines": "zarr_vectors.types.polylines",
    "read_polylines": "zarr_vectors.types.polylines",
    "Polylines": "zarr_vectors.types.polylines",
    "write_graph": "zarr_vectors.types.graphs",
    "read_graph": "zarr_vectors.types.graphs",
    "Graph": "zarr_vectors.types.graphs",
    "write_mesh": "zarr_vectors.types.meshes",
    "read_mesh": "zarr_vectors.types.meshes",
    "Mesh": "zarr_vectors.types.meshes",
    "open_zv": "zarr_vectors.lazy",
    "ZVStore": "zarr_vectors.lazy",
    "open_store": "zarr_vectors.store.api",
    "create_store": "zarr_vectors.store.api",
}

__all__ = [
    "Graph",
    "Lines",
    "Mesh",
    "PointCloud",
    "Polylines",
    "WriteSummary",
    "ZVStore",
    "__version__",
    "create_store",
    "open_store",
    "open_zv",
    "read_graph",
    "read_lines",
    "read_mesh",
    "read_points",
    "read_polylines",
    "write_graph",
    "write_lines",
    "write_mesh",
    "write_points",
    "write_polylines",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'zarr_vectors' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
