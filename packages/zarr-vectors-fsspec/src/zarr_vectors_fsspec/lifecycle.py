"""Closing an fsspec backend's clients: on close, when dropped unclosed, and at exit.

Also the small constructors of file systems the backend uses (the class for a
protocol, the async wrapper of a sync file system).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import inspect
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from zarr_vectors.exceptions import PluginError, StoreError
from zarr_vectors.storage.runner import get_loop
from zarr_vectors_fsspec.options import install_hint

if TYPE_CHECKING:
    from zarr_vectors_fsspec.backend import FsspecBackend


async def _close_clients(fs: Any, given_credential: bool, timeout: float) -> None:
    """Close the HTTP clients a private file-system instance opened (best effort, bounded).

    A connection that fails to close dies with the process anyway. ``fs`` is None
    for the caller's own file system, which is left open.
    """
    if fs is None:
        return
    with contextlib.suppress(Exception):
        async with asyncio.timeout(timeout):
            creator = getattr(fs, "_s3creator", None)  # s3fs: the client's context manager
            if creator is not None and getattr(fs, "_s3", None) is not None:
                fs._s3 = None
                await creator.__aexit__(None, None, None)
            session = getattr(fs, "_session", None)  # gcsfs, http
            if session is not None and not getattr(session, "closed", True):
                await session.close()
            service = getattr(fs, "service_client", None)  # adlfs
            if service is not None and hasattr(service, "close"):
                await service.close()
            credential = getattr(fs, "credential", None)  # adlfs, when it made one itself
            if credential is not None and not given_credential:
                closed = credential.close() if hasattr(credential, "close") else None
                if inspect.isawaitable(closed):
                    await closed


# -- backends nobody closed -------------------------------------------------------------------
#: Seconds each forgotten backend may take to close at interpreter exit.
_EXIT_CLOSE_TIMEOUT = 5.0
#: Backends still open, closed at exit by :func:`_close_forgotten`.
_OPEN: weakref.WeakSet[FsspecBackend] = weakref.WeakSet()
_exit_hook = False


def _watch(backend: FsspecBackend) -> None:
    global _exit_hook
    if not _exit_hook:
        get_loop()  # the runner registers its exit hook first, so ours runs before it
        atexit.register(_close_forgotten)
        _exit_hook = True
    _OPEN.add(backend)


def _close_forgotten() -> None:
    """At interpreter exit, close the backends nobody closed, while the I/O loop still runs.

    An ``asynchronous`` file system registers no finalizer of its own, so a
    forgotten backend would leave its HTTP session to be reported as unclosed.
    Registered after the runner's own exit hook, so it runs first (:mod:`atexit`
    is last-in, first-out).
    """
    loop = get_loop()
    for backend in list(_OPEN):
        future = asyncio.run_coroutine_threadsafe(backend.aclose(), loop)
        with contextlib.suppress(Exception):
            future.result(_EXIT_CLOSE_TIMEOUT)


def _close_dropped(fs: Any, given_credential: bool, loop: asyncio.AbstractEventLoop) -> None:
    """Finalizer of a backend garbage-collected unclosed: close its clients, without waiting."""
    if loop.is_running():
        coro = _close_clients(fs, given_credential, _EXIT_CLOSE_TIMEOUT)
        asyncio.run_coroutine_threadsafe(coro, loop)


def _detach_finalizers(fs: Any) -> None:
    """Drop the exit-time finalizers a file system registered on itself at construction.

    adlfs registers ``sync(fs.loop, close...)`` finalizers, and an ``asynchronous``
    file system has no loop, so at exit each one fails with "Loop is not running"
    (fsspec/adlfs issue 495). This backend closes the clients itself, on the loop
    they were made on (:meth:`FsspecBackend._aclose`).
    """
    registry: Mapping[Any, Any] = getattr(weakref.finalize, "_registry", {})
    for finalizer in list(registry):
        held = finalizer.peek()
        if held is not None and held[0] is fs:
            finalizer.detach()


def _copies_on_server(fs: Any) -> bool:
    """Whether an async file system has a ``_cp_file`` of its own (fsspec's only raises)."""
    from fsspec.asyn import AsyncFileSystem  # type: ignore[import-untyped]

    return getattr(type(fs), "_cp_file", None) is not AsyncFileSystem._cp_file


def _wrapped(fs: Any) -> Any:
    """A sync file system behind fsspec's async wrapper (each call on a worker thread)."""
    from fsspec.implementations.asyn_wrapper import (  # type: ignore[import-untyped]
        AsyncFileSystemWrapper,
    )

    return AsyncFileSystemWrapper(fs, asynchronous=True)


def _fs_class(protocol: str, url: str) -> Any:
    """The fsspec file-system class for ``protocol`` (``url`` is redacted, for messages)."""
    import fsspec  # type: ignore[import-untyped]

    try:
        return fsspec.get_filesystem_class(protocol)
    except ValueError:
        raise StoreError(
            f"fsspec knows no protocol {protocol!r} (for {url}); install the package that "
            f"registers {protocol}:// with fsspec, or drop backend='fsspec' so that "
            "the backend installed for the scheme serves it (zarr-vectors backends lists them)."
        ) from None
    except ImportError as exc:
        raise PluginError(
            f"fsspec's {protocol}:// file system is not installed (for {url}); "
            f"{install_hint(protocol, str(exc))}."
        ) from None
