"""zarr-vectors: vector geometry (point clouds, lines, meshes) in Zarr v3 stores.

Importing this package is deliberately cheap: it imports neither zarr, numpy nor
any backend plugin. The heavy parts are imported by the modules that need them
(``zarr_vectors.types.points``, ``zarr_vectors.core.store``, ...), and backend
libraries only when a backend is constructed.
"""

from __future__ import annotations

from zarr_vectors._version import __version__

__all__ = ["__version__"]
