"""Serving a store to Neuroglancer (``zarr-vectors serve`` / ``zarr-vectors view``).

:func:`open_source` resolves a store (path, URL or backend, as everywhere
else) into an :class:`AnnotationSource`; :class:`ServerThread` serves one in
the background and :func:`run_server` in the foreground; :func:`view` opens a
Neuroglancer viewer on it (``pip install "zarr-vectors-core[neuroglancer]"``).
The user guide is ``docs/serving.md``.
"""

from __future__ import annotations

from zarr_vectors._extras import require

require("aiohttp", feature="serving a store (zarr-vectors serve)", extra="serve")

from zarr_vectors.serve.app import ServerThread, make_app, run_server  # noqa: E402 (after the check)
from zarr_vectors.serve.source import AnnotationSource, open_source  # noqa: E402 (after the check)
from zarr_vectors.serve.viewer import ViewerSession, view  # noqa: E402 (after the check)

__all__ = [
    "AnnotationSource",
    "ServerThread",
    "ViewerSession",
    "make_app",
    "open_source",
    "run_server",
    "view",
]
