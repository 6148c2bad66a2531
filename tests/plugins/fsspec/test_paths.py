"""zarr_vectors_fsspec.paths: keys as file-system paths and back, errors as StoreErrors.

A memory-rooted backend gives the paths their root; the methods are called
directly, so nothing is stored. adlfs's rewriting of names is met for real in
``test_azure_keys_adlfs_would_rewrite_are_refused``, against Azurite.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from zarr_vectors.exceptions import InvalidKeyError, StoreError
from zarr_vectors.storage.local import TEMP_PREFIX
from zarr_vectors_fsspec.backend import FsspecBackend
from zarr_vectors_fsspec.paths import _on_io_loop, _temporary

SECRET = "zv-Paths-Secret-3e8f"


@pytest.fixture
def backend() -> Iterator[FsspecBackend]:
    made = FsspecBackend(f"memory://zv-paths/{uuid.uuid4().hex[:8]}", token=SECRET)
    yield made
    made.close()


def test_temporary_names() -> None:
    assert _temporary(f"{TEMP_PREFIX}x") and _temporary(f"a/{TEMP_PREFIX}x/b")
    assert not _temporary(f"a{TEMP_PREFIX}x") and not _temporary("a/b")


def test_keys_become_paths_under_the_root(backend: FsspecBackend) -> None:
    root = backend._root
    assert backend._path("a/b") == f"{root}/a/b"
    assert backend._dir("a/") == f"{root}/a" and backend._dir("") == root
    with pytest.raises(InvalidKeyError, match="reserved for temporary files"):
        backend._path(f"a/{TEMP_PREFIX}1")


def test_a_key_the_file_system_would_rename_is_refused(backend: FsspecBackend) -> None:
    backend._strip = lambda path: path.rstrip("#")  # as adlfs drops a '#' ending a name
    assert backend._path("a#b") == f"{backend._root}/a#b"
    with pytest.raises(InvalidKeyError, match=r"key 'x#'.*under another name \('x'\)"):
        backend._path("x#")


def test_listed_names_become_keys(backend: FsspecBackend) -> None:
    root = backend._root
    assert backend._key_of(f"memory://{root}/a/b/") == "a/b"
    assert backend._key_of(f"{root}/a") == "a"
    assert backend._key_of(root) is None and backend._key_of(f"{root}x/a") is None
    entries = [
        {"name": f"{root}/p/a", "type": "file"},
        {"name": f"{root}/p/d/", "type": "directory"},
        {"name": f"{root}/p/d/deeper", "type": "file"},
        {"name": f"{root}/p/{TEMP_PREFIX}1", "type": "file"},
        {"name": f"{root}/p", "type": "directory"},
        {"name": f"{root}/q", "type": "file"},
        {"name": "/elsewhere/p/z", "type": "file"},
    ]
    assert backend._children(entries, "p/") == ["p/a", "p/d/"]
    names = [str(e["name"]) for e in entries]
    assert backend._objects(names, "p/") == ["p/a", "p/d", "p/d/deeper"]
    assert backend._names_object(entries, f"{root}/p/a")
    assert not backend._names_object(entries, f"{root}/p/d")  # a directory is no object


def _caught(backend: FsspecBackend, exc: BaseException) -> StoreError:
    with pytest.raises(StoreError) as info:
        backend._fail("read", "'k'", exc)
    return info.value


def test_errors_say_what_failed_without_a_secret(backend: FsspecBackend) -> None:
    error = _caught(backend, OSError(f"bad token {SECRET}\nmore lines"))
    assert str(error) == f"Cannot read 'k' in {backend.url}: OSError: bad token ***."
    assert error.__cause__ is None  # the cause held a secret, so it is not chained
    plain = _caught(backend, ValueError("no"))
    assert isinstance(plain.__cause__, ValueError)
    assert "no answer within" in str(_caught(backend, TimeoutError()))
    denied = _caught(backend, PermissionError("no"))
    assert "access was refused, check the credentials" in str(denied)
    with pytest.raises(StoreError, match=rf"Cannot list {backend.url}: ValueError: no message\."):
        backend._fail("list", backend.url, ValueError())
    assert backend._describe(ValueError("x" * 400)).endswith("x...")


def test_coroutines_run_on_the_one_io_loop() -> None:
    from zarr_vectors.storage.runner import get_loop

    class _Where:
        @_on_io_loop
        async def loop(self) -> Any:
            return asyncio.get_running_loop()

    assert asyncio.run(_Where().loop()) is get_loop()  # from another loop
    assert asyncio.run_coroutine_threadsafe(_Where().loop(), get_loop()).result(30) is get_loop()


@pytest.mark.servers
def test_azure_keys_adlfs_would_rewrite_are_refused(
    azure_server: Any, azure_container: str
) -> None:
    """adlfs parses paths as URLs and drops a '#' that ends a name: such a key would alias
    another, so it is refused; a '#' inside a name, or ending a folder, is kept.
    """
    connection = (
        f"DefaultEndpointsProtocol=http;AccountName={azure_server.account};"
        f"AccountKey={azure_server.key};BlobEndpoint={azure_server.endpoint};"
    )
    backend = FsspecBackend(f"az://{azure_container}/h", connection_string=connection)
    backend.put_bytes("x", b"plain")
    for call in (lambda: backend.put_bytes("x#", b"alias"), lambda: backend.get_bytes("x#")):
        with pytest.raises(InvalidKeyError, match="'x#'"):
            call()
    backend.put_many({"a#b": b"1", "d#/e": b"2"})
    assert list(backend.list_prefix("")) == ["a#b", "d#/", "x"]
    assert backend.get_many(["x", "a#b", "d#/e"]) == {"x": b"plain", "a#b": b"1", "d#/e": b"2"}
    backend.close()
