"""The HTTP server: aiohttp routes over an :class:`~zarr_vectors.serve.source.AnnotationSource`.

aiohttp is the server because it is asynchronous (a browser opens many chunk
requests at once, and waiting on storage must not hold a thread each), well
kept (aio-libs, releases every few months, typed), already installed wherever
fsspec's HTTP file system is, and small: no framework or ASGI server on top.

URLs are not paths into the store: only ``/info``, ``/spatialN/I_J_K`` and
``/by_id/ID`` (digits only) are routed, each answered from the spatial index,
plus, for stores of skeletons or meshes, ``/skeletons/info``,
``/skeletons/ID``, ``/meshes/info``, ``/meshes/ID:0`` and ``/meshes/ID.frag``
(:mod:`zarr_vectors.serve.objects`), answered by reading that object by id,
so no request can name a key, let alone one outside the store. Every answer
carries ``Access-Control-Allow-Origin: *`` (the data is served read-only to
whoever can reach the port; a Neuroglancer hosted elsewhere must be allowed to
read it). Error answers say what was wrong (a missing or corrupt cell is named
by its key) with the backend's secrets scrubbed, and the server keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from zarr_vectors.exceptions import ZarrVectorsError
from zarr_vectors.serve.objects import ObjectSource
from zarr_vectors.serve.source import AnnotationSource, NotFound

__all__ = ["ServerThread", "client_url", "how_to_stop", "make_app", "run_server"]

log = logging.getLogger("zarr_vectors.serve")

SOURCE_KEY: web.AppKey[AnnotationSource] = web.AppKey("source", AnnotationSource)

_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "*",
    "Access-Control-Max-Age": "86400",
}
_COORDS = r"[0-9]{1,19}(_[0-9]{1,19}){0,7}"


def _redact(source: AnnotationSource, text: str) -> str:
    redact = getattr(source.backend, "redact", None)
    return str(redact(text)) if callable(redact) else text


@web.middleware
async def _cors_and_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    source = request.app[SOURCE_KEY]
    try:
        if request.method == "OPTIONS":
            response: web.StreamResponse = web.Response(status=204)
        else:
            response = await handler(request)
    except web.HTTPException as exc:
        response = web.Response(status=exc.status, text=exc.text or exc.reason)
    except NotFound as exc:
        response = web.Response(status=404, text=str(exc))
    except ZarrVectorsError as exc:
        message = _redact(source, f"{type(exc).__name__}: {exc}")
        log.error("%s %s: %s", request.method, request.path, message)
        response = web.Response(status=500, text=message)
    except Exception as exc:  # a bug: answered, logged, and the server goes on
        message = _redact(source, f"{type(exc).__name__}: {exc}")
        log.error("%s %s: internal error %s", request.method, request.path, message)
        response = web.Response(status=500, text=f"internal error ({type(exc).__name__})")
    response.headers.update(_CORS)
    response.headers.setdefault("Cache-Control", "no-cache")
    return response


async def _info(request: web.Request) -> web.Response:
    doc = await request.app[SOURCE_KEY].info()
    return web.Response(body=json.dumps(doc).encode(), content_type="application/json")


async def _spatial(request: web.Request) -> web.Response:
    key = f"spatial{request.match_info['level']}"
    chunk = tuple(int(c) for c in request.match_info["chunk"].split("_"))
    body = await request.app[SOURCE_KEY].spatial(key, chunk)
    return web.Response(body=body, content_type="application/octet-stream")


async def _by_id(request: web.Request) -> web.Response:
    body = await request.app[SOURCE_KEY].by_id(int(request.match_info["id"]))
    return web.Response(body=body, content_type="application/octet-stream")


def _json(doc: Any) -> web.Response:
    return web.Response(body=json.dumps(doc).encode(), content_type="application/json")


def _objects(request: web.Request) -> tuple[ObjectSource, int]:
    return ObjectSource(request.app[SOURCE_KEY]), int(request.match_info.get("id", "0"))


async def _skeleton_info(request: web.Request) -> web.Response:
    return _json(await _objects(request)[0].skeleton_info())


async def _skeleton(request: web.Request) -> web.Response:
    objects, object_id = _objects(request)
    body = await objects.skeleton(object_id)
    return web.Response(body=body, content_type="application/octet-stream")


async def _mesh_info(request: web.Request) -> web.Response:
    return _json(await _objects(request)[0].mesh_info())


async def _mesh_manifest(request: web.Request) -> web.Response:
    objects, object_id = _objects(request)
    return _json(await objects.mesh_manifest(object_id))


async def _mesh_fragment(request: web.Request) -> web.Response:
    objects, object_id = _objects(request)
    body = await objects.mesh_fragment(object_id)
    return web.Response(body=body, content_type="application/octet-stream")


async def _root(request: web.Request) -> web.Response:
    host = request.host
    return web.Response(
        text=(
            "A Zarr Vectors store served as a Neuroglancer precomputed annotation source.\n"
            f"In Neuroglancer, add a layer with the source precomputed://http://{host}\n"
        )
    )


def make_app(source: AnnotationSource) -> web.Application:
    """The aiohttp application serving ``source`` (closed with the application)."""
    app = web.Application(middlewares=[_cors_and_errors])
    app[SOURCE_KEY] = source
    app.router.add_get("/", _root)
    app.router.add_get("/info", _info)
    app.router.add_get(r"/spatial{level:[0-9]{1,3}}/{chunk:" + _COORDS + "}", _spatial)
    app.router.add_get("/by_id/{id:[0-9]{1,20}}", _by_id)
    app.router.add_get("/skeletons/info", _skeleton_info)
    app.router.add_get("/skeletons/{id:[0-9]{1,19}}", _skeleton)
    app.router.add_get("/meshes/info", _mesh_info)
    app.router.add_get("/meshes/{id:[0-9]{1,19}}:0", _mesh_manifest)
    app.router.add_get("/meshes/{id:[0-9]{1,19}}.frag", _mesh_fragment)

    async def _close(_: web.Application) -> None:
        source.close()

    app.on_cleanup.append(_close)
    return app


#: Addresses that mean "every interface": a server listens there, but no client can
#: be sent there (browsers refuse or misroute ``http://0.0.0.0``).
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def client_url(host: str, port: int) -> str:
    """``http://HOST:PORT`` a client on this machine can open (a wildcard becomes loopback)."""
    host = _WILDCARDS.get(host, host)
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _bound_port(runner: web.AppRunner, asked: int) -> int:
    """The port the runner's site listens on (what ``port=0`` became)."""
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return asked


class ServerThread:
    """A server running on its own event loop in a background thread (tests, ``view``).

    ``port=0`` picks a free port; :attr:`url` is where it listens. Use as a
    context manager, or call :meth:`stop`.
    """

    def __init__(self, source: AnnotationSource, host: str = "127.0.0.1", port: int = 0) -> None:
        self.source = source
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(make_app(source), access_log=None)
        started = threading.Event()
        failure: list[BaseException] = []
        self.port = 0
        self.host = host

        def main() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self._runner.setup())
                site = web.TCPSite(self._runner, host, port)
                self._loop.run_until_complete(site.start())
                self.port = _bound_port(self._runner, port)
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                started.set()
                return
            started.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=main, name="zv-serve-http", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            self._thread.join()
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()
            raise failure[0]

    @property
    def url(self) -> str:
        """Where a client on this machine reaches the server (see :func:`client_url`)."""
        return client_url(self.host, self.port)

    def stop(self) -> None:
        """Stop serving and wait for the thread to finish."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()

    def __enter__(self) -> ServerThread:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def how_to_stop() -> str:
    """The line that says how to stop a server run in the foreground.

    A process started in the background inherits SIGINT ignored (POSIX shells do
    that for ``cmd &``) and Python keeps it so, so Ctrl-C would do nothing there:
    the line then names SIGTERM, which stops it either way.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        return f"Ctrl-C is ignored in this process (started in the background): kill {os.getpid()}"
    return "Press Ctrl-C to stop."


def run_server(
    source: AnnotationSource,
    *,
    host: str = "127.0.0.1",
    port: int = 9000,
    print_: Callable[[str], None] = print,
) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM), printing where (``port=0``: a free port)."""

    async def main() -> None:
        runner = web.AppRunner(make_app(source), access_log=log)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            bound = _bound_port(runner, port)
            shown = f"[{host}]" if ":" in host else host
            url = client_url(host, bound)
            elsewhere = (
                f" (from another machine, this machine's address in place of {_WILDCARDS[host]})"
                if host in _WILDCARDS
                else ""
            )
            stop = asyncio.Event()
            # Before the lines that tell a caller it may now send SIGTERM.
            with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
                asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
            print_(
                f"Serving {source.backend.url} on http://{shown}:{bound}\n"
                f"Neuroglancer layer source: precomputed://{url}{elsewhere}\n"
                f"{how_to_stop()}"
            )
            await stop.wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
