"""The obstore backend against obstore's MemoryStore and real servers on 127.0.0.1.

Each store is driven through both protocols (blocking and async) by the same
scenario; the server-specific tests then cover credentials (right, wrong,
none), missing buckets, unreachable and unresponsive endpoints, read-only
HTTP, and that no secret reaches an error message or a repr.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.helpers.servers import procs
from zarr_vectors.exceptions import (
    BackendOptionError,
    MissingKeyError,
    PreconditionFailedError,
    ReadOnlyBackendError,
    StoreError,
)
from zarr_vectors.storage.resolve import make_backend
from zarr_vectors.testing.config import KitConfig
from zarr_vectors.testing.suite import BackendConformance
from zarr_vectors.testing.target import KitTarget
from zarr_vectors_obstore.backend import (
    DEFAULT_MAX_CONCURRENCY,
    HTTP_MAX_CONCURRENCY,
    OBJECT_STORE_MAX_CONCURRENCY,
    ObstoreBackend,
)

Factory = Callable[..., ObstoreBackend]


# --------------------------------------------------------------------------- shared scenarios
def exercise_sync(backend: ObstoreBackend) -> None:
    """Every blocking method, with the protocol's edge cases."""
    backend.put_bytes("a/k", b"0123456789")
    backend.put_bytes("ab", b"x")
    backend.put_bytes("a/sub/z", b"z")
    assert backend.get_bytes("a/k") == b"0123456789"
    assert backend.get_range("a/k", 2, 3) == b"234"
    assert backend.get_range("a/k", 8, 10) == b"89"
    assert backend.get_range("a/k", 4) == b"456789"
    assert backend.get_range("a/k", 10) == b""
    assert backend.get_range("a/k", 12, 4) == b""
    assert backend.get_range("a/k", 3, 0) == b""
    assert backend.exists("a/k") and not backend.exists("a/nope") and not backend.exists("a")
    with pytest.raises(KeyError):
        backend.get_bytes("a/nope")
    with pytest.raises(MissingKeyError):
        backend.get_range("a/nope", 0, 4)
    assert list(backend.list_prefix("")) == ["a/", "ab"]
    assert list(backend.list_prefix("a")) == ["a/k", "a/sub/"]
    assert list(backend.list_prefix("a/", recursive=True)) == ["a/k", "a/sub/z"]
    assert list(backend.list_prefix("nothing/")) == []
    backend.put_bytes("a/k", b"new")
    assert backend.get_bytes("a/k") == b"new"
    backend.put_many({f"m/{i}": bytes([i]) * 100 for i in range(20)})
    got = backend.get_many([f"m/{i}" for i in range(25)])
    assert got == {f"m/{i}": bytes([i]) * 100 for i in range(20)}
    backend.delete("ab")
    backend.delete("ab")  # deleting a missing key is silent
    assert not backend.exists("ab")
    backend.delete_prefix("a")
    assert list(backend.list_prefix("", recursive=True)) == [
        f"m/{i}" for i in sorted(range(20), key=str)
    ]
    exercise_head_and_delete_many(backend)
    backend.delete_prefix("")
    assert list(backend.list_prefix("", recursive=True)) == []


def exercise_head_and_delete_many(backend: ObstoreBackend) -> None:
    """head's size and version, ranges of an empty object, delete_many with missing keys."""
    backend.put_bytes("h/k", b"0123456789")
    first = backend.head("h/k")
    assert (first.key, first.size) == ("h/k", 10) and first.version
    backend.put_bytes("h/k", b"changed")
    second = backend.head("h/k")
    assert second.size == 7 and second.version and second.version != first.version
    with pytest.raises(MissingKeyError, match="'h/nope'"):
        backend.head("h/nope")
    backend.put_bytes("h/empty", b"")
    assert backend.head("h/empty").size == 0
    assert backend.get_range("h/empty", 0, 4) == b""
    assert backend.get_range("h/empty", 0) == b""
    keys = [f"h/d/{i:04d}" for i in range(30)]
    backend.put_many(dict.fromkeys(keys, b"x"))
    backend.delete_many([*keys[:20], "h/d/missing", keys[0]])
    assert list(backend.list_prefix("h/d", recursive=True)) == keys[20:]
    backend.delete_many([])


async def exercise_async(backend: ObstoreBackend) -> None:
    """The coroutine twins of :func:`exercise_sync`."""

    async def listed(prefix: str, recursive: bool = False) -> list[str]:
        return [k async for k in backend.alist_prefix(prefix, recursive)]

    await backend.aput_bytes("a/k", b"0123456789")
    await backend.aput_bytes("ab", b"x")
    await backend.aput_bytes("a/sub/z", b"z")
    assert await backend.aget_bytes("a/k") == b"0123456789"
    assert await backend.aget_range("a/k", 2, 3) == b"234"
    assert await backend.aget_range("a/k", 8, 10) == b"89"
    assert await backend.aget_range("a/k", 4) == b"456789"
    assert await backend.aget_range("a/k", 10, 5) == b""
    assert await backend.aexists("a/k") and not await backend.aexists("a/nope")
    with pytest.raises(KeyError):
        await backend.aget_bytes("a/nope")
    with pytest.raises(MissingKeyError):
        await backend.aget_range("a/nope", 1, 2)
    assert await listed("") == ["a/", "ab"]
    assert await listed("a") == ["a/k", "a/sub/"]
    assert await listed("a", True) == ["a/k", "a/sub/z"]
    await backend.aput_many([(f"m/{i:02d}", b"v" * i) for i in range(30)])
    got = await backend.aget_many([f"m/{i:02d}" for i in range(35)])
    assert got == {f"m/{i:02d}": b"v" * i for i in range(30)}
    await backend.adelete("ab")
    await backend.adelete("ab")
    info = await backend.ahead("a/k")
    assert info.size == 10 and info.version == backend.head("a/k").version
    with pytest.raises(MissingKeyError):
        await backend.ahead("a/nope")
    await backend.adelete_many(["a/k", "a/nope"])
    assert not await backend.aexists("a/k")
    await backend.adelete_prefix("a/")
    assert await listed("", True) == [f"m/{i:02d}" for i in range(30)]
    await backend.adelete_prefix("")
    assert await listed("", True) == []
    await backend.aclose()
    with pytest.raises(StoreError):
        await backend.aget_bytes("m/01")


def exercise_conditional_writes(backend: ObstoreBackend) -> None:
    """Create-only and if-match writes: the second creator and a stale version lose."""
    assert backend.conditional_writes
    created = backend.put_if("lock", b"one", expect=None)
    assert created == backend.head("lock").version
    with pytest.raises(PreconditionFailedError, match="already exists"):
        backend.put_if("lock", b"two", expect=None)
    assert backend.get_bytes("lock") == b"one"
    backend.put_bytes("lock", b"someone else")  # moves the version on
    with pytest.raises(PreconditionFailedError, match="no longer at version"):
        backend.put_if("lock", b"three", expect=created)
    assert backend.get_bytes("lock") == b"someone else"
    current = backend.head("lock").version
    assert current is not None and current != created
    updated = backend.put_if("lock", b"four", expect=current)
    assert updated != current and updated == backend.head("lock").version
    assert backend.get_bytes("lock") == b"four"
    with pytest.raises(PreconditionFailedError):
        backend.put_if("never-written", b"x", expect=current)
    assert not backend.exists("never-written")

    async def run() -> None:
        await backend.aput_if("alock", b"a", expect=None)
        with pytest.raises(PreconditionFailedError):
            await backend.aput_if("alock", b"b", expect=None)
        version = (await backend.ahead("alock")).version
        assert version is not None
        new = await backend.aput_if("alock", b"c", expect=version)
        with pytest.raises(PreconditionFailedError):
            await backend.aput_if("alock", b"d", expect=version)
        assert new == (await backend.ahead("alock")).version
        assert await backend.aget_bytes("alock") == b"c"

    asyncio.run(run())


# --------------------------------------------------------------------------- memory
def test_memory_sync() -> None:
    with ObstoreBackend("memory://sync") as backend:
        exercise_sync(backend)


def test_memory_async() -> None:
    asyncio.run(exercise_async(ObstoreBackend("memory://async", max_concurrency=3)))


def test_memory_conditional_writes() -> None:
    with ObstoreBackend(f"memory://cond-{uuid.uuid4().hex}") as backend:
        exercise_conditional_writes(backend)


def test_max_concurrency_defaults_per_family() -> None:
    assert ObstoreBackend("s3://bucket/p", region="us-east-1").max_concurrency == (
        OBJECT_STORE_MAX_CONCURRENCY
    )
    assert ObstoreBackend("az://c", account_name="a").max_concurrency == (
        OBJECT_STORE_MAX_CONCURRENCY
    )
    assert ObstoreBackend("http://127.0.0.1:1/x").max_concurrency == HTTP_MAX_CONCURRENCY
    assert ObstoreBackend("https://example.org/x").max_concurrency == HTTP_MAX_CONCURRENCY
    assert ObstoreBackend("memory://d").max_concurrency == DEFAULT_MAX_CONCURRENCY["memory"]
    assert HTTP_MAX_CONCURRENCY < OBJECT_STORE_MAX_CONCURRENCY
    assert ObstoreBackend("http://127.0.0.1:1/x", max_concurrency=3).max_concurrency == 3
    # The entry point's option help (which must not import obstore) states the same defaults.
    from zarr_vectors_obstore.info import OBSTORE

    help_text = OBSTORE.options["max_concurrency"]
    assert f"{OBJECT_STORE_MAX_CONCURRENCY} on S3" in help_text
    assert f"{HTTP_MAX_CONCURRENCY} on HTTP" in help_text


def test_closed_backend_refuses_calls() -> None:
    backend = ObstoreBackend(f"memory://closed-{uuid.uuid4().hex}")
    backend.put_bytes("k", b"v")
    backend.close()
    assert backend.closed
    with pytest.raises(StoreError, match="closed"):
        backend.get_bytes("k")
    with pytest.raises(StoreError, match="closed"):
        backend.head("k")


def test_memory_through_make_backend_when_chosen() -> None:
    backend = make_backend("memory://chosen", backend="obstore")
    assert isinstance(backend, ObstoreBackend)
    backend.put_bytes("k", b"v")
    assert backend.get_bytes("k") == b"v"


def test_memory_refuses_store_config() -> None:
    with pytest.raises(BackendOptionError, match="region"):
        ObstoreBackend("memory://x", region="us-east-1")


def test_unknown_options_are_named() -> None:
    with pytest.raises(BackendOptionError, match=r"'obstore'.*'bogus', 'regoin'"):
        make_backend("s3://bucket/p", regoin="us-east-1", bogus=1, region="us-east-1")
    with pytest.raises(BackendOptionError, match="'account_key_typo'"):
        ObstoreBackend("az://c", account_name="a", account_key_typo="x")


def test_config_values_are_never_in_repr() -> None:
    backend = ObstoreBackend(
        "s3://bucket/p",
        region="us-east-1",
        access_key_id="AKIA-zv-visible",
        secret_access_key="REPR-SECRET-zv-123456",
        session_token="REPR-TOKEN-zv-654321",
    )
    assert "REPR-SECRET" not in repr(backend) and "REPR-TOKEN" not in repr(backend)
    assert repr(backend) == "ObstoreBackend(url='s3://bucket/p')"


def test_bad_constructor_values() -> None:
    with pytest.raises(BackendOptionError, match="timeout"):
        ObstoreBackend("memory://x", timeout=0)
    with pytest.raises(BackendOptionError, match="max_retries"):
        ObstoreBackend("memory://x", max_retries=-1)
    with pytest.raises(StoreError, match="max_concurrency"):
        ObstoreBackend("memory://x", max_concurrency=0)
    with pytest.raises(StoreError, match="ftp"):
        ObstoreBackend("ftp://host/x")


# --------------------------------------------------------------------------- S3 (SeaweedFS)
def s3_kwargs(server: procs.S3Server, **extra: Any) -> dict[str, Any]:
    """backend_kwargs with the server's credentials, in obstore's own names."""
    return {
        "endpoint": server.endpoint,
        "region": server.region,
        "access_key_id": server.access_key,
        "secret_access_key": server.secret_key,
        **extra,
    }


@pytest.mark.servers
def test_s3_sync(s3_server: procs.S3Server, s3_bucket: str) -> None:
    with make_backend(f"s3://{s3_bucket}/root", **s3_kwargs(s3_server)) as backend:
        assert isinstance(backend, ObstoreBackend)
        exercise_sync(backend)


@pytest.mark.servers
def test_s3_async(s3_server: procs.S3Server, s3_bucket: str) -> None:
    backend = make_backend(f"s3://{s3_bucket}/deep/root", max_concurrency=4, **s3_kwargs(s3_server))
    assert isinstance(backend, ObstoreBackend)
    asyncio.run(exercise_async(backend))


@pytest.mark.servers
def test_s3_prefix_isolates_keys(s3_server: procs.S3Server, s3_bucket: str) -> None:
    inner = ObstoreBackend(f"s3://{s3_bucket}/inner", **s3_kwargs(s3_server))
    outer = ObstoreBackend(f"s3://{s3_bucket}", **s3_kwargs(s3_server))
    inner.put_bytes("k", b"v")
    outer.put_bytes("innerish/k", b"w")
    assert list(outer.list_prefix("", recursive=True)) == ["inner/k", "innerish/k"]
    assert list(inner.list_prefix("", recursive=True)) == ["k"]
    inner.delete_prefix("")
    assert list(outer.list_prefix("", recursive=True)) == ["innerish/k"]


@pytest.mark.servers
def test_s3_friendly_option_names(s3_server: procs.S3Server, s3_bucket: str) -> None:
    backend = ObstoreBackend(
        f"s3://{s3_bucket}",
        endpoint_url=s3_server.endpoint,
        region_name=s3_server.region,
        key=s3_server.access_key,
        secret=s3_server.secret_key,
    )
    backend.put_bytes("k", b"v")
    assert backend.get_bytes("k") == b"v"


@pytest.mark.servers
def test_s3_ambient_credentials(
    s3_server: procs.S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_REGION", s3_server.region)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    # Credentials, region and endpoint come from the environment; plain HTTP is a client
    # option, which obstore takes only as an argument.
    backend = make_backend(f"s3://{s3_bucket}", allow_http=True)
    backend.put_bytes("from-env", b"1")
    assert backend.get_bytes("from-env") == b"1"


@pytest.mark.servers
def test_s3_wrong_secret_is_refused_without_leaking_it(
    s3_server: procs.S3Server, s3_bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "WRONG-SECRET-zv-4242-do-not-print"
    token = "SESSION-TOKEN-zv-7777-do-not-print"
    backend = ObstoreBackend(
        f"s3://{s3_bucket}/p",
        **s3_kwargs(s3_server, secret_access_key=secret, session_token=token),
    )
    assert secret not in repr(backend) and token not in repr(backend)
    for call in (
        lambda: backend.put_bytes("k", b"v"),
        lambda: backend.get_bytes("k"),
        lambda: list(backend.list_prefix("")),
        lambda: asyncio.run(backend.aput_bytes("k", b"v")),
    ):
        with pytest.raises(StoreError) as info:
            call()
        message = str(info.value)
        assert f"s3://{s3_bucket}/p" in message
        # obstore types a refused get/put; a refused listing is a generic error with the status.
        assert "refused" in message or "403 Forbidden" in message
        assert secret not in message and token not in message
        assert "\n" not in message
    assert secret not in caplog.text and token not in caplog.text


@pytest.mark.servers
def test_s3_unknown_access_key_is_refused(s3_server: procs.S3Server, s3_bucket: str) -> None:
    backend = ObstoreBackend(
        f"s3://{s3_bucket}", **s3_kwargs(s3_server, access_key_id="nobody-at-all")
    )
    with pytest.raises(StoreError, match="refused"):
        backend.put_bytes("k", b"v")


@pytest.mark.servers
def test_s3_anonymous_reads_but_cannot_write(s3_server: procs.S3Server, s3_bucket: str) -> None:
    ObstoreBackend(f"s3://{s3_bucket}", **s3_kwargs(s3_server)).put_bytes("pub/k", b"public")
    anon = ObstoreBackend(
        f"s3://{s3_bucket}", endpoint=s3_server.endpoint, region=s3_server.region, anon=True
    )
    assert anon.get_bytes("pub/k") == b"public"
    assert asyncio.run(anon.aget_range("pub/k", 1, 3)) == b"ubl"
    assert list(anon.list_prefix("pub")) == ["pub/k"]
    with pytest.raises(StoreError, match="refused"):
        anon.put_bytes("pub/k2", b"nope")


@pytest.mark.servers
def test_s3_missing_bucket_is_a_store_error(s3_server: procs.S3Server) -> None:
    backend = ObstoreBackend("s3://no-such-bucket-zv/x", **s3_kwargs(s3_server))
    with pytest.raises(StoreError, match="does not exist") as info:
        backend.get_bytes("k")
    assert not isinstance(info.value, KeyError)
    with pytest.raises(StoreError, match="does not exist"):
        asyncio.run(backend.aget_bytes("k"))


@pytest.mark.servers
def test_s3_verify_prefixes_hides_emptied_folders(
    s3_server: procs.S3Server, s3_bucket: str
) -> None:
    plain = ObstoreBackend(f"s3://{s3_bucket}", **s3_kwargs(s3_server))
    checked = ObstoreBackend(f"s3://{s3_bucket}", verify_prefixes=True, **s3_kwargs(s3_server))
    plain.put_many({"gone/deep/k": b"1", "kept/k": b"2", "top": b"3"})
    plain.delete("gone/deep/k")
    assert list(checked.list_prefix("")) == ["kept/", "top"]
    assert list(checked.list_prefix("gone")) == []
    # SeaweedFS (a file system underneath) may still report the emptied folder; never less.
    assert {"kept/", "top"} <= set(plain.list_prefix("")) <= {"gone/", "kept/", "top"}
    assert list(plain.list_prefix("", recursive=True)) == ["kept/k", "top"]


@pytest.mark.servers
def test_s3_missing_key_after_bucket_check(s3_server: procs.S3Server, s3_bucket: str) -> None:
    backend = ObstoreBackend(f"s3://{s3_bucket}", **s3_kwargs(s3_server))
    for _ in range(2):  # the bucket is checked once, then a missing key is just a KeyError
        with pytest.raises(MissingKeyError, match="'k'"):
            backend.get_bytes("k")
    assert backend.get_many(["k", "j"]) == {}


@pytest.mark.servers
def test_s3_conditional_writes(s3_server: procs.S3Server, s3_bucket: str) -> None:
    """SeaweedFS honours If-None-Match: * and If-Match on PUT through obstore."""
    with ObstoreBackend(f"s3://{s3_bucket}/cond", **s3_kwargs(s3_server)) as backend:
        exercise_conditional_writes(backend)


@pytest.mark.servers
def test_s3_head_is_the_etag(s3_server: procs.S3Server, s3_bucket: str) -> None:
    import hashlib

    with ObstoreBackend(f"s3://{s3_bucket}", **s3_kwargs(s3_server)) as backend:
        backend.put_bytes("k", b"payload")
        info = backend.head("k")
        assert info.size == 7
        # A single-part upload's ETag is the MD5 of the bytes, quoted.
        assert info.version == f'"{hashlib.md5(b"payload").hexdigest()}"'


@pytest.mark.servers
def test_s3_delete_many_in_batches(s3_server: procs.S3Server, s3_bucket: str) -> None:
    with ObstoreBackend(f"s3://{s3_bucket}", **s3_kwargs(s3_server)) as backend:
        keys = [f"d/{i:05d}" for i in range(2100)]
        backend.put_many(dict.fromkeys(keys, b"x"))
        backend.put_bytes("keep", b"k")
        asyncio.run(backend.adelete_many([*keys[:1500], "d/missing"]))
        assert list(backend.list_prefix("d", recursive=True)) == keys[1500:]
        backend.delete_many(keys[1500:])
        assert list(backend.list_prefix("", recursive=True)) == ["keep"]


# --------------------------------------------------------------------------- endpoints that fail
def test_unreachable_endpoint_is_a_store_error() -> None:
    port = procs.free_port()  # nothing listens there
    backend = ObstoreBackend(
        "s3://bucket/p",
        endpoint=f"http://127.0.0.1:{port}",
        region="us-east-1",
        access_key_id="a",
        secret_access_key="SECRET-unreachable-zv",
        timeout=2,
        max_retries=0,
    )
    with pytest.raises(StoreError) as info:
        backend.get_bytes("k")
    assert "s3://bucket/p" in str(info.value)
    assert "SECRET-unreachable-zv" not in str(info.value)


@pytest.fixture
def silent_server() -> Iterator[tuple[int, list[socket.socket]]]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()


def test_silent_server_times_out_with_store_error(
    silent_server: tuple[int, list[socket.socket]],
) -> None:
    port, accepted = silent_server
    backend = ObstoreBackend(
        "s3://bucket",
        endpoint=f"http://127.0.0.1:{port}",
        region="us-east-1",
        skip_signature=True,
        timeout=1,
        max_retries=0,
    )
    with pytest.raises(StoreError, match="s3://bucket"):
        backend.get_bytes("k")
    with pytest.raises(StoreError, match="s3://bucket"):
        asyncio.run(backend.aget_bytes("k"))
    assert accepted, "the request never reached the silent server"


def _wait_until_stopped(pid: int) -> None:
    """SIGSTOP is delivered asynchronously; wait until the kernel shows the process stopped."""
    for _ in range(500):
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().rsplit(")", 1)[1].split()[0] in ("T", "t"):
                return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not stop")


@pytest.mark.servers
def test_stopped_server_times_out(own_s3_server: procs.S3Server) -> None:
    """SIGSTOP the real SeaweedFS: a request fails within the timeout instead of hanging.

    The server is this test's own: pausing the run's shared one would stall other tests.
    """
    s3_server = own_s3_server
    s3_bucket = s3_server.create_bucket()
    backend = ObstoreBackend(f"s3://{s3_bucket}", **s3_kwargs(s3_server, timeout=1, max_retries=0))
    backend.put_bytes("k", b"v")
    os.killpg(s3_server.pid, signal.SIGSTOP)
    try:
        _wait_until_stopped(s3_server.pid)
        with pytest.raises(StoreError, match=s3_bucket):
            backend.get_bytes("k")
        with pytest.raises(StoreError, match=s3_bucket):
            asyncio.run(backend.aget_many(["k"]))
    finally:
        os.killpg(s3_server.pid, signal.SIGCONT)
    assert backend.get_bytes("k") == b"v"


# --------------------------------------------------------------------------- Azure (Azurite)
def azure_kwargs(server: procs.AzureServer, **extra: Any) -> dict[str, Any]:
    return {
        "account_name": server.account,
        "account_key": server.key,
        "endpoint": server.endpoint,
        **extra,
    }


@pytest.mark.servers
def test_azure_sync(azure_server: procs.AzureServer, azure_container: str) -> None:
    with make_backend(f"az://{azure_container}/root", **azure_kwargs(azure_server)) as backend:
        assert isinstance(backend, ObstoreBackend)
        exercise_sync(backend)


@pytest.mark.servers
def test_azure_async(azure_server: procs.AzureServer, azure_container: str) -> None:
    backend = make_backend(
        f"azure://{azure_container}", max_concurrency=5, **azure_kwargs(azure_server)
    )
    asyncio.run(exercise_async(backend))


@pytest.mark.servers
def test_azure_conditional_writes(azure_server: procs.AzureServer, azure_container: str) -> None:
    backend = ObstoreBackend(f"az://{azure_container}/cond", **azure_kwargs(azure_server))
    exercise_conditional_writes(backend)


@pytest.mark.servers
def test_azure_delete_many_skips_missing_keys(
    azure_server: procs.AzureServer, azure_container: str
) -> None:
    """Azure's blob batch stops at a missing blob; the rest of the batch is still deleted."""
    backend = ObstoreBackend(f"az://{azure_container}", **azure_kwargs(azure_server))
    keys = [f"d/{i:03d}" for i in range(300)]
    backend.put_many(dict.fromkeys(keys, b"x"))
    backend.delete_many(["d/000-missing", *keys[:290]])
    assert list(backend.list_prefix("d", recursive=True)) == keys[290:]
    asyncio.run(backend.adelete_many([*keys[290:], "d/zzz-missing"]))
    assert list(backend.list_prefix("", recursive=True)) == []


@pytest.mark.servers
def test_azure_connection_string(azure_server: procs.AzureServer, azure_container: str) -> None:
    conn = (
        f"DefaultEndpointsProtocol=http;AccountName={azure_server.account};"
        f"AccountKey={azure_server.key};BlobEndpoint={azure_server.endpoint};"
    )
    backend = ObstoreBackend(f"az://{azure_container}", connection_string=conn)
    backend.put_bytes("k", b"v")
    assert backend.get_bytes("k") == b"v"
    assert azure_server.key not in repr(backend)


@pytest.mark.servers
def test_azure_ambient_credentials(
    azure_server: procs.AzureServer, azure_container: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", azure_server.account)
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", azure_server.key)
    monkeypatch.setenv("AZURE_STORAGE_ENDPOINT", azure_server.endpoint)
    backend = make_backend(f"az://{azure_container}/env", allow_http=True)
    backend.put_bytes("k", b"from-env")
    assert backend.get_bytes("k") == b"from-env"


@pytest.mark.servers
def test_azure_wrong_key_is_refused_without_leaking_it(
    azure_server: procs.AzureServer, azure_container: str
) -> None:
    import base64

    wrong_key = base64.b64encode(b"WRONG-AZURE-KEY-zv-0042" * 3).decode()
    conn = (
        f"AccountName={azure_server.account};AccountKey={wrong_key};"
        f"BlobEndpoint={azure_server.endpoint}"
    )
    for backend in (
        ObstoreBackend(
            f"az://{azure_container}", **azure_kwargs(azure_server, account_key=wrong_key)
        ),
        ObstoreBackend(f"az://{azure_container}", connection_string=conn),
    ):
        assert wrong_key not in repr(backend)
        for call in (
            lambda b=backend: b.put_bytes("k", b"v"),
            lambda b=backend: b.get_bytes("k"),
            lambda b=backend: asyncio.run(b.aget_many(["k"])),
        ):
            with pytest.raises(StoreError) as info:
                call()
            message = str(info.value)
            assert "refused" in message and f"az://{azure_container}" in message
            assert wrong_key not in message and "\n" not in message


@pytest.mark.servers
def test_azure_sas_token_never_printed(
    azure_server: procs.AzureServer, azure_container: str
) -> None:
    sas = "sv=2021-08-06&ss=b&srt=sco&sp=rl&se=2030-01-01&sig=SASSIGNATUREzv0099secret"
    backend = ObstoreBackend(
        f"az://{azure_container}",
        account_name=azure_server.account,
        endpoint=azure_server.endpoint,
        sas_token=sas,
    )
    assert "SASSIGNATUREzv0099secret" not in repr(backend)
    with pytest.raises(StoreError) as info:
        backend.get_bytes("k")
    assert "SASSIGNATUREzv0099secret" not in str(info.value)


@pytest.mark.servers
def test_azure_anonymous_reads_public_container(azure_server: procs.AzureServer) -> None:
    public = azure_server.create_container(public=True)
    ObstoreBackend(f"az://{public}", **azure_kwargs(azure_server)).put_bytes("d/k", b"open")
    anon = ObstoreBackend(
        f"az://{public}",
        account_name=azure_server.account,
        endpoint=azure_server.endpoint,
        skip_signature=True,
    )
    assert anon.get_bytes("d/k") == b"open"
    assert list(anon.list_prefix("d")) == ["d/k"]
    with pytest.raises(StoreError):
        anon.put_bytes("d/k2", b"no")


@pytest.mark.servers
def test_azure_missing_container_is_a_store_error(azure_server: procs.AzureServer) -> None:
    backend = ObstoreBackend("az://no-such-container-zv", **azure_kwargs(azure_server))
    with pytest.raises(StoreError, match="does not exist") as info:
        backend.get_bytes("k")
    assert not isinstance(info.value, KeyError)


# --------------------------------------------------------------------------- HTTP (read-only)
@pytest.fixture
def http_store(http_server: procs.HttpServer, tmp_path: Any) -> tuple[str, Any]:
    """A fresh directory under the HTTP server's root, with its URL."""
    name = tmp_path.name
    root = http_server.root / name
    (root / "a" / "sub").mkdir(parents=True)
    (root / "a" / "k").write_bytes(b"0123456789")
    (root / "a" / "sub" / "z").write_bytes(b"z")
    (root / "ab").write_bytes(b"x")
    return f"{http_server.url}/{name}", root


@pytest.mark.servers
def test_http_reads_sync(http_store: tuple[str, Any]) -> None:
    url, _ = http_store
    backend = make_backend(url)
    assert isinstance(backend, ObstoreBackend) and not backend.writable
    assert backend.get_bytes("a/k") == b"0123456789"
    assert backend.get_range("a/k", 2, 3) == b"234"
    assert backend.get_range("a/k", 8, 10) == b"89"
    assert backend.get_range("a/k", 10) == b""
    assert backend.exists("ab") and not backend.exists("nope")
    with pytest.raises(MissingKeyError):
        backend.get_bytes("nope")
    assert list(backend.list_prefix("")) == ["a/", "ab"]
    assert list(backend.list_prefix("a")) == ["a/k", "a/sub/"]
    assert list(backend.list_prefix("", recursive=True)) == ["a/k", "a/sub/z", "ab"]
    assert backend.get_many(["a/k", "ab", "missing"]) == {"a/k": b"0123456789", "ab": b"x"}


@pytest.mark.servers
def test_http_reads_async(http_store: tuple[str, Any]) -> None:
    url, _ = http_store

    async def run() -> None:
        async with ObstoreBackend(url + "/") as backend:  # a trailing '/' is fine
            assert await backend.aget_bytes("a/sub/z") == b"z"
            assert await backend.aget_range("a/k", 5) == b"56789"
            assert await backend.aexists("a/k") and not await backend.aexists("a/x")
            assert [k async for k in backend.alist_prefix("a", recursive=True)] == [
                "a/k",
                "a/sub/z",
            ]
            assert await backend.aget_many(["ab", "nope"]) == {"ab": b"x"}
            with pytest.raises(KeyError):
                await backend.aget_bytes("nope")

    asyncio.run(run())


@pytest.mark.servers
def test_http_writes_are_refused(http_store: tuple[str, Any]) -> None:
    url, root = http_store
    backend = ObstoreBackend(url)
    before = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
    for call in (
        lambda: backend.put_bytes("new", b"v"),
        lambda: backend.put_many({"n1": b"1"}),
        lambda: backend.delete("ab"),
        lambda: backend.delete_prefix("a"),
        lambda: asyncio.run(backend.aput_bytes("new", b"v")),
        lambda: asyncio.run(backend.adelete_prefix("")),
    ):
        with pytest.raises(ReadOnlyBackendError, match="read-only"):
            call()
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == before


@pytest.mark.servers
def test_http_head_and_no_conditional_writes(http_store: tuple[str, Any]) -> None:
    from zarr_vectors.exceptions import UnsupportedOperationError

    url, _ = http_store
    backend = ObstoreBackend(url)
    assert backend.head("a/k").size == 10
    with pytest.raises(MissingKeyError):
        backend.head("nope")
    assert not backend.conditional_writes
    with pytest.raises((ReadOnlyBackendError, UnsupportedOperationError)):
        backend.put_if("new", b"v", expect=None)
    assert backend.get_range("ab", 1, 5) == b""


def test_http_refuses_store_config() -> None:
    with pytest.raises(BackendOptionError, match="'access_key_id'"):
        ObstoreBackend("http://127.0.0.1:1/x", access_key_id="a")


class _SlowCounting:
    """A real HTTP server on 127.0.0.1 whose answers take a while; records peak concurrency."""

    def __init__(self, delay: float) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.active = 0
        self.peak = 0
        lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with lock:
                    owner.active += 1
                    owner.peak = max(owner.peak, owner.active)
                time.sleep(delay)
                with lock:
                    owner.active -= 1
                body = self.path.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("limit", [1, 3])
def test_batch_reads_are_concurrent_and_bounded(limit: int) -> None:
    server = _SlowCounting(delay=0.15)
    try:
        backend = ObstoreBackend(server.url + "/d", max_concurrency=limit)
        keys = [f"k{i}" for i in range(9)]
        got = asyncio.run(backend.aget_many(keys))
        assert got == {k: f"/d/{k}".encode() for k in keys}
        assert server.peak == limit
        server.peak = 0
        assert backend.get_many(keys[:6]) == {k: f"/d/{k}".encode() for k in keys[:6]}
        assert server.peak == limit
    finally:
        server.close()


# --------------------------------------------------------------------------- GCS (fake-gcs-server)
@pytest.fixture
def gcs_seeded(gcs_server: procs.GcsServer, gcs_bucket: str) -> str:
    """A bucket holding a/k, a/sub/z and ab, written through the emulator's JSON API."""
    for name, data in (("a/k", b"0123456789"), ("a/sub/z", b"z"), ("ab", b"x")):
        gcs_server.upload(gcs_bucket, name, data)
    return gcs_bucket


@pytest.mark.servers
def test_gcs_anonymous_reads_sync(gcs_server: procs.GcsServer, gcs_seeded: str) -> None:
    backend = make_backend(f"gs://{gcs_seeded}", endpoint=gcs_server.endpoint, anon=True)
    assert isinstance(backend, ObstoreBackend)
    assert backend.get_bytes("a/k") == b"0123456789"
    assert backend.get_range("a/k", 2, 3) == b"234"
    assert backend.get_range("a/k", 8, 10) == b"89"
    assert backend.get_range("a/k", 10, 2) == b""
    assert backend.exists("ab") and not backend.exists("a/nope")
    with pytest.raises(MissingKeyError):
        backend.get_bytes("a/nope")
    assert list(backend.list_prefix("")) == ["a/", "ab"]
    assert list(backend.list_prefix("a")) == ["a/k", "a/sub/"]
    assert list(backend.list_prefix("", recursive=True)) == ["a/k", "a/sub/z", "ab"]
    assert backend.get_many(["a/k", "ab", "zz"]) == {"a/k": b"0123456789", "ab": b"x"}
    # GCS matches conditional writes on the generation, so that is the version.
    info = backend.head("a/k")
    assert info.size == 10 and info.version is not None and info.version.isdigit()
    assert backend.conditional_writes


@pytest.mark.servers
def test_gcs_anonymous_reads_async(gcs_server: procs.GcsServer, gcs_seeded: str) -> None:
    async def run() -> None:
        backend = ObstoreBackend(
            f"gcs://{gcs_seeded}/a", endpoint=gcs_server.endpoint, skip_signature=True
        )
        assert await backend.aget_bytes("sub/z") == b"z"
        assert await backend.aget_range("k", 7) == b"789"
        assert await backend.aexists("k") and not await backend.aexists("ab")
        assert [k async for k in backend.alist_prefix("", recursive=True)] == ["k", "sub/z"]
        assert await backend.aget_many(["k", "sub/z", "zz"]) == {"k": b"0123456789", "sub/z": b"z"}
        with pytest.raises(KeyError):
            await backend.aget_bytes("zz")

    asyncio.run(run())


@pytest.mark.servers
def test_gcs_token_reads_and_never_printed(gcs_server: procs.GcsServer, gcs_seeded: str) -> None:
    token = "GCS-BEARER-TOKEN-zv-31337"
    backend = ObstoreBackend(f"gs://{gcs_seeded}", endpoint=gcs_server.endpoint, token=token)
    assert token not in repr(backend)
    assert backend.get_bytes("ab") == b"x"
    # fake-gcs-server does not take uploads through GCS's XML API, which obstore uses:
    # the write fails with a StoreError (see docs/backends.md), and the token stays hidden.
    with pytest.raises(StoreError) as info:
        backend.put_bytes("new", b"v")
    assert token not in str(info.value) and f"gs://{gcs_seeded}" in str(info.value)
    backend.delete("ab")  # deletes do go through
    backend.delete_prefix("a")
    assert list(backend.list_prefix("", recursive=True)) == []


@pytest.mark.servers
def test_gcs_missing_bucket_is_a_store_error(gcs_server: procs.GcsServer) -> None:
    backend = ObstoreBackend("gs://no-such-bucket-zv", endpoint=gcs_server.endpoint, anon=True)
    with pytest.raises(StoreError, match="does not exist") as info:
        backend.get_bytes("k")
    assert not isinstance(info.value, KeyError)


# --------------------------------------------------------------------------- the conformance kit
class TestObstoreMemoryConformance(BackendConformance):
    """The kit on obstore's MemoryStore (chosen explicitly for memory://)."""

    backend_name = "obstore"
    kit_config = KitConfig.local().with_changes(max_examples=20, derandomize=True)

    def make_url(self, tmp_path: Any) -> str:
        return f"memory://zv-kit/{uuid.uuid4().hex}"


@pytest.mark.servers
class TestObstoreS3Conformance(BackendConformance):
    """The kit on SeaweedFS through obstore's S3 store.

    ``verify_prefixes``: SeaweedFS keeps listing a folder after its last object is
    deleted (see test_s3_verify_prefixes_hides_emptied_folders).
    """

    backend_name = "obstore"
    kit_config = KitConfig.remote().with_changes(max_examples=6, derandomize=True)

    def make_target(self, request: pytest.FixtureRequest, tmp_path: Any) -> KitTarget:
        server = request.getfixturevalue("s3_server")
        bucket = request.getfixturevalue("s3_bucket")
        # isolated(): SeaweedFS keeps emptied folders, and a 0-byte object put where one
        # was is listed but not readable; each example gets untouched space instead.
        return KitTarget.from_name(
            "obstore", f"s3://{bucket}/kit", verify_prefixes=True, **s3_kwargs(server)
        ).isolated()


@pytest.mark.servers
class TestObstoreAzureConformance(BackendConformance):
    """The kit on Azurite through obstore's Azure store."""

    backend_name = "obstore"
    # Azure's blob batch takes 256 deletes and GCS's batch 100: 300 keys cross a page
    # boundary of both (the S3 classes keep 1,100 for DeleteObjects' 1,000), at a
    # quarter of the emulator's time.
    kit_config = KitConfig.remote().with_changes(max_examples=6, derandomize=True, batch_keys=300)

    def make_target(self, request: pytest.FixtureRequest, tmp_path: Any) -> KitTarget:
        server = request.getfixturevalue("azure_server")
        container = request.getfixturevalue("azure_container")
        return KitTarget.from_name("obstore", f"az://{container}/kit", **azure_kwargs(server))
