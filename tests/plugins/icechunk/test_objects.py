"""zarr_vectors_icechunk.objects: a key stored as Icechunk's own node or chunk, or kept aside.

The small helpers directly; the writes' answers to Icechunk's refusals over a
stand-in store; and keys Icechunk does not hold, on a real local repository.
"""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path
from typing import Any

import pytest

from zarr_vectors.exceptions import StoreError
from zarr_vectors_icechunk.backend import IcechunkBackend
from zarr_vectors_icechunk.objects import (
    IcechunkObjects,
    headline,
    is_icechunk_error,
    loop_lock,
    parents_first,
)

#: An exception class as Icechunk's look: no common base, only their module says so.
IcechunkLike = type("IcechunkError", (Exception,), {"__module__": "icechunk._core"})


def test_icechunk_errors_are_told_by_their_module_or_name() -> None:
    assert is_icechunk_error(IcechunkLike("x"))
    assert is_icechunk_error(type("IcechunkError", (Exception,), {})())
    assert not is_icechunk_error(ValueError("x"))


def test_the_headline_keeps_the_wrapped_lines_of_the_first_paragraph() -> None:
    report = (
        "  x storage error: object store error Generic S3 error: 403\n"
        "  | Forbidden: Access Denied\n"
        "\n"
        "context:\n"
        "   0: icechunk::store::set\n"
    )
    assert headline(report) == "storage error: object store error Generic S3 error: 403 " + (
        "Forbidden: Access Denied"
    )
    assert headline("one line") == "one line"


def test_shallow_keys_and_documents_first() -> None:
    keys = ["a/b/c", "a/x", "a/zarr.json", "zarr.json", "b", "a/b/zarr.json"]
    assert sorted(keys, key=parents_first) == [
        "zarr.json",
        "b",
        "a/zarr.json",
        "a/x",
        "a/b/zarr.json",
        "a/b/c",
    ]


def test_one_lock_per_event_loop() -> None:
    locks: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()

    async def twice() -> bool:
        return loop_lock(locks) is loop_lock(locks)

    assert asyncio.run(twice())
    first = asyncio.run(_lock_of(locks))
    assert asyncio.run(_lock_of(locks)) is not first  # another loop, another lock


async def _lock_of(locks: weakref.WeakKeyDictionary[Any, asyncio.Lock]) -> asyncio.Lock:
    return loop_lock(locks)


class _Objects(IcechunkObjects):
    url = "s3://b/p"
    max_concurrency = 2

    def redact(self, text: str) -> str:
        return text.replace("SECRET-zv", "***")


class _Refusing:
    """A store whose ``set`` raises what it is given."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    async def set(self, key: str, value: Any) -> None:
        raise self.exc


def _set(exc: BaseException) -> bool:
    return asyncio.run(_Objects()._native_set(_Refusing(exc), "0/zarr.json", b"{}"))


def test_a_refused_node_is_kept_aside_but_a_refused_request_is_an_error() -> None:
    assert _set(KeyError("0")) is False  # a chunk of an array that is not there
    assert _set(IcechunkLike("x bad metadata")) is False
    with pytest.raises(StoreError) as info:
        _set(IcechunkLike("x storage error: object store error 403 for SECRET-zv\n\ncontext"))
    assert str(info.value) == (
        "s3://b/p: Icechunk could not write 0/zarr.json: storage error: object store error "
        "403 for ***"
    )
    with pytest.raises(OSError, match="disk"):
        _set(OSError("disk"))  # not Icechunk's: not judged here


def test_keys_icechunk_does_not_hold_are_kept_too(tmp_path: Path) -> None:
    repo = str(tmp_path / "repo")
    with IcechunkBackend(repo) as backend:
        backend.put_bytes("a/b", b"foreign")
        backend.put_bytes("g/zarr.json", b'{"zarr_format": 3, "node_type": "group"}')
        backend.put_bytes("g/h/zarr.json", b'{"zarr_format": 3, "node_type": "group"}')
        backend.put_bytes("g/x", b"under g")
        backend.put_bytes("bad/zarr.json", b"not metadata")
        assert list(backend.list_prefix("")) == ["a/", "bad/", "g/"]
        backend.delete("g/zarr.json")  # Icechunk would take g/h with it; the protocol keeps it
        assert list(backend.list_prefix("", recursive=True)) == [
            "a/b",
            "bad/zarr.json",
            "g/h/zarr.json",
            "g/x",
        ]
    with IcechunkBackend(repo) as again:  # every call was committed
        assert again.get_bytes("bad/zarr.json") == b"not metadata"
        assert again.get_range("a/b", 2, 3) == b"rei"
        assert not again.exists("g/zarr.json")
