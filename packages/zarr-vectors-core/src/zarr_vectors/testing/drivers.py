"""One blocking interface over a backend's sync methods or its async twins.

The state machine is written once against :class:`Driver`; :class:`SyncDriver`
calls ``get_bytes`` and friends, :class:`AsyncDriver` calls ``aget_bytes`` and
friends on an event loop of its own. A backend whose async twin disagrees with
its sync method therefore fails one machine and not the other. The drivers are
given the kit's :class:`~.guard.GuardedBackend`, so every call is logged and timed.

Both drivers insist that reads return ``bytes`` itself: a ``bytearray`` (mutable,
unhashable) or a ``memoryview`` (tied to a buffer that may be reused) breaks
callers that keep, hash or compare what they read, so the protocol says ``bytes``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from zarr_vectors.exceptions import ConformanceError
from zarr_vectors.storage import ObjectInfo
from zarr_vectors.testing.show import show_call, show_key

__all__ = ["AsyncDriver", "Driver", "SyncDriver", "exact_bytes"]

T = TypeVar("T")


def exact_bytes(backend: Any, value: Any, call: str) -> bytes:
    """``value`` if it is ``bytes`` itself; else a failure naming the call and the type."""
    if type(value) is bytes:
        return value
    error = ConformanceError(
        f"{call} on {backend!r} returned a {type(value).__name__}, not bytes. The protocol "
        "returns bytes (immutable): callers keep, hash and compare what they read. Convert "
        "with bytes(...) before returning."
    )
    guard = getattr(backend, "guard", None)
    if guard is not None:
        guard.attach(error)
    raise error


def _exact_dict(backend: Any, found: Any, call: str) -> dict[str, bytes]:
    return {
        k: exact_bytes(backend, v, f"{call} (the value of {show_key(k)})") for k, v in found.items()
    }


class Driver(Protocol):
    """The operations the kit performs, each returning plain values."""

    name: str

    def get(self, key: Any) -> bytes: ...
    def get_range(self, key: Any, start: int, length: int | None) -> bytes: ...
    def put(self, key: Any, value: bytes) -> None: ...
    def put_if(self, key: Any, value: bytes, expect: str | None) -> str: ...
    def exists(self, key: Any) -> bool: ...
    def head(self, key: Any) -> ObjectInfo: ...
    def delete(self, key: Any) -> None: ...
    def delete_many(self, keys: list[Any]) -> None: ...
    def move_many(self, pairs: list[tuple[Any, Any]]) -> None: ...
    def delete_prefix(self, prefix: Any) -> None: ...
    def ls(self, prefix: Any, recursive: bool) -> list[str]: ...
    def get_many(self, keys: list[Any]) -> dict[str, bytes]: ...
    def put_many(self, items: list[tuple[Any, bytes]]) -> None: ...
    def close(self) -> None: ...


class SyncDriver:
    """Calls the blocking protocol."""

    name = "sync"

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def get(self, key: Any) -> bytes:
        return exact_bytes(self.backend, self.backend.get_bytes(key), show_call("get_bytes", key))

    def get_range(self, key: Any, start: int, length: int | None) -> bytes:
        got = self.backend.get_range(key, start, length)
        return exact_bytes(self.backend, got, show_call("get_range", key, start, length))

    def put(self, key: Any, value: bytes) -> None:
        self.backend.put_bytes(key, value)

    def put_if(self, key: Any, value: bytes, expect: str | None) -> str:
        version: str = self.backend.put_if(key, value, expect=expect)
        return version

    def exists(self, key: Any) -> bool:
        return bool(self.backend.exists(key))

    def head(self, key: Any) -> ObjectInfo:
        info: ObjectInfo = self.backend.head(key)
        return info

    def delete(self, key: Any) -> None:
        self.backend.delete(key)

    def delete_many(self, keys: list[Any]) -> None:
        self.backend.delete_many(keys)

    def move_many(self, pairs: list[tuple[Any, Any]]) -> None:
        self.backend.move_many(pairs)

    def delete_prefix(self, prefix: Any) -> None:
        self.backend.delete_prefix(prefix)

    def ls(self, prefix: Any, recursive: bool) -> list[str]:
        return list(self.backend.list_prefix(prefix, recursive=recursive))

    def get_many(self, keys: list[Any]) -> dict[str, bytes]:
        return _exact_dict(self.backend, self.backend.get_many(keys), "get_many")

    def put_many(self, items: list[tuple[Any, bytes]]) -> None:
        self.backend.put_many(items)

    def close(self) -> None:
        self.backend.close()


class AsyncDriver:
    """Calls the coroutine protocol, each call run to completion on a private loop.

    A new loop per driver (so per state-machine run): a backend that keeps
    loop-bound state from an earlier loop fails here as it would for a user.
    The loop's worker threads are daemon threads (see :mod:`~.guard`).
    """

    name = "async"

    def __init__(self, backend: Any) -> None:
        import asyncio

        from zarr_vectors.testing.guard import _PoolExecutor

        self.backend = backend
        self.loop = asyncio.new_event_loop()
        self.loop.set_default_executor(_PoolExecutor())

    def run(self, make: Callable[[], Awaitable[T]]) -> T:
        async def call() -> T:
            return await make()

        return self.loop.run_until_complete(call())

    def get(self, key: Any) -> bytes:
        got = self.run(lambda: self.backend.aget_bytes(key))
        return exact_bytes(self.backend, got, show_call("aget_bytes", key))

    def get_range(self, key: Any, start: int, length: int | None) -> bytes:
        got = self.run(lambda: self.backend.aget_range(key, start, length))
        return exact_bytes(self.backend, got, show_call("aget_range", key, start, length))

    def put(self, key: Any, value: bytes) -> None:
        self.run(lambda: self.backend.aput_bytes(key, value))

    def put_if(self, key: Any, value: bytes, expect: str | None) -> str:
        version: str = self.run(lambda: self.backend.aput_if(key, value, expect=expect))
        return version

    def exists(self, key: Any) -> bool:
        return bool(self.run(lambda: self.backend.aexists(key)))

    def head(self, key: Any) -> ObjectInfo:
        info: ObjectInfo = self.run(lambda: self.backend.ahead(key))
        return info

    def delete(self, key: Any) -> None:
        self.run(lambda: self.backend.adelete(key))

    def delete_many(self, keys: list[Any]) -> None:
        self.run(lambda: self.backend.adelete_many(keys))

    def move_many(self, pairs: list[tuple[Any, Any]]) -> None:
        self.run(lambda: self.backend.amove_many(pairs))

    def delete_prefix(self, prefix: Any) -> None:
        self.run(lambda: self.backend.adelete_prefix(prefix))

    def ls(self, prefix: Any, recursive: bool) -> list[str]:
        async def collect() -> list[str]:
            return [k async for k in self.backend.alist_prefix(prefix, recursive=recursive)]

        return self.run(collect)

    def get_many(self, keys: list[Any]) -> dict[str, bytes]:
        found = self.run(lambda: self.backend.aget_many(keys))
        return _exact_dict(self.backend, found, "aget_many")

    def put_many(self, items: list[tuple[Any, bytes]]) -> None:
        self.run(lambda: self.backend.aput_many(items))

    def close(self) -> None:
        try:
            self.run(self.backend.aclose)
        finally:
            self.loop.close()
