"""zarr_vectors_fsspec.lifecycle: closing a backend's clients, and making its file systems.

The clients are stand-ins that record being closed (what each library keeps
where is :func:`_close_clients`' knowledge); the real s3fs session is closed in
``test_s3_sessions_are_closed_on_their_loop``, against SeaweedFS.
"""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import fsspec  # type: ignore[import-untyped]
import pytest

from zarr_vectors.exceptions import PluginError, StoreError
from zarr_vectors.storage import make_backend
from zarr_vectors_fsspec.backend import FsspecBackend
from zarr_vectors_fsspec.lifecycle import (
    _close_clients,
    _copies_on_server,
    _detach_finalizers,
    _fs_class,
    _wrapped,
)


class _Closable:
    def __init__(self, log: list[str], name: str, *, awaitable: bool = True) -> None:
        self.log, self.name, self.awaitable, self.closed = log, name, awaitable, False

    def close(self) -> Any:
        self.log.append(self.name)
        self.closed = True
        if self.awaitable:
            return asyncio.sleep(0)
        return None

    async def __aexit__(self, *exc: object) -> None:
        self.log.append(self.name)


class _Fs:
    """Holds what s3fs, gcsfs/http and adlfs hold, all at once."""

    def __init__(self, log: list[str], credential: _Closable | None = None) -> None:
        self._s3creator = _Closable(log, "s3")
        self._s3: object | None = object()
        self._session = _Closable(log, "session")
        self.service_client = _Closable(log, "service")
        self.credential = credential


def test_every_client_is_closed_but_a_given_credential() -> None:
    log: list[str] = []
    fs = _Fs(log, _Closable(log, "credential", awaitable=False))
    asyncio.run(_close_clients(fs, False, 5))
    assert log == ["s3", "session", "service", "credential"] and fs._s3 is None
    log.clear()
    asyncio.run(_close_clients(_Fs(log, _Closable(log, "credential")), True, 5))
    assert log == ["s3", "session", "service"]  # the caller's credential stays open
    asyncio.run(_close_clients(None, False, 5))  # the caller's own file system: nothing


def test_closing_is_best_effort() -> None:
    log: list[str] = []
    fs = _Fs(log)
    fs._session.closed = True  # already closed: not closed again

    class _Broken:
        async def close(self) -> None:
            raise OSError("gone")

    fs.service_client = _Broken()  # type: ignore[assignment]
    asyncio.run(_close_clients(fs, False, 5))  # no error comes out
    assert log == ["s3"]


def test_finalizers_the_file_system_set_on_itself_are_detached() -> None:
    class _Thing:
        pass

    mine, other = _Thing(), _Thing()
    on_mine = [weakref.finalize(mine, print, "a"), weakref.finalize(mine, print, "b")]
    on_other = weakref.finalize(other, print, "other")
    _detach_finalizers(mine)
    assert not any(f.alive for f in on_mine)
    assert on_other.alive  # another object's are left alone
    on_other.detach()


def test_file_system_classes_and_wrappers() -> None:
    memory = fsspec.filesystem("memory")
    wrapped = _wrapped(memory)
    assert wrapped.asynchronous and wrapped.sync_fs is memory
    from fsspec.asyn import AsyncFileSystem  # type: ignore[import-untyped]

    class _Copies(AsyncFileSystem):  # type: ignore[misc]
        async def _cp_file(self, path1: str, path2: str, **kwargs: Any) -> None: ...

    assert _copies_on_server(_Copies()) and not _copies_on_server(AsyncFileSystem())
    assert _fs_class("memory", "memory://x") is type(memory)
    with pytest.raises(StoreError, match=r"no protocol 'nosuchproto' \(for nosuchproto://x\)"):
        _fs_class("nosuchproto", "nosuchproto://x")


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: FsspecBackend("dropbox://x/y"), ["dropbox://", '"dropboxdrivefs"']),
        (lambda: make_backend("sftp://host/y", backend="fsspec"), ["sftp://", '"paramiko"']),
    ],
    ids=["dropbox", "sftp"],
)
def test_fsspec_protocol_whose_package_is_missing(
    make: Callable[[], Any], words: list[str]
) -> None:
    pytest.importorskip("fsspec")
    for module in ("dropboxdrivefs", "paramiko"):
        try:
            __import__(module)
        except ImportError:
            continue
        pytest.skip(f"{module} is installed here")
    with pytest.raises(PluginError) as info:
        make()
    message = str(info.value)
    assert "\n" not in message and "not installed" in message
    for word in words:
        assert word in message


@pytest.mark.servers
def test_s3_sessions_are_closed_on_their_loop(s3_server: Any, s3_bucket: str) -> None:
    """close() closes s3fs's aiohttp session on the loop it was made on; so does dropping
    a backend unclosed. Nothing is reported unclosed.
    """

    def used_backend() -> FsspecBackend:
        backend = FsspecBackend(f"s3://{s3_bucket}/c", **s3_server.backend_options("fsspec"))
        backend.put_bytes("k", b"1")
        assert asyncio.run(backend.aget_bytes("k")) == b"1"
        return backend

    gc.collect()  # backends other tests forgot are not this test's business
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        closed = used_backend()
        closed.close()
        assert closed.closed and closed.fs._s3 is None
        dropped = used_backend()
        fs = dropped.fs
        del closed, dropped  # the second one's finalizer schedules the close on the loop
        deadline = time.monotonic() + 10
        while fs._s3 is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fs._s3 is None
        del fs
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
