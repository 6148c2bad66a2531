"""The fsspec backend's base: keys as file-system paths, errors as StoreErrors, timeouts.

Everything :class:`~zarr_vectors_fsspec.backend.FsspecBackend` and its
conditional writes (:mod:`zarr_vectors_fsspec.conditional`) share: the mapping
from keys to paths (and listed paths back to keys), the translation of a file
system's error into a :class:`~zarr_vectors.exceptions.StoreError` without a
secret, the per-request timeout, and the two reads (``_read``, ``_info``) both
sides use. Every coroutine runs on the project's one I/O loop (:func:`_on_io_loop`).
"""

from __future__ import annotations

import asyncio
import functools
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, NoReturn, ParamSpec, TypeVar

from zarr_vectors.exceptions import (
    InvalidKeyError,
    KeyConflictError,
    RangeNotSatisfiableError,
    StoreError,
)
from zarr_vectors.storage.async_base import AsyncBackend
from zarr_vectors.storage.local import TEMP_PREFIX
from zarr_vectors.storage.runner import get_loop
from zarr_vectors_fsspec.errors import _denied, _http_status, _no_credentials
from zarr_vectors_fsspec.options import AWS_ENV_HINT, S3_PROTOCOLS

P = ParamSpec("P")
T = TypeVar("T")


def _on_io_loop(
    method: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """Run a coroutine method on the project's one I/O loop, whichever loop awaits it.

    An async fsspec file system is bound to the loop its HTTP session was made
    on; this keeps every request of a backend on one loop (the runner's), so the
    ``a``-methods work from any caller's loop and the blocking ones from threads.
    """

    @functools.wraps(method)
    async def on_loop(*args: P.args, **kwargs: P.kwargs) -> T:
        loop = get_loop()
        coro = method(*args, **kwargs)
        if asyncio.get_running_loop() is loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    return on_loop


def _temporary(key: str) -> bool:
    """Whether a key names a temporary file of an atomic local write (or lies under one)."""
    return key.startswith(TEMP_PREFIX) or f"/{TEMP_PREFIX}" in key


class FsspecPaths(AsyncBackend):
    """Paths, errors and timed requests of an fsspec backend (set up by its constructor)."""

    protocol: str
    timeout: float
    fs: Any
    _root: str
    _bucket: str
    _strip: Callable[[str], str]

    # -- paths --------------------------------------------------------------------------------
    def _path(self, key: str) -> str:
        if _temporary(key):
            raise InvalidKeyError(
                f"The key {key!r} of {self.url} has a segment starting with {TEMP_PREFIX!r}, "
                "which is reserved for temporary files of atomic writes; use another key."
            )
        return self._kept(key, f"{self._root}/{key}")

    def _dir(self, prefix: str) -> str:
        """File-system path of the directory named by a normalised prefix."""
        return self._kept(prefix, f"{self._root}/{prefix}".rstrip("/")) if prefix else self._root

    def _kept(self, key: str, path: str) -> str:
        """``path``, if the file system keeps it as it is; else the key is refused.

        A file system that rewrites a path would store the key under another
        name, where it aliases a different key (adlfs parses paths as URLs and
        drops a trailing '#').
        """
        stored = self._strip(path)
        if stored != path:
            raise InvalidKeyError(
                f"The {self.protocol!r} file system would store the key {key!r} of {self.url} "
                f"under another name ({stored[len(self._root) + 1 :]!r}); use another key."
            )
        return path

    def _name(self, listed: str) -> str:
        """A listed path as a path of the root's kind, without a trailing '/'.

        Only a name with a protocol is stripped: adlfs's ``_strip_protocol``
        parses a path as a URL and would drop a '#' that ends a directory's name.
        """
        if "://" in listed:
            listed = self._strip(listed)
        return listed.rstrip("/")

    def _key_of(self, name: str) -> str | None:
        """The key of a listed path, or None when it is outside the root."""
        name = self._name(name)
        base = f"{self._root}/"
        if not name.startswith(base) or name == self._root:
            return None
        return name[len(base) :]

    def _children(self, entries: list[dict[str, Any]], prefix: str) -> list[str]:
        found: set[str] = set()
        for entry in entries:
            key = self._key_of(str(entry["name"]))
            if key is None or not key.startswith(prefix) or key == prefix.rstrip("/"):
                continue
            if _temporary(key):
                continue
            rest = key[len(prefix) :]
            if not rest or "/" in rest:
                continue
            found.add(key + "/" if entry.get("type") == "directory" else key)
        return sorted(found)

    def _objects(self, names: list[str], prefix: str) -> list[str]:
        keys = (self._key_of(str(n)) for n in names)
        return sorted(
            k for k in keys if k is not None and k.startswith(prefix) and not _temporary(k)
        )

    def _names_object(self, entries: list[dict[str, Any]], path: str) -> bool:
        """Whether a listing of ``path`` returned the object at ``path`` itself."""
        return any(
            self._name(str(e["name"])) == path and e.get("type") != "directory" for e in entries
        )

    # -- errors -------------------------------------------------------------------------------
    def _fail(self, action: str, what: str, exc: BaseException) -> NoReturn:
        """Raise ``exc`` as a StoreError, chaining the cause only if it holds no secret."""
        if isinstance(exc, TimeoutError):
            cause = (
                f"no answer within {self.timeout:g} s (check that the endpoint is reachable, "
                "or raise timeout= if the store is slow)"
            )
        elif self.protocol in S3_PROTOCOLS and _no_credentials(exc):
            cause = (
                "no S3 credentials were found; pass storage_options={'key': ..., 'secret': ...}, "
                f"or anon=True for a public bucket, {AWS_ENV_HINT}"
            )
        elif _denied(exc):
            cause = f"access was refused, check the credentials ({self._describe(exc)})"
        else:
            cause = self._describe(exc)
        where = what if what == self.url else f"{what} in {self.url}"
        error = StoreError(f"Cannot {action} {where}: {cause}.")
        chain = "".join(traceback.format_exception(exc))
        if self.redact(chain) != chain:
            raise error from None
        raise error from exc

    def _describe(self, exc: BaseException) -> str:
        lines = str(exc).strip().splitlines()
        text = lines[0].strip().rstrip(".") if lines else "no message"
        if len(text) > 300:
            text = text[:300] + "..."
        return f"{type(exc).__name__}: {self.redact(text)}"

    def _conflict(self, key: str) -> KeyConflictError:
        return KeyConflictError(
            f"Cannot write {key!r} in {self.url}: this file system keeps keys as a "
            "hierarchy, and a key cannot be both an object and a prefix of other keys."
        )

    async def _timed(self, awaitable: Awaitable[T]) -> T:
        # asyncio.timeout, not wait_for: no extra task per call (batches make thousands)
        async with asyncio.timeout(self.timeout):
            return await awaitable

    async def _read(self, key: str, start: int | None, end: int | None) -> bytes:
        path = self._path(key)
        try:
            data = await self._timed(self.fs._cat_file(path, start=start, end=end))
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise await self._aconfirm_missing(key) from None
        except Exception as exc:
            if start is not None and _http_status(exc) == 416:
                raise RangeNotSatisfiableError(
                    f"The range from byte {start} of {key!r} in {self.url} was refused."
                ) from None
            self._fail("read", repr(key), exc)
        return bytes(data)

    async def _info(self, key: str, action: str) -> dict[str, Any] | None:
        """The file system's ``_info`` of ``key``'s object, or None when there is none."""
        path = self._path(key)
        try:
            info: dict[str, Any] = await self._timed(self.fs._info(path))
        except (FileNotFoundError, NotADirectoryError):
            await self._aconfirm_missing(key)  # a missing bucket is a StoreError
            return None
        except Exception as exc:
            self._fail(action, repr(key), exc)
        return info if info.get("type") == "file" else None
