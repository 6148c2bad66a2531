"""The scenarios of the shared backend suite (:mod:`tests.plugins.backend_suite`).

Each ``check_*`` function drives one backend through one fixed sequence of protocol
calls and asserts what every backend must answer; the suite runs them on every place a
plugin reaches. Also here: the marker secrets, the layout of the seeded read-only
places, a listener that never answers, and small helpers for refusals and points.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from zarr_vectors.exceptions import (
    MissingKeyError,
    PreconditionFailedError,
    StoreError,
)
from zarr_vectors.storage.base import Backend

#: Marker credentials: looked for in every message, repr and log line they must not reach.
SECRET = "zv-Suite-Secret-7f3a9c-do-not-print"
TOKEN = "zv-Suite-Token-5150-do-not-print"

#: Points written through the public API: the bounds and the cells they fall in.
BOUNDS = ((0.0, 0.0, 0.0), (100.0, 100.0, 100.0))
CS = (50.0, 50.0, 50.0)

#: What the read-only places (HTTP, a seeded GCS bucket) hold.
SEEDED = {"a/k": b"0123456789", "a/sub/z": b"z", "ab": b"x"}


# --------------------------------------------------------------------------- the scenarios
def check_sync(b: Backend, *, versioned: bool) -> None:
    """Every rule of the storage protocol through the blocking API, on an empty root.

    ``versioned``: ``head`` reports a version that changes with each write (object
    stores); without, the version may be ``None``.
    """
    assert list(b.list_prefix("")) == []
    b.put_bytes("a/x", b"0123456789")
    b.put_bytes("a/y/z", b"45")
    b.put_bytes("ab", b"9")
    b.put_bytes("e", b"")
    assert b.get_bytes("a/x") == b"0123456789" and b.get_bytes("e") == b""
    for start, length, want in [(2, 3, b"234"), (8, 10, b"89"), (4, None, b"456789")]:
        assert b.get_range("a/x", start, length) == want
    for start, length in [(10, None), (12, 4), (3, 0), (0, 0)]:  # past the end, or nothing
        assert b.get_range("a/x", start, length) == b""
    assert b.get_range("e", 0, 4) == b"" and b.get_range("e", 0) == b""
    info = b.head("a/x")
    assert (info.key, info.size) == ("a/x", 10) and (info.version or not versioned)
    assert b.head("e").size == 0
    for absent in ("nope", "a", "a/y"):  # a prefix is not an object
        with pytest.raises(MissingKeyError):
            b.head(absent)
    for read in (lambda: b.get_bytes("nope"), lambda: b.get_range("nope", 0, 4)):
        with pytest.raises(MissingKeyError, match="nope"):
            read()
    with pytest.raises(MissingKeyError):
        b.get_range("nope", 0, 0)
    assert b.exists("a/x") and b.exists("e")
    assert not b.exists("a") and not b.exists("a/y") and not b.exists("nope")
    assert list(b.list_prefix("")) == ["a/", "ab", "e"]
    assert list(b.list_prefix("a")) == list(b.list_prefix("a/")) == ["a/x", "a/y/"]
    assert list(b.list_prefix("a/y")) == ["a/y/z"]
    assert list(b.list_prefix("", recursive=True)) == ["a/x", "a/y/z", "ab", "e"]
    assert list(b.list_prefix("a", recursive=True)) == ["a/x", "a/y/z"]
    assert list(b.list_prefix("nothing")) == []
    b.put_bytes("a/x", b"new")
    rewritten = b.head("a/x")
    assert b.get_bytes("a/x") == b"new" and rewritten.size == 3
    assert rewritten.version != info.version or (not versioned and info.version is None)
    assert b.get_many(["a/x", "nope", "ab", "a/x"]) == {"a/x": b"new", "ab": b"9"}
    batch = {f"m/{i:02d}": bytes([i]) * i for i in range(1, 40)}
    b.put_many(batch)
    assert b.get_many(list(batch)) == batch
    assert list(b.list_prefix("m", recursive=True)) == sorted(batch)
    b.delete("nope")  # deleting a missing key is silent, twice too
    b.delete("a/y/z")
    b.delete("a/y/z")
    assert not b.exists("a/y/z")
    assert list(b.list_prefix("a", recursive=True)) == ["a/x"]
    b.delete_prefix("a")  # never touches "ab"
    assert list(b.list_prefix("", recursive=True)) == ["ab", "e", *sorted(batch)]
    b.delete_prefix("m/")
    assert list(b.list_prefix("", recursive=True)) == ["ab", "e"]
    # "d*" is a key, never a pattern: deleting it leaves "dz" and "d/1" alone
    b.put_many({"d/1": b"1", "d/2": b"2", "d*": b"star", "dz": b"z"})
    b.delete_many(["d/2", "d*", "nope", "d/2"])
    assert list(b.list_prefix("", recursive=True)) == ["ab", "d/1", "dz", "e"]
    b.delete_many([])
    b.delete_prefix("")
    assert list(b.list_prefix("", recursive=True)) == []


async def check_async(b: Backend) -> None:
    """The same rules through the coroutine API; a closed backend then refuses calls."""

    async def listed(prefix: str, recursive: bool = False) -> list[str]:
        return [k async for k in b.alist_prefix(prefix, recursive)]

    assert await listed("") == []
    await b.aput_bytes("a/x", b"0123456789")
    await b.aput_bytes("a/y/z", b"45")
    await b.aput_bytes("ab", b"9")
    assert await b.aget_bytes("a/x") == b"0123456789"
    assert await b.aget_range("a/x", 2, 3) == b"234"
    assert await b.aget_range("a/x", 4) == b"456789"
    assert await b.aget_range("a/x", 10, 5) == b""
    info = await b.ahead("a/x")
    assert info.size == 10 and info.version == b.head("a/x").version
    for absent in ("a", "nope"):
        with pytest.raises(MissingKeyError):
            await b.ahead(absent)
    with pytest.raises(MissingKeyError, match="nope"):
        await b.aget_bytes("nope")
    with pytest.raises(MissingKeyError):
        await b.aget_range("nope", 2, 3)
    assert await b.aexists("a/x") and not await b.aexists("a") and not await b.aexists("nope")
    assert await listed("") == ["a/", "ab"]
    assert await listed("a") == ["a/x", "a/y/"]
    assert await listed("", recursive=True) == ["a/x", "a/y/z", "ab"]
    batch = {f"m/{i:03d}": bytes([i % 251]) * (i + 1) for i in range(120)}
    await b.aput_many(batch)
    assert await b.aget_many([*batch, "m/missing"]) == batch
    await b.adelete("nope")
    await b.adelete_many([*(f"m/{i:03d}" for i in range(0, 120, 2)), "m/missing"])
    assert await listed("m", True) == [f"m/{i:03d}" for i in range(1, 120, 2)]
    await b.adelete("a/x")
    assert not await b.aexists("a/x")
    await b.adelete_prefix("a")
    assert await b.aexists("ab") and await listed("a", recursive=True) == []
    await b.adelete_prefix("")
    assert await listed("", recursive=True) == []
    await b.aclose()
    with pytest.raises(StoreError, match="closed"):
        await b.aget_bytes("ab")


def check_object_beside_prefix(b: Backend) -> None:
    """Object stores are flat: "ab" and "ab/..." are both objects, listed and deleted apart."""
    b.put_many({"ab": b"obj", "ab/a": b"1", "ab/c/d": b"2", "abc": b"3"})
    assert b.get_bytes("ab") == b"obj"
    assert list(b.list_prefix("")) == ["ab", "ab/", "abc"]
    assert list(b.list_prefix("ab")) == ["ab/a", "ab/c/"]
    assert list(b.list_prefix("ab", recursive=True)) == ["ab/a", "ab/c/d"]
    assert asyncio.run(b.aget_many(["ab", "ab/a"])) == {"ab": b"obj", "ab/a": b"1"}
    b.delete_prefix("ab")
    assert list(b.list_prefix("", recursive=True)) == ["ab", "abc"]
    b.delete_prefix("")


def check_conditional_writes(b: Backend) -> None:
    """Create-only and if-match writes: the second creator and a stale version lose."""
    assert b.conditional_writes
    created = b.put_if("lock", b"one", expect=None)
    assert created == b.head("lock").version
    with pytest.raises(PreconditionFailedError, match="already exists"):
        b.put_if("lock", b"two", expect=None)
    assert b.get_bytes("lock") == b"one"
    b.put_bytes("lock", b"someone else")  # moves the version on
    with pytest.raises(PreconditionFailedError, match="no longer at version"):
        b.put_if("lock", b"three", expect=created)
    assert b.get_bytes("lock") == b"someone else"
    current = b.head("lock").version
    assert current is not None and current != created
    updated = b.put_if("lock", b"four", expect=current)
    assert updated != current and updated == b.head("lock").version
    assert b.get_bytes("lock") == b"four"
    with pytest.raises(PreconditionFailedError):
        b.put_if("never-written", b"x", expect=current)
    assert not b.exists("never-written")

    async def run() -> None:
        await b.aput_if("alock", b"a", expect=None)
        with pytest.raises(PreconditionFailedError):
            await b.aput_if("alock", b"b", expect=None)
        version = (await b.ahead("alock")).version
        assert version is not None
        new = await b.aput_if("alock", b"c", expect=version)
        with pytest.raises(PreconditionFailedError):
            await b.aput_if("alock", b"d", expect=version)
        assert new == (await b.ahead("alock")).version
        assert await b.aget_bytes("alock") == b"c"

    asyncio.run(run())


def check_reads(b: Backend) -> None:
    """A read-only place holding :data:`SEEDED`, through the blocking API."""
    assert b.get_bytes("a/k") == b"0123456789"
    assert b.get_range("a/k", 2, 3) == b"234" and b.get_range("a/k", 8, 10) == b"89"
    assert b.get_range("a/k", 10) == b"" and b.get_range("ab", 1, 5) == b""
    assert b.head("a/k").size == 10
    assert b.exists("ab") and not b.exists("a/nope")
    for read in (lambda: b.get_bytes("a/nope"), lambda: b.head("a/nope")):
        with pytest.raises(MissingKeyError):
            read()
    assert list(b.list_prefix("")) == ["a/", "ab"]
    assert list(b.list_prefix("a")) == ["a/k", "a/sub/"]
    assert list(b.list_prefix("", recursive=True)) == ["a/k", "a/sub/z", "ab"]
    assert b.get_many(["a/k", "ab", "missing"]) == {"a/k": b"0123456789", "ab": b"x"}


async def check_reads_async(b: Backend) -> None:
    """The same place through the coroutine API."""
    assert await b.aget_bytes("a/sub/z") == b"z"
    assert await b.aget_range("a/k", 5) == b"56789"
    assert await b.aget_range("a/k", 7, 2) == b"78"
    assert await b.aexists("a/k") and not await b.aexists("a/x")
    assert [k async for k in b.alist_prefix("a", recursive=True)] == ["a/k", "a/sub/z"]
    assert await b.aget_many(["ab", "nope"]) == {"ab": b"x"}
    with pytest.raises(MissingKeyError):
        await b.aget_bytes("nope")
    await b.aclose()


def refusal(call: Callable[[], object]) -> StoreError:
    """The StoreError ``call`` raises (never a KeyError), in one line."""
    with pytest.raises(StoreError) as info:
        call()
    assert not isinstance(info.value, KeyError) and "\n" not in str(info.value)
    return info.value


def everything_said(error: BaseException) -> str:
    """The error as a user or a log could ever see it: message, repr, chained traceback."""
    return "".join(traceback.format_exception(error)) + repr(error) + str(error)


def seed(root: Path) -> str:
    """A fresh directory under ``root`` holding :data:`SEEDED`; its name."""
    name = f"suite-{uuid.uuid4().hex[:10]}"
    for key, data in SEEDED.items():
        path = root / name / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return name


def azure_sas(account: str, key: str, container: str, permission: str) -> str:
    """A container SAS signed with the account's key (azure-storage-blob), an hour long."""
    from datetime import UTC, datetime, timedelta

    from azure.storage.blob import generate_container_sas

    expiry = datetime.now(UTC) + timedelta(hours=1)
    return str(
        generate_container_sas(
            account_name=account,
            container_name=container,
            account_key=key,
            permission=permission,
            expiry=expiry,
        )
    )


def sas_signature(sas: str) -> str:
    return dict(p.split("=", 1) for p in sas.split("&"))["sig"]


def some_points(n: int = 300, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 100, (n, 3)).astype(np.float32)


def same_points(got: np.ndarray, want: np.ndarray) -> None:
    """The same rows, in any order."""
    assert got.shape == want.shape
    np.testing.assert_array_equal(got[np.lexsort(got.T[::-1])], want[np.lexsort(want.T[::-1])])


# --------------------------------------------------------------------------- endpoints that fail
@dataclass
class SilentServer:
    """A TCP listener on 127.0.0.1 that accepts connections and never answers."""

    url: str
    accepted: list[socket.socket] = field(default_factory=list)

    @classmethod
    @contextlib.contextmanager
    def listening(cls) -> Iterator[SilentServer]:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        server = cls(f"http://127.0.0.1:{listener.getsockname()[1]}")
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
                server.accepted.append(conn)

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            yield server
        finally:
            stop.set()
            thread.join(5)
            for conn in server.accepted:
                conn.close()
            listener.close()
