"""Opening a Neuroglancer viewer on a served store (``zarr-vectors view``).

The ``neuroglancer`` Python package (the ``neuroglancer`` extra) bundles
Neuroglancer's web client and serves it, with a viewer state Python controls,
on 127.0.0.1. :func:`view` serves the store in the background
(:class:`~zarr_vectors.serve.app.ServerThread`), opens such a viewer with one
annotation layer whose source is the served store, sets the viewer's
dimensions and units from the store's axes, and centres it on the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zarr_vectors._extras import require
from zarr_vectors.serve.app import ServerThread
from zarr_vectors.serve.source import AnnotationSource, open_source
from zarr_vectors.store.location import StoreLike

__all__ = ["ViewerSession", "view"]


@dataclass
class ViewerSession:
    """A Neuroglancer viewer showing a served store; :meth:`close` stops both."""

    viewer: Any
    server: ServerThread
    source: AnnotationSource

    @property
    def url(self) -> str:
        """The viewer's address (open it in a browser)."""
        return str(self.viewer.get_viewer_url())

    @property
    def layer_source(self) -> str:
        """The layer source another Neuroglancer can add: ``precomputed://http://...``."""
        return f"precomputed://{self.server.url}"

    def close(self) -> None:
        self.server.stop()
        self.source.close()

    def __enter__(self) -> ViewerSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def view(
    store: StoreLike,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    layer: str = "points",
    layout: str = "3d",
    color: str = "#ffff00",
    refresh_interval: float = 1.0,
    storage_options: Mapping[str, Any] | None = None,
    backend: str | None = None,
    **backend_kwargs: Any,
) -> ViewerSession:
    """Serve ``store`` and open a Neuroglancer viewer with its points as layer ``layer``.

    ``host``/``port`` are where the store is served (``port=0``: a free one);
    the viewer itself listens on 127.0.0.1. ``layout`` is Neuroglancer's
    (``"3d"`` shows a whole cloud, ``"xy"`` a slice through it). Returns the
    session: print ``session.url`` and keep the process alive while you look.
    """
    ng = require("neuroglancer", feature="zarr-vectors view", extra="neuroglancer")
    source = open_source(
        store,
        refresh_interval=refresh_interval,
        storage_options=storage_options,
        backend=backend,
        **backend_kwargs,
    )
    try:
        server = ServerThread(source, host=host, port=port)
    except BaseException:
        source.close()
        raise
    try:
        viewer = _open_viewer(ng, source, server.url, layer=layer, layout=layout, color=color)
    except BaseException:
        server.stop()
        source.close()
        raise
    return ViewerSession(viewer=viewer, server=server, source=source)


def _open_viewer(
    ng: Any, source: AnnotationSource, url: str, *, layer: str, layout: str, color: str
) -> Any:
    index = source.read_state().index
    names = list(index.dimensions)
    scales = [float(index.dimensions[n][0]) for n in names]
    units = [str(index.dimensions[n][1]) for n in names]
    lo, hi = index.bounds
    centre = [(a + b) / 2.0 for a, b in zip(lo, hi, strict=True)]
    extent = max((b - a for a, b in zip(lo, hi, strict=True)), default=1.0) or 1.0
    ng.set_server_bind_address("127.0.0.1")
    viewer = ng.Viewer()
    with viewer.txn() as s:
        s.dimensions = ng.CoordinateSpace(names=names, units=units, scales=scales)
        s.position = centre
        s.layers[layer] = ng.AnnotationLayer(source=f"precomputed://{url}", annotation_color=color)
        s.layout = layout
        s.projection_scale = extent * 1.5
        s.cross_section_scale = extent / 500.0
    return viewer
