"""A backend whose every protocol call goes through a :class:`~.guard.Guard`: logged and timed.

The kit hands checks a :class:`GuardedBackend` instead of the backend itself, so
each call is written in the guard's log when it starts and when it ends (the
watcher fails a call that overruns, and a failure lists the calls of its
example), while everything else is read from the backend under test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, Self, cast

from zarr_vectors.testing.guard import Guard
from zarr_vectors.testing.show import show_call

__all__ = ["GuardedBackend"]


class GuardedBackend:
    """A backend whose every protocol call is logged (and so timed) by a :class:`Guard`.

    Everything that is not a protocol call (``url``, ``hierarchical_keys``,
    ``conditional_writes``, ``max_concurrency``...) is read from the backend
    itself, so code that inspects a backend sees the real one.
    """

    def __init__(self, backend: Any, guard: Guard) -> None:
        self._backend = backend
        self._guard = guard

    @property
    def wrapped(self) -> Any:
        """The backend under test."""
        return self._backend

    @property
    def guard(self) -> Guard:
        """The guard logging this backend's calls."""
        return self._guard

    @property
    def url(self) -> str:
        url: str = self._backend.url
        return url

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_backend", "_guard"):
            raise AttributeError(name)
        return getattr(self._backend, name)

    def __repr__(self) -> str:
        return repr(self._backend)

    def _sync(self, name: str, fn: Callable[[], Any], *args: Any, **kwargs: Any) -> Any:
        return self._guard.run(name, show_call(name, *args, **kwargs), fn)

    async def _async(
        self, name: str, make: Callable[[], Awaitable[Any]], *args: Any, **kwargs: Any
    ) -> Any:
        call = self._guard.start(name, show_call(name, *args, **kwargs))
        try:
            result = await make()
        except BaseException as exc:
            self._guard.end(call, error=exc)
            raise
        self._guard.end(call, result)
        return result

    # -- blocking protocol --------------------------------------------------------------
    def get_bytes(self, key: str) -> bytes:
        return cast(bytes, self._sync("get_bytes", lambda: self._backend.get_bytes(key), key))

    def get_range(self, key: str, start: int, length: int | None = None) -> bytes:
        return cast(
            bytes,
            self._sync(
                "get_range",
                lambda: self._backend.get_range(key, start, length),
                key,
                start,
                length,
            ),
        )

    def put_bytes(self, key: str, data: bytes) -> None:
        self._sync("put_bytes", lambda: self._backend.put_bytes(key, data), key, data)

    def exists(self, key: str) -> bool:
        return cast(bool, self._sync("exists", lambda: self._backend.exists(key), key))

    def put_if(self, key: str, data: bytes, *, expect: str | None) -> str:
        return cast(
            str,
            self._sync(
                "put_if",
                lambda: self._backend.put_if(key, data, expect=expect),
                key,
                data,
                expect=expect,
            ),
        )

    def head(self, key: str) -> Any:
        return self._sync("head", lambda: self._backend.head(key), key)

    def delete(self, key: str) -> None:
        self._sync("delete", lambda: self._backend.delete(key), key)

    def delete_many(self, keys: Iterable[str]) -> None:
        listed = list(keys)
        self._sync("delete_many", lambda: self._backend.delete_many(listed), listed)

    def move_many(self, pairs: Any) -> None:
        listed = list(pairs.items()) if isinstance(pairs, Mapping) else list(pairs)
        self._sync("move_many", lambda: self._backend.move_many(listed), listed)

    def delete_prefix(self, prefix: str) -> None:
        self._sync("delete_prefix", lambda: self._backend.delete_prefix(prefix), prefix)

    def list_prefix(self, prefix: str = "", recursive: bool = False) -> Iterator[str]:
        found = self._sync(
            "list_prefix",
            lambda: list(self._backend.list_prefix(prefix, recursive=recursive)),
            prefix,
            recursive=recursive,
        )
        return iter(found)

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        listed = list(keys)
        return cast(
            "dict[str, bytes]",
            self._sync("get_many", lambda: self._backend.get_many(listed), listed),
        )

    def put_many(self, items: Any) -> None:
        pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
        self._sync("put_many", lambda: self._backend.put_many(pairs), pairs)

    def close(self) -> None:
        self._sync("close", self._backend.close)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- coroutine protocol -------------------------------------------------------------
    async def aget_bytes(self, key: str) -> bytes:
        return cast(
            bytes, await self._async("aget_bytes", lambda: self._backend.aget_bytes(key), key)
        )

    async def aget_range(self, key: str, start: int, length: int | None = None) -> bytes:
        return cast(
            bytes,
            await self._async(
                "aget_range",
                lambda: self._backend.aget_range(key, start, length),
                key,
                start,
                length,
            ),
        )

    async def aput_bytes(self, key: str, data: bytes) -> None:
        await self._async("aput_bytes", lambda: self._backend.aput_bytes(key, data), key, data)

    async def aexists(self, key: str) -> bool:
        return cast(bool, await self._async("aexists", lambda: self._backend.aexists(key), key))

    async def aput_if(self, key: str, data: bytes, *, expect: str | None) -> str:
        return cast(
            str,
            await self._async(
                "aput_if",
                lambda: self._backend.aput_if(key, data, expect=expect),
                key,
                data,
                expect=expect,
            ),
        )

    async def ahead(self, key: str) -> Any:
        return await self._async("ahead", lambda: self._backend.ahead(key), key)

    async def adelete(self, key: str) -> None:
        await self._async("adelete", lambda: self._backend.adelete(key), key)

    async def adelete_many(self, keys: Iterable[str]) -> None:
        listed = list(keys)
        await self._async("adelete_many", lambda: self._backend.adelete_many(listed), listed)

    async def amove_many(self, pairs: Any) -> None:
        listed = list(pairs.items()) if isinstance(pairs, Mapping) else list(pairs)
        await self._async("amove_many", lambda: self._backend.amove_many(listed), listed)

    async def adelete_prefix(self, prefix: str) -> None:
        await self._async("adelete_prefix", lambda: self._backend.adelete_prefix(prefix), prefix)

    async def alist_prefix(self, prefix: str = "", recursive: bool = False) -> AsyncIterator[str]:
        async def collect() -> list[str]:
            return [k async for k in self._backend.alist_prefix(prefix, recursive=recursive)]

        found = await self._async("alist_prefix", collect, prefix, recursive=recursive)
        for key in found:
            yield key

    async def aget_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        listed = list(keys)
        return cast(
            "dict[str, bytes]",
            await self._async("aget_many", lambda: self._backend.aget_many(listed), listed),
        )

    async def aput_many(self, items: Any) -> None:
        pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
        await self._async("aput_many", lambda: self._backend.aput_many(pairs), pairs)

    async def aclose(self) -> None:
        await self._async("aclose", self._backend.aclose)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
