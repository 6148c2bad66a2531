"""The obstore backend: S3, GCS, Azure Blob and HTTP(S) through obstore (Rust object_store).

Why obstore: its requests run on a Rust runtime with their own connection
pools, its coroutines are real (no thread per request), and a batch of reads
is a batch of concurrent requests. So the ``a``-methods here await obstore's
coroutines directly, batch calls gather them under a semaphore of
``max_concurrency``, and the blocking batch calls run those same coroutines on
the core's background loop. Single blocking calls use obstore's blocking
functions, which release the GIL.

URL forms (obstore's): ``s3://bucket/prefix`` (``s3a`` too), ``gs://bucket/prefix``
(``gcs`` too), ``az://container/prefix`` with ``account_name`` (``azure``,
``adl``, ``abfs[s]://container@account.dfs.core.windows.net/prefix``),
``http(s)://host/path`` (read-only) and ``memory://`` (a private in-memory
store, for tests; only when this backend is chosen explicitly).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, NoReturn, TypeVar
from urllib.parse import urlsplit

from zarr_vectors.core.backends._loop import run_sync
from zarr_vectors.core.backends.base import Backend, children_of, missing_key
from zarr_vectors.core.backends.resolve import url_scheme
from zarr_vectors.exceptions import BackendOptionError, MissingKeyError, StoreError

from zarr_vectors_obstore.errors import cause_of, is_denied, is_not_found, is_unknown_config
from zarr_vectors_obstore.options import StoreOptions, family_of, split_options

__all__ = ["DEFAULT_MAX_CONCURRENCY", "DEFAULT_TIMEOUT", "ObstoreBackend"]

T = TypeVar("T")

#: Requests in flight at once for a batch call. obstore's Rust client holds many
#: requests cheaply; measured against an unbounded gather (bench/bench_batch_io.py),
#: a bound of 32 left 10-25 % of throughput on the table, 128 none.
DEFAULT_MAX_CONCURRENCY = 128
#: Seconds before a request that gets no answer fails (per attempt and for all retries).
DEFAULT_TIMEOUT = 30.0
#: Objects per bulk-delete request (S3's DeleteObjects limit).
_DELETE_BATCH = 1000

_HTTP_ENDPOINT = re.compile(r"^http://", re.IGNORECASE)

_MEMORY_LOCK = threading.Lock()
_MEMORY_STORES: dict[str, Any] = {}


class ObstoreBackend(Backend):
    """A zarr-vectors backend over an obstore store.

    ``url`` names the store root (see the module docstring for the forms).
    ``max_concurrency`` bounds the requests a batch call keeps in flight;
    ``timeout`` (seconds) bounds each request and the retries of one call, so
    a server that stops answering gives a :class:`StoreError` instead of a
    hang; ``max_retries`` is how often a failed request is retried.
    ``verify_prefixes=True`` makes a non-recursive listing check that every
    container it reports still holds an object (one small request each), for
    S3-compatible servers with real folders, such as SeaweedFS, that keep
    listing a folder after its last object is deleted. Every other
    keyword is obstore configuration: store config (``region``, ``endpoint``,
    ``access_key_id``, ``skip_signature``...), HTTP client options
    (``allow_http``, ``connect_timeout``...) or ``client_options`` /
    ``retry_config`` dicts, with the friendly aliases listed in
    :mod:`zarr_vectors_obstore.options`.
    """

    backend_name: ClassVar[str] = "obstore"

    def __init__(
        self,
        url: str,
        *,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = 3,
        verify_prefixes: bool = False,
        **config: Any,
    ) -> None:
        super().__init__(url, max_concurrency=max_concurrency)
        if not timeout or timeout <= 0:
            raise BackendOptionError(
                f"The 'obstore' backend's timeout must be a number of seconds > 0, got {timeout!r}."
            )
        if max_retries < 0:
            raise BackendOptionError(
                f"The 'obstore' backend's max_retries must be >= 0, got {max_retries!r}."
            )
        self.timeout = float(timeout)
        self.verify_prefixes = bool(verify_prefixes)
        scheme = url_scheme(url)
        family = family_of(scheme)
        if family is None:
            raise StoreError(
                f"The 'obstore' backend cannot serve {self.url}: scheme {scheme or '(none)'!r} is "
                "not one of s3, s3a, gs, gcs, az, azure, abfs, abfss, adl, http, https, memory."
            )
        self.family = family
        options = split_options(family, config, timeout=self.timeout, max_retries=max_retries)
        self._secrets = options.secrets
        if family == "http":
            self.writable = False  # type: ignore[misc]  # per instance: one class, many stores
        self._listed_prefix = ""
        self._store = self._build_store(str(url), scheme, options)
        # Whether the bucket/container was seen to exist (checked once, on the first not-found).
        self._root_checked = family in ("http", "memory")

    # -- construction -------------------------------------------------------------------
    def _build_store(self, url: str, scheme: str, options: StoreOptions) -> Any:
        from obstore.store import HTTPStore, MemoryStore, from_url

        if self.family == "memory":
            # Like fsspec's memory file system: one store per URL for the whole process.
            with _MEMORY_LOCK:
                return _MEMORY_STORES.setdefault(url.rstrip("/"), MemoryStore())
        client = options.client_options
        retry = options.retry_config
        if self.family == "http":
            if scheme == "http":
                client.setdefault("allow_http", True)  # the URL itself asks for plain HTTP
            # obstore joins keys to the base with '/', so the base must not end in one.
            base = url.rstrip("/")
            # object_store's WebDAV listing yields server-absolute paths; strip the base's.
            path = urlsplit(base).path.strip("/")
            self._listed_prefix = f"{path}/" if path else ""
            # Options are plain dicts here; obstore checks them (its TypedDicts are static only).
            http_from_url: Any = HTTPStore.from_url
            try:
                return http_from_url(base, client_options=client, retry_config=retry)
            except Exception as exc:
                self._bad_config(exc, options)
        endpoint = options.config.get("endpoint") or options.config.get("base_url")
        if isinstance(endpoint, str) and _HTTP_ENDPOINT.match(endpoint):
            client.setdefault("allow_http", True)  # an http:// endpoint says plain HTTP is meant
        if scheme == "gcs":
            url = "gs" + url[len("gcs") :]
        kwargs: dict[str, Any] = {}
        if options.credential_provider is not None:
            kwargs["credential_provider"] = options.credential_provider
        store_from_url: Any = from_url
        try:
            return store_from_url(
                url,
                config=options.config or None,
                client_options=client,
                retry_config=retry,
                **kwargs,
            )
        except Exception as exc:
            self._bad_config(exc, options)

    def _bad_config(self, exc: BaseException, options: StoreOptions) -> NoReturn:
        """Explain why obstore refused the configuration, naming the offending option(s)."""
        if is_unknown_config(exc):
            unknown = self._unknown_keys(options)
            names = ", ".join(repr(k) for k in unknown) or "(see cause)"
            raise BackendOptionError(
                f"The 'obstore' backend does not accept the option(s) {names} for {self.url}. "
                "Pass obstore configuration names (region, endpoint, access_key_id, "
                "skip_signature, account_name, ...) or the aliases listed in "
                "zarr_vectors_obstore.options.ALIASES."
            ) from None
        raise StoreError(
            f"The 'obstore' backend could not be configured for {self.url}: "
            f"{cause_of(exc, self._secrets)}."
        ) from None

    def _unknown_keys(self, options: StoreOptions) -> list[str]:
        """Which config keys obstore rejects, found by trying each alone (no network)."""
        from obstore.store import AzureStore, GCSStore, S3Store

        probe: Callable[..., Any] = {
            "s3": lambda **kw: S3Store("probe", **kw),
            "gcs": lambda **kw: GCSStore("probe", **kw),
            "azure": lambda **kw: AzureStore("probe", account_name="probe", **kw),
        }[self.family]
        unknown = []
        for key, value in options.config.items():
            try:
                probe(**{key: value})
            except Exception as exc:
                if is_unknown_config(exc):
                    unknown.append(key)
        return sorted(unknown)

    @property
    def store(self) -> Any:
        """The underlying obstore store (for callers that need obstore directly)."""
        return self._store

    # -- error translation ----------------------------------------------------------------
    def _fail(self, exc: BaseException, action: str) -> StoreError:
        cause = cause_of(exc, self._secrets)
        if is_denied(exc):
            return StoreError(
                f"{action} {self.url} was refused: the credentials were rejected or lack "
                f"permission ({cause}). Check the access key/secret, token or account key."
            )
        return StoreError(f"{action} {self.url} failed: {cause}.")

    async def _check_root(self) -> None:
        """After a not-found: make sure the bucket/container exists (once per backend).

        A missing key is a KeyError, but a missing bucket is a configuration
        error and must not pass silently as "no such key".
        """
        if self._root_checked:
            return
        import obstore

        try:
            await obstore.list_with_delimiter_async(self._store, "zarr-vectors-probe")
        except Exception as exc:
            if is_denied(exc):
                # Credentials that may read but not list: the key is simply missing.
                self._root_checked = True
                return
            # obstore reports a missing bucket on a listing as a generic error (HTTP 404).
            raise StoreError(
                f"The bucket or container of {self.url} does not exist or cannot be reached "
                f"({cause_of(exc, self._secrets)}). Create it first or fix the URL."
            ) from None
        self._root_checked = True

    async def _call(self, action: str, key: str, make: Callable[[], Awaitable[T]]) -> T:
        try:
            return await make()
        except Exception as exc:
            if is_not_found(exc):
                await self._check_root()
                raise missing_key(key, self.url) from None
            raise self._fail(exc, f"{action} {key!r} in") from None

    def _missing(self, key: str) -> MissingKeyError:
        """The KeyError for ``key``, after making sure its bucket exists (blocking)."""
        if not self._root_checked:
            run_sync(self._check_root())
        return missing_key(key, self.url)

    def _sync(self, action: str, key: str, make: Callable[[], T]) -> T:
        try:
            return make()
        except Exception as exc:
            if is_not_found(exc):
                raise self._missing(key) from None
            raise self._fail(exc, f"{action} {key!r} in") from None

    # -- sync primitives --------------------------------------------------------------------
    def _get(self, key: str) -> bytes:
        import obstore

        return self._sync("Reading", key, lambda: bytes(obstore.get(self._store, key).bytes()))

    def _get_range(self, key: str, start: int, length: int | None) -> bytes:
        import obstore

        rng: Any = {"offset": start} if length is None else (start, start + length)
        try:
            return bytes(obstore.get(self._store, key, options={"range": rng}).bytes())
        except Exception as exc:
            # A range starting at or past the end is refused by the server; ours is b"".
            # A 404 is confirmed too: SeaweedFS answers 404 to a range on an empty object
            # whose name is also a folder ("a" beside "a/b"), though a GET finds it.
            try:
                size = self._sync("Reading", key, lambda: obstore.head(self._store, key)["size"])
            except KeyError:
                raise self._missing(key) from None
            if start >= size:
                return b""
            raise self._fail(exc, f"Reading {key!r} in") from None

    def _put(self, key: str, data: bytes) -> None:
        import obstore

        self._sync("Writing", key, lambda: obstore.put(self._store, key, data))

    def _exists(self, key: str) -> bool:
        import obstore

        try:
            self._sync("Checking", key, lambda: obstore.head(self._store, key))
        except KeyError:
            return False
        return True

    def _delete(self, key: str) -> None:
        import obstore

        try:
            obstore.delete(self._store, key)
        except Exception as exc:
            if not is_not_found(exc):
                raise self._fail(exc, f"Deleting {key!r} in") from None

    def _list(self, prefix: str, recursive: bool) -> list[str]:
        return run_sync(self._alist(prefix, recursive))

    def _delete_prefix(self, prefix: str) -> None:
        run_sync(self._adelete_prefix(prefix))

    def _get_many(self, keys: list[str]) -> dict[str, bytes]:
        return run_sync(self._aget_many(keys))

    def _put_many(self, items: list[tuple[str, bytes]]) -> None:
        run_sync(self._aput_many(items))

    def _close(self) -> None:
        """obstore stores hold only pooled connections, released when dropped."""

    # -- async primitives (obstore's coroutines; no threads) -----------------------------------
    async def _aget(self, key: str) -> bytes:
        import obstore

        async def fetch() -> bytes:
            result = await obstore.get_async(self._store, key)
            return bytes(await result.bytes_async())

        return await self._call("Reading", key, fetch)

    async def _aget_range(self, key: str, start: int, length: int | None) -> bytes:
        import obstore

        rng: Any = {"offset": start} if length is None else (start, start + length)
        try:
            result = await obstore.get_async(self._store, key, options={"range": rng})
            return bytes(await result.bytes_async())
        except Exception as exc:
            # As in _get_range: past-the-end is b"", and a 404 is confirmed by a HEAD.
            try:
                meta = await self._call(
                    "Reading", key, lambda: obstore.head_async(self._store, key)
                )
            except KeyError:  # _call checked the bucket before calling it missing
                raise missing_key(key, self.url) from None
            if start >= meta["size"]:
                return b""
            raise self._fail(exc, f"Reading {key!r} in") from None

    async def _aput(self, key: str, data: bytes) -> None:
        import obstore

        await self._call("Writing", key, lambda: obstore.put_async(self._store, key, data))

    async def _aexists(self, key: str) -> bool:
        import obstore

        try:
            await self._call("Checking", key, lambda: obstore.head_async(self._store, key))
        except KeyError:
            return False
        return True

    async def _adelete(self, key: str) -> None:
        import obstore

        try:
            await obstore.delete_async(self._store, key)
        except Exception as exc:
            if not is_not_found(exc):
                raise self._fail(exc, f"Deleting {key!r} in") from None

    async def _alist(self, prefix: str, recursive: bool) -> list[str]:
        import obstore

        base = prefix.rstrip("/") or None
        try:
            if recursive:
                keys: list[str] = []
                async for chunk in obstore.list(self._store, base):
                    keys.extend(self._relative(meta["path"]) for meta in chunk)
                return children_of(prefix, [k for k in keys if k], True)
            listing = await obstore.list_with_delimiter_async(self._store, base)
        except Exception as exc:
            if is_not_found(exc):
                await self._check_root()
                return []
            raise self._fail(exc, f"Listing {prefix or '/'!r} in") from None
        found = [self._relative(meta["path"]) for meta in listing["objects"]]
        containers = list(listing["common_prefixes"])
        if self.verify_prefixes:
            containers = await self._nonempty(containers)
        found += [self._relative(p.rstrip("/")) + "/" for p in containers]
        # A WebDAV listing includes the listed folder itself; it is not its own child.
        return sorted(k for k in found if k.startswith(prefix) and k not in ("", "/", prefix))

    async def _nonempty(self, prefixes: list[str]) -> list[str]:
        """The prefixes under which at least one object is stored (checked concurrently)."""
        import asyncio

        import obstore

        semaphore = asyncio.Semaphore(self.max_concurrency)

        async def holds_objects(prefix: str) -> bool:
            async with semaphore:
                async for chunk in obstore.list(self._store, prefix.rstrip("/"), chunk_size=1):
                    if len(chunk):
                        return True
                return False

        flags = await asyncio.gather(*(holds_objects(p) for p in prefixes))
        return [p for p, keep in zip(prefixes, flags, strict=True) if keep]

    def _relative(self, path: str) -> str:
        """A listed path relative to the store root (only HTTP listings need the cut)."""
        cut = self._listed_prefix
        if not cut:
            return path
        return path[len(cut) :] if path.startswith(cut) else ""

    async def _adelete_prefix(self, prefix: str) -> None:
        import asyncio

        import obstore

        keys = await self._alist(prefix, True)
        batches = [keys[i : i + _DELETE_BATCH] for i in range(0, len(keys), _DELETE_BATCH)]
        semaphore = asyncio.Semaphore(self.max_concurrency)

        async def remove(batch: list[str]) -> None:
            async with semaphore:
                try:
                    await obstore.delete_async(self._store, batch)
                except Exception as exc:
                    if not is_not_found(exc):
                        raise self._fail(exc, f"Deleting under {prefix or '/'!r} in") from None

        await asyncio.gather(*(remove(b) for b in batches))

    async def _aclose(self) -> None:
        self._close()
