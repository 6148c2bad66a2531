"""The async template (zarr_vectors.storage.async_base): write the ``_a...`` primitives only.

A dict-backed subclass with the five required coroutines, and nothing else, gets
every blocking operation of the protocol; the calls it receives are counted so
the defaults are seen to use the async primitives and never a thread of their own.
"""

from __future__ import annotations

import threading

import pytest

from zarr_vectors.exceptions import MissingKeyError, UnsupportedOperationError
from zarr_vectors.storage.async_base import AsyncBackend
from zarr_vectors.storage.protocol import missing_key


class DictBackend(AsyncBackend):
    """An in-memory backend over the five required coroutines."""

    def __init__(self) -> None:
        super().__init__("memory://dict")
        self.objects: dict[str, bytes] = {}
        self.threads: set[str] = set()

    async def _aget(self, key: str) -> bytes:
        self.threads.add(threading.current_thread().name)
        try:
            return self.objects[key]
        except KeyError:
            raise missing_key(key, self.url) from None

    async def _aput(self, key: str, data: bytes) -> None:
        self.threads.add(threading.current_thread().name)
        self.objects[key] = data

    async def _aexists(self, key: str) -> bool:
        return key in self.objects

    async def _adelete(self, key: str) -> None:
        self.objects.pop(key, None)

    async def _alist(self, prefix: str, recursive: bool) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))


def test_the_blocking_protocol_runs_on_the_async_primitives() -> None:
    with DictBackend() as backend:
        backend.put_many([("a/1", b"one"), ("a/2", b"two!"), ("b", b"bee")])
        assert backend.get_bytes("a/2") == b"two!"
        assert backend.get_range("a/2", 1, 2) == b"wo" and backend.get_range("a/2", 2) == b"o!"
        assert backend.head("a/2").size == 4
        assert backend.get_many(["a/1", "nope", "b"]) == {"a/1": b"one", "b": b"bee"}
        assert backend.exists("b") and not backend.exists("c")
        backend.move_many([("a/1", "c/1"), ("missing", "c/9")])
        assert sorted(backend.objects) == ["a/2", "b", "c/1"]
        assert backend.objects["c/1"] == b"one"
        backend.delete_prefix("a/")
        assert sorted(backend.objects) == ["b", "c/1"]
        with pytest.raises(MissingKeyError, match="'gone' not found in memory://dict"):
            backend.get_bytes("gone")
    assert backend.threads == {"zarr-vectors-io"}  # the one I/O loop, no worker threads


def test_conditional_writes_are_not_offered_by_default() -> None:
    with DictBackend() as backend, pytest.raises(UnsupportedOperationError, match="conditional"):
        backend.put_if("k", b"v", expect=None)
    assert backend.objects == {}
