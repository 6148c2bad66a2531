"""FsspecBackend: a zarr-vectors store on any fsspec file system.

Two ways of driving the file system, chosen by what it is:

* **Async file systems** (s3fs, gcsfs, adlfs, HTTP: ``fs.async_impl`` is true)
  are used through their coroutines (``_cat_file``, ``_pipe_file``, ``_info``,
  ``_ls``, ``_find``, ``_rm_file``). An fsspec async file system is bound to
  the event loop its HTTP session was created on, so every coroutine of a
  backend runs on **one** loop: the file system's own (``fs.loop``, fsspec's
  I/O thread). The sync API submits coroutines there and waits; the async API
  submits them there and awaits the result from whatever loop the caller runs
  (one ``asyncio.run`` after another included). Batch calls are one
  submission: a gather on that loop bounded by a semaphore of
  ``max_concurrency``. Every request is cut off after ``timeout`` seconds and
  becomes a :class:`StoreError`.
* **Sync file systems** (memory, local, SFTP through paramiko...) are called
  directly by the sync API and on worker threads by the async API (the
  defaults of :class:`Backend`). They keep keys as a hierarchy, so a key cannot
  be both an object and a prefix (:class:`KeyConflictError`). The ``timeout``
  cannot interrupt a blocked thread; pass the file system's own timeout option
  (e.g. SFTP's ``timeout``) for those.

fsspec's ``memory://`` file system is **process-global**: two backends on the
same ``memory://`` root see the same objects, and different roots are
separate directories of that one store.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from concurrent.futures import Future
from typing import Any, NoReturn, TypeVar

from zarr_vectors.core.backends.base import Backend, children_of, missing_key
from zarr_vectors.core.backends.resolve import url_scheme
from zarr_vectors.core.secrets import is_secret_option, redact_text
from zarr_vectors.exceptions import (
    BackendOptionError,
    KeyConflictError,
    MissingKeyError,
    PluginError,
    StoreError,
)

__all__ = ["FsspecBackend"]

T = TypeVar("T")

#: Protocols whose first path segment is a bucket or container.
_BUCKET_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "azure", "abfs", "abfss", "adl"})
#: Read-only protocols.
_READ_ONLY_PROTOCOLS = frozenset({"http", "https"})
#: Options the backend manages itself and refuses from the caller.
_MANAGED_OPTIONS = ("asynchronous", "loop")
#: Option names whose values are treated as secrets in messages beyond the core's list.
_EXTRA_SECRET_NAMES = frozenset({"key", "account_name"})
#: Default seconds one request may take before it fails with a StoreError.
DEFAULT_TIMEOUT = 60.0


def _secret_values(options: Mapping[str, Any]) -> list[str]:
    """Every credential string in ``options`` (nested mappings included)."""
    found: list[str] = []
    for name, value in options.items():
        if isinstance(value, Mapping):
            found.extend(_secret_values(value))
        elif isinstance(value, str) and (
            is_secret_option(str(name)) or str(name).lower() in _EXTRA_SECRET_NAMES
        ):
            found.append(value)
    return found


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status an SDK exception carries (azure-core: status_code; aiohttp: status)."""
    for name in ("status_code", "status"):
        value = getattr(exc, name, None)
        if isinstance(value, int):
            return value
    return None


def _is_async_fs(fs: Any) -> bool:
    return bool(getattr(fs, "async_impl", False))


class FsspecBackend(Backend):
    """A store rooted at any fsspec URL (``s3://``, ``gs://``, ``az://``, ``memory://``...).

    Parameters
    ----------
    url:
        Root of the store, e.g. ``s3://bucket/stores/a.zv`` or ``memory://scratch``.
        Object-store URLs must name a bucket (container).
    max_concurrency:
        Requests in flight at once in ``get_many`` / ``put_many`` and their async
        twins.
    timeout:
        Seconds one request may take (async file systems) before it fails with a
        :class:`StoreError`; it never hangs.
    verify_prefixes:
        On object stores, make a non-recursive listing check that every container
        it reports still holds an object (one small request each): S3-compatible
        servers with real folders, such as SeaweedFS, keep listing a folder after
        its last object is deleted.
    **storage_options:
        Passed to the fsspec file system unchanged (s3fs ``key``, ``secret``,
        ``endpoint_url``, ``client_kwargs``; gcsfs ``token``, ``endpoint_url``;
        adlfs ``connection_string``, ``account_name``, ``account_key``...). They
        are never shown: ``repr`` and errors name only the redacted URL.
    """

    backend_name = "fsspec"

    def __init__(
        self,
        url: str,
        *,
        max_concurrency: int = 32,
        timeout: float = DEFAULT_TIMEOUT,
        verify_prefixes: bool = False,
        **storage_options: Any,
    ) -> None:
        super().__init__(url, max_concurrency=max_concurrency)
        self.verify_prefixes = bool(verify_prefixes)
        if not isinstance(timeout, int | float) or timeout <= 0:
            raise BackendOptionError(f"timeout must be a number of seconds > 0, got {timeout!r}.")
        for name in _MANAGED_OPTIONS:
            if name in storage_options:
                raise BackendOptionError(
                    f"The fsspec backend manages the file system's event loop itself; drop the "
                    f"option {name!r} (use the backend's async methods for async code)."
                )
        self.timeout = float(timeout)
        self._secrets = _secret_values(storage_options)
        protocol = url_scheme(url) or "file"
        self.protocol = protocol
        fs_class = self._fs_class(protocol)
        options: dict[str, Any] = dict(fs_class._get_kwargs_from_urls(url))
        options.update(storage_options)
        self._secrets.extend(_secret_values(options))
        fs_class = self._custom_endpoint_class(fs_class, options)
        self._prepare_options(fs_class, options)
        try:
            self.fs: Any = fs_class(**options)
        except Exception as exc:
            raise self._store_error("open", "", exc) from None
        root = fs_class._strip_protocol(url)
        self._root = root.rstrip("/") if root not in ("/",) else ""
        self._async = _is_async_fs(self.fs)
        self.writable = protocol not in _READ_ONLY_PROTOCOLS  # type: ignore[misc]
        self.hierarchical_keys = not self._async  # type: ignore[misc]
        self._bucket = self._root.split("/", 1)[0] if protocol in _BUCKET_PROTOCOLS else ""
        if protocol in _BUCKET_PROTOCOLS and not self._bucket:
            raise StoreError(
                f"{self.url} names no bucket or container; use {protocol}://BUCKET/optional/prefix."
            )
        self._bucket_checked = False

    # -- construction helpers ---------------------------------------------------------------
    def _fs_class(self, protocol: str) -> Any:
        import fsspec

        try:
            return fsspec.get_filesystem_class(protocol)
        except ValueError as exc:
            raise StoreError(
                f"fsspec knows no protocol {protocol!r} (for {self.url}); install the package "
                "that provides it or check the URL's scheme."
            ) from exc
        except ImportError as exc:
            raise PluginError(
                f"The fsspec protocol {protocol!r} needs a package that is not installed "
                f'({exc}). For cloud stores: pip install "zarr-vectors-fsspec[s3,gcs,azure]".'
            ) from None

    def _custom_endpoint_class(self, fs_class: Any, options: dict[str, Any]) -> Any:
        """gcsfs's default class asks Google's gRPC control plane for each bucket's layout.

        That API exists only on Google's own endpoint: against an emulator or any
        other ``endpoint_url`` every lookup waits for its own timeout and is never
        cached. With a custom endpoint, the plain JSON-API class is used instead.
        """
        if self.protocol in ("gs", "gcs") and options.get("endpoint_url"):
            from gcsfs.core import GCSFileSystem

            return GCSFileSystem
        return fs_class

    def _prepare_options(self, fs_class: Any, options: dict[str, Any]) -> None:
        """Defaults that make fsspec behave as a key/value store (no stale caches)."""
        if getattr(fs_class, "async_impl", False):
            # A private instance: closing this backend must not close anyone else's session.
            options.setdefault("skip_instance_cache", True)
            options.setdefault("use_listings_cache", False)
        if self.protocol in ("s3", "s3a"):
            config = dict(options.get("config_kwargs") or {})
            config.setdefault("max_pool_connections", self.max_concurrency)
            config.setdefault("connect_timeout", self.timeout)
            config.setdefault("read_timeout", self.timeout)
            options["config_kwargs"] = config
        if self.protocol in ("file", "local"):
            options.setdefault("auto_mkdir", True)

    # -- paths --------------------------------------------------------------------------------
    def _path(self, key: str) -> str:
        return f"{self._root}/{key}"

    def _dir(self, prefix: str) -> str:
        """File-system path of the directory named by a normalised prefix."""
        return f"{self._root}/{prefix}".rstrip("/") if prefix else self._root

    def _key_of(self, name: str) -> str | None:
        """The key of a listed path, or None when it is outside the root."""
        name = self.fs._strip_protocol(name).rstrip("/")
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
            rest = key[len(prefix) :]
            if not rest or "/" in rest:
                continue
            found.add(key + "/" if entry.get("type") == "directory" else key)
        return sorted(found)

    def _objects(self, names: list[str], prefix: str) -> list[str]:
        keys = (self._key_of(str(n)) for n in names)
        return sorted(k for k in keys if k is not None and k.startswith(prefix))

    # -- errors -------------------------------------------------------------------------------
    def _redact(self, text: str) -> str:
        return redact_text(text, self._secrets)

    def _store_error(self, action: str, key: str, exc: BaseException) -> StoreError:
        where = f"{key!r} in {self.url}" if key else self.url
        if isinstance(exc, TimeoutError | asyncio.TimeoutError):
            cause = (
                f"no answer within {self.timeout:g} s (check that the endpoint is reachable, "
                "or raise timeout= if the store is slow)"
            )
        elif isinstance(exc, PermissionError) or _http_status(exc) in (401, 403):
            cause = f"access was refused, check the credentials ({self._describe(exc)})"
        else:
            cause = self._describe(exc)
        return StoreError(f"Cannot {action} {where}: {cause}.")

    def _describe(self, exc: BaseException) -> str:
        lines = str(exc).strip().splitlines()
        text = lines[0].strip().rstrip(".") if lines else "no message"
        if len(text) > 300:
            text = text[:300] + "..."
        return f"{type(exc).__name__}: {self._redact(text)}"

    def _raise(self, action: str, key: str, exc: BaseException) -> NoReturn:
        """Raise ``exc`` as a StoreError, chaining the cause only if it holds no secret."""
        error = self._store_error(action, key, exc)
        chain = "".join(traceback.format_exception(exc))
        if self._redact(chain) != chain:
            raise error from None
        raise error from exc

    def _missing_bucket(self, action: str, key: str) -> StoreError:
        kind = "container" if self.protocol in ("az", "azure", "abfs", "abfss", "adl") else "bucket"
        where = f"{key!r} in {self.url}" if key else self.url
        return StoreError(
            f"Cannot {action} {where}: the {kind} {self._bucket!r} does not exist; "
            "create it first or fix the URL."
        )

    # -- running coroutines on the file system's loop ------------------------------------------
    def _submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.fs.loop)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Sync API: run ``coro`` on the file system's loop and wait for it."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.fs.loop:
            coro.close()
            raise StoreError(
                "A blocking FsspecBackend method was called on fsspec's own I/O loop; "
                "use the async method (a...) instead."
            )
        return self._submit(coro).result()

    async def _arun(self, coro: Coroutine[Any, Any, T]) -> T:
        """Async API: run ``coro`` on the file system's loop and await it from the caller's."""
        if asyncio.get_running_loop() is self.fs.loop:
            return await coro
        return await asyncio.wrap_future(self._submit(coro))

    async def _timed(self, awaitable: Awaitable[T]) -> T:
        return await asyncio.wait_for(awaitable, self.timeout)

    async def _check_bucket(self, action: str, key: str) -> None:
        """After a not-found: tell a missing key from a missing bucket (checked once)."""
        if not self._bucket or self._bucket_checked:
            return
        try:
            await self._timed(self.fs._info(self._bucket))
        except FileNotFoundError:
            raise self._missing_bucket(action, key) from None
        except Exception as exc:
            if not (isinstance(exc, PermissionError) or _http_status(exc) in (401, 403)):
                self._raise(action, key, exc)
            # Credentials that may read objects but not the bucket: the key is just missing.
        self._bucket_checked = True

    # -- async primitives (coroutines that run on fs.loop) -----------------------------------------
    async def _co_get(self, key: str, start: int | None, length: int | None) -> bytes:
        end = None if length is None or start is None else start + length
        try:
            data = await self._timed(self.fs._cat_file(self._path(key), start=start, end=end))
        except FileNotFoundError:
            if start is not None and self._bucket:
                # SeaweedFS answers 404 to a range of an empty object named like a folder:
                # confirm with a HEAD (MissingKeyError if the key is really missing).
                size = await self._co_size(key)
                if size is None or start >= size:
                    return b""
                return (await self._co_get(key, None, None))[start : end or None]
            await self._check_bucket("read", key)
            raise missing_key(key, self.url) from None
        except (IsADirectoryError, NotADirectoryError):
            raise missing_key(key, self.url) from None
        except MissingKeyError:
            raise
        except Exception as exc:
            if start is not None and not isinstance(exc, TimeoutError):
                # a range at or past the end is refused (416); the protocol says b""
                size = await self._co_size(key)
                if size is not None and start >= size:
                    return b""
            self._raise("read", key, exc)
        data = bytes(data)
        if length is not None and start is not None and len(data) > length:
            data = data[start : start + length]  # a server that ignored the Range header
        return data

    async def _co_size(self, key: str) -> int | None:
        try:
            info = await self._timed(self.fs._info(self._path(key)))
        except FileNotFoundError:
            await self._check_bucket("read", key)
            raise missing_key(key, self.url) from None
        except Exception as exc:
            self._raise("read", key, exc)
        if info.get("type") != "file":
            raise missing_key(key, self.url)
        size = info.get("size")
        return int(size) if size is not None else None

    async def _co_exists(self, key: str) -> bool:
        try:
            info = await self._timed(self.fs._info(self._path(key)))
        except FileNotFoundError:
            await self._check_bucket("check", key)
            return False
        except Exception as exc:
            self._raise("check", key, exc)
        return bool(info.get("type") == "file")

    async def _co_put(self, key: str, data: bytes) -> None:
        try:
            await self._timed(self.fs._pipe_file(self._path(key), data))
        except FileNotFoundError:
            if self._bucket:
                raise self._missing_bucket("write", key) from None
            raise StoreError(
                f"Cannot write {key!r} in {self.url}: its location does not exist."
            ) from None
        except Exception as exc:
            self._raise("write", key, exc)

    async def _co_delete(self, key: str) -> None:
        try:
            await self._timed(self.fs._rm_file(self._path(key)))
        except (FileNotFoundError, IsADirectoryError):
            return
        except Exception as exc:
            self._raise("delete", key, exc)

    async def _co_list(self, prefix: str, recursive: bool) -> list[str]:
        path = self._dir(prefix)
        try:
            if recursive and self._bucket:
                return await self._co_find_under(prefix)
            if recursive:
                names = await self._timed(self.fs._find(path, withdirs=False))
                return self._objects(list(names), prefix)
            entries = list(await self._timed(self.fs._ls(path, detail=True)))
            if self._bucket and prefix and self._names_object(entries, path):
                # adlfs lists an object "ab" in place of the directory "ab/" beside it
                return children_of(prefix, await self._co_find_under(prefix), False)
        except FileNotFoundError:
            await self._check_bucket("list", prefix)
            return []
        except Exception as exc:
            self._raise("list", prefix, exc)
        children = self._children(entries, prefix)
        if self.verify_prefixes and self._bucket:
            containers = [c for c in children if c.endswith("/")]
            flags = await self._bounded([self._co_holds_objects(c) for c in containers])
            empty = {c for c, keep in zip(containers, flags, strict=True) if not keep}
            children = [c for c in children if c not in empty]
        return children

    async def _co_holds_objects(self, container: str) -> bool:
        """Whether at least one object is stored under the container key ``container``."""
        bucket, _, key = f"{self._root}/{container}".partition("/")
        call = getattr(self.fs, "_call_s3", None)
        try:
            if call is not None:  # s3fs: one listing request for a single key
                page = await self._timed(
                    call("list_objects_v2", Bucket=bucket, Prefix=key, MaxKeys=1)
                )
                return bool(page.get("Contents"))
            return bool(await self._co_find_under(container))
        except Exception as exc:
            self._raise("list", container, exc)

    async def _co_find_under(self, prefix: str) -> list[str]:
        """Every object key under ``prefix``, by a server-side prefix listing from the root.

        Finding ``<root>/ab`` itself would return just the object ``ab`` when one
        exists beside ``ab/...`` (adlfs); a prefix under the root cannot be mistaken.
        """
        found = await self._timed(self.fs._find(self._root, withdirs=False, prefix=prefix))
        return self._objects(list(found), prefix)

    def _names_object(self, entries: list[dict[str, Any]], path: str) -> bool:
        """Whether a listing of ``path`` returned the object at ``path`` itself."""
        return any(
            self.fs._strip_protocol(str(e["name"])).rstrip("/") == path
            and e.get("type") != "directory"
            for e in entries
        )

    async def _co_delete_prefix(self, prefix: str) -> None:
        keys = await self._co_list(prefix, True)
        paths = [self._path(k) for k in keys]
        bulk: Callable[[list[str]], Awaitable[Any]] | None = getattr(self.fs, "_bulk_delete", None)
        if bulk is not None:  # s3fs: 1,000 keys per request
            chunks = [paths[i : i + 1000] for i in range(0, len(paths), 1000)]
            try:
                await self._bounded([self._timed(bulk(chunk)) for chunk in chunks])
            except Exception as exc:
                self._raise("delete under", prefix, exc)
            return
        await self._bounded([self._co_delete(k) for k in keys])

    async def _bounded(self, awaitables: list[Awaitable[T]]) -> list[T]:
        semaphore = asyncio.Semaphore(self.max_concurrency)

        async def one(awaitable: Awaitable[T]) -> T:
            async with semaphore:
                return await awaitable

        return list(await asyncio.gather(*(one(a) for a in awaitables)))

    async def _co_get_many(self, keys: list[str]) -> dict[str, bytes]:
        async def fetch(key: str) -> tuple[str, bytes | None]:
            try:
                return key, await self._co_get(key, None, None)
            except KeyError:
                return key, None

        results = await self._bounded([fetch(k) for k in keys])
        return {k: v for k, v in results if v is not None}

    async def _co_put_many(self, items: list[tuple[str, bytes]]) -> None:
        await self._bounded([self._co_put(k, d) for k, d in items])

    # -- sync file systems: direct calls with the same error mapping -------------------------------
    def _sync_call(self, action: str, key: str, func: Callable[[], T]) -> T:
        try:
            return func()
        except (StoreError, MissingKeyError):
            raise
        except (FileExistsError, NotADirectoryError) as exc:
            if action == "write":
                raise KeyConflictError(
                    f"Cannot write {key!r} in {self.url}: this file system keeps keys as a "
                    "hierarchy, and a key cannot be both an object and a prefix of other keys."
                ) from None
            self._raise(action, key, exc)
        except Exception as exc:
            self._raise(action, key, exc)
        raise AssertionError("unreachable")  # pragma: no cover

    def _sync_get(self, key: str, start: int | None, length: int | None) -> bytes:
        end = None if length is None or start is None else start + length

        def read() -> bytes:
            try:
                return bytes(self.fs.cat_file(self._path(key), start=start, end=end))
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                raise missing_key(key, self.url) from None

        return self._sync_call("read", key, read)

    def _sync_prune(self, path: str) -> None:
        """Remove directories left empty by a delete, up to (not including) the root."""
        parent = path.rsplit("/", 1)[0]
        while parent and parent != self._root and parent.startswith(f"{self._root}/"):
            try:
                if self.fs.ls(parent, detail=False):
                    return
                self.fs.rmdir(parent)
            except Exception:
                return
            parent = parent.rsplit("/", 1)[0]

    def _sync_delete(self, key: str) -> None:
        path = self._path(key)

        def remove() -> None:
            try:
                if not self.fs.isfile(path):
                    return
                self.fs.rm_file(path)
            except (FileNotFoundError, IsADirectoryError):
                return
            self._sync_prune(path)

        self._sync_call("delete", key, remove)

    def _sync_list(self, prefix: str, recursive: bool) -> list[str]:
        path = self._dir(prefix)

        def listing() -> list[str]:
            try:
                if not self.fs.isdir(path):
                    return []
                if recursive:
                    return self._objects(list(self.fs.find(path, withdirs=False)), prefix)
                return self._children(list(self.fs.ls(path, detail=True)), prefix)
            except FileNotFoundError:
                return []

        return self._sync_call("list", prefix, listing)

    # -- Backend primitives ---------------------------------------------------------------------
    def _get(self, key: str) -> bytes:
        if self._async:
            return self._run(self._co_get(key, None, None))
        return self._sync_get(key, None, None)

    def _get_range(self, key: str, start: int, length: int | None) -> bytes:
        if self._async:
            return self._run(self._co_get(key, start, length))
        return self._sync_get(key, start, length)

    def _put(self, key: str, data: bytes) -> None:
        if self._async:
            self._run(self._co_put(key, data))
            return
        self._sync_call("write", key, lambda: self._sync_put(key, data))

    def _sync_put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if self.fs.isdir(path):  # memory:// would otherwise shadow the directory with a file
            raise FileExistsError(path)
        self.fs.pipe_file(path, data)

    def _exists(self, key: str) -> bool:
        if self._async:
            return self._run(self._co_exists(key))
        return self._sync_call("check", key, lambda: bool(self.fs.isfile(self._path(key))))

    def _delete(self, key: str) -> None:
        if self._async:
            self._run(self._co_delete(key))
            return
        self._sync_delete(key)

    def _list(self, prefix: str, recursive: bool) -> list[str]:
        if self._async:
            return self._run(self._co_list(prefix, recursive))
        return self._sync_list(prefix, recursive)

    def _delete_prefix(self, prefix: str) -> None:
        if self._async:
            self._run(self._co_delete_prefix(prefix))
            return
        for key in self._sync_list(prefix, True):
            self._sync_delete(key)

    def _get_many(self, keys: list[str]) -> dict[str, bytes]:
        if self._async:
            return self._run(self._co_get_many(keys))
        return super()._get_many(keys)

    def _put_many(self, items: list[tuple[str, bytes]]) -> None:
        if self._async:
            self._run(self._co_put_many(items))
            return
        super()._put_many(items)

    def _close(self) -> None:
        if self._async and self.fs.loop.is_running():
            # best effort: the connections die with the process anyway
            with contextlib.suppress(Exception):
                self._submit(self._timed(self._co_close())).result(self.timeout + 1)

    async def _co_close(self) -> None:
        """Close the HTTP client this backend's private file-system instance opened."""
        s3_client = getattr(self.fs, "_s3", None)  # s3fs
        if s3_client is not None:
            self.fs._s3 = None
            await s3_client.__aexit__(None, None, None)
        session = getattr(self.fs, "_session", None)  # gcsfs, http
        if session is not None and not getattr(session, "closed", True):
            await session.close()
        service = getattr(self.fs, "service_client", None)  # adlfs
        if service is not None and hasattr(service, "close"):
            await service.close()

    # -- async primitives ---------------------------------------------------------------------
    async def _aget(self, key: str) -> bytes:
        if self._async:
            return await self._arun(self._co_get(key, None, None))
        return await super()._aget(key)

    async def _aget_range(self, key: str, start: int, length: int | None) -> bytes:
        if self._async:
            return await self._arun(self._co_get(key, start, length))
        return await super()._aget_range(key, start, length)

    async def _aput(self, key: str, data: bytes) -> None:
        if self._async:
            await self._arun(self._co_put(key, data))
            return
        await super()._aput(key, data)

    async def _aexists(self, key: str) -> bool:
        if self._async:
            return await self._arun(self._co_exists(key))
        return await super()._aexists(key)

    async def _adelete(self, key: str) -> None:
        if self._async:
            await self._arun(self._co_delete(key))
            return
        await super()._adelete(key)

    async def _alist(self, prefix: str, recursive: bool) -> list[str]:
        if self._async:
            return await self._arun(self._co_list(prefix, recursive))
        return await super()._alist(prefix, recursive)

    async def _adelete_prefix(self, prefix: str) -> None:
        if self._async:
            await self._arun(self._co_delete_prefix(prefix))
            return
        await super()._adelete_prefix(prefix)

    async def _aget_many(self, keys: list[str]) -> dict[str, bytes]:
        if self._async:
            return await self._arun(self._co_get_many(keys))
        return await super()._aget_many(keys)

    async def _aput_many(self, items: list[tuple[str, bytes]]) -> None:
        if self._async:
            await self._arun(self._co_put_many(items))
            return
        await super()._aput_many(items)
