"""``zarr-vectors serve URL`` and ``zarr-vectors view URL``: a store in Neuroglancer.

``serve`` answers Neuroglancer's precomputed annotation requests for the store
(:mod:`zarr_vectors.serve`) until interrupted; ``view`` does the same in the
background and opens the viewer the ``neuroglancer`` package serves, printing
its address. Both read only, and bind 127.0.0.1 unless ``--host`` says otherwise.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

import click

from zarr_vectors.cli._errors import handle_errors
from zarr_vectors.cli.points_cmd import backend_options, store_kwargs

__all__ = ["serve", "view"]

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _host_warning(host: str) -> None:
    if host not in _LOOPBACK:
        click.echo(
            f"Note: listening on {host}: anyone who can reach this port can read the store's "
            "points (read-only, no authentication).",
            err=True,
        )


def _cannot_listen(host: str, port: int, exc: OSError) -> click.ClickException:
    why = exc.strerror or str(exc)
    return click.ClickException(
        f"cannot listen on {host}:{port} ({why}); choose another --port (0 picks a free one)"
    )


def _wait_for_ctrl_c() -> None:
    """Block until Ctrl-C (or, inside :func:`_sigterm_as_ctrl_c`, SIGTERM).

    The kernel may deliver a signal to any thread of the process; Python then
    only notes it, and a main thread asleep in one endless ``Event.wait()`` would
    not run again to raise KeyboardInterrupt. Waking every quarter second rules
    that out.
    """
    never = threading.Event()
    while not never.wait(0.25):
        pass


@contextlib.contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """SIGTERM (what ``kill`` and service managers send) raises KeyboardInterrupt,
    so ``view`` stops and closes as it does on Ctrl-C, and as ``serve`` does."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _describe(source: Any) -> None:
    """What is served: levels, points, objects, and what is not (with why)."""
    state = source.read_state()
    index = state.index
    if index.refused is not None:
        click.echo(f"Not served: points ({index.refused})")
    else:
        levels = ", ".join(f"{lv.key} = level {lv.store_level}" for lv in index.levels)
        click.echo(f"Spatial index: {levels}")
        props = ", ".join(p.id for p in index.properties) or "none"
        click.echo(f"Properties: {props}")
        for name, why in index.skipped.items():
            click.echo(f"Not served: attribute {name!r} ({why})")
    from zarr_vectors.serve.objects import SKELETON_KINDS, geometry_kind

    kind = geometry_kind(state)
    if kind in SKELETON_KINDS:
        click.echo("Skeletons: under /skeletons (add the layer source below + /skeletons)")
    elif kind == "mesh":
        click.echo("Meshes: under /meshes (add the layer source below + /meshes)")


@click.command()
@click.argument("url")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=9000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--refresh",
    default=1.0,
    show_default=True,
    type=float,
    help="Seconds between looks at the store's root for new commits (0: every request).",
)
@click.option(
    "--cache-mb",
    default=64,
    show_default=True,
    type=click.IntRange(min=0),
    help="Memory for encoded chunks kept for later requests.",
)
@backend_options
@handle_errors
def serve(
    url: str,
    host: str,
    port: int,
    refresh: float,
    cache_mb: int,
    backend: str | None,
    options: tuple[str, ...],
) -> None:
    """Serve a store's points to Neuroglancer (layer source precomputed://http://HOST:PORT)."""
    from zarr_vectors._extras import require

    require("aiohttp", feature="zarr-vectors serve", extra="serve")
    from zarr_vectors.serve import open_source, run_server

    source = open_source(
        url,
        refresh_interval=refresh,
        cache_bytes=cache_mb << 20,
        **store_kwargs(url, backend, options),
    )
    try:
        _describe(source)
        _host_warning(host)
        try:
            run_server(source, host=host, port=port, print_=click.echo)
        except OSError as exc:  # the port is taken, or the address is not this machine's
            raise _cannot_listen(host, port, exc) from None
    finally:
        source.close()


@click.command()
@click.argument("url")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", default=0, show_default=True, type=int, help="Port (0: a free one).")
@click.option(
    "--layout",
    default="3d",
    show_default=True,
    type=click.Choice(["3d", "xy", "xz", "yz", "4panel"]),
    help="Neuroglancer's layout: 3d shows the whole cloud, xy/xz/yz a slice.",
)
@click.option("--browser", is_flag=True, help="Also open the viewer in the default browser.")
@backend_options
@handle_errors
def view(
    url: str,
    host: str,
    port: int,
    layout: str,
    browser: bool,
    backend: str | None,
    options: tuple[str, ...],
) -> None:
    """Open a Neuroglancer viewer on a store and print its address (Ctrl-C or SIGTERM stops it)."""
    from zarr_vectors._extras import require

    require("neuroglancer", feature="zarr-vectors view", extra="neuroglancer")
    from zarr_vectors.serve import view as open_view
    from zarr_vectors.serve.app import how_to_stop

    try:
        session = open_view(
            url, host=host, port=port, layout=layout, **store_kwargs(url, backend, options)
        )
    except OSError as exc:
        raise _cannot_listen(host, port, exc) from None
    with _sigterm_as_ctrl_c():  # before the lines that say it may be sent
        try:
            _describe(session.source)
            _host_warning(host)
            click.echo(f"Neuroglancer viewer: {session.url}")
            click.echo(f"Layer source: {session.layer_source}")
            click.echo(how_to_stop())
            if browser:
                import webbrowser

                webbrowser.open(session.url)
            _wait_for_ctrl_c()
        except KeyboardInterrupt:
            pass
        finally:
            session.close()
