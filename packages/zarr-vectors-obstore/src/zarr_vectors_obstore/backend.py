"""The obstore backend: S3, GCS, Azure Blob and HTTP(S) through obstore (Rust object_store).

Why obstore: its requests run on a Rust runtime with their own connection
pools, its coroutines are real (no thread per request), and a batch of reads
is a batch of concurrent requests. So the ``a``-methods here await obstore's
coroutines directly, batch calls run them through the core's
:func:`~zarr_vectors.storage.concurrency.amap_bounded`, and the blocking
batch calls run those same coroutines on the core's one background loop
(:func:`~zarr_vectors.storage.runner.run_sync`). Single blocking calls
use obstore's blocking functions, which release the GIL.

What the base class settles is left to it: a range past the end (this module
only reports that the server refused a range), a missing bucket behind a
missing key (this module only answers :meth:`ObstoreBackend._root_exists`),
``verify_prefixes`` (this module only answers whether a prefix holds an
object), scrubbing credentials from messages and bounding concurrency.

URL forms (obstore's): ``s3://bucket/prefix`` (``s3a`` too), ``gs://bucket/prefix``
(``gcs`` too), ``az://container/prefix`` with ``account_name`` (``azure``,
``adl``, ``abfs[s]://container@account.dfs.core.windows.net/prefix``),
``http(s)://host/path`` (read-only) and ``memory://`` (a private in-memory
store, for tests; only when this backend is chosen explicitly).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

from zarr_vectors.exceptions import (
    PreconditionFailedError,
    RangeNotSatisfiableError,
    StoreError,
)
from zarr_vectors.storage.base import Backend, ObjectInfo, children_of, missing_key
from zarr_vectors.storage.concurrency import amap_bounded
from zarr_vectors.storage.resolve import url_scheme
from zarr_vectors.storage.runner import run_sync
from zarr_vectors_obstore.building import (
    bad_config,
    build_store,
    cannot_serve,
    check_types,
    describe_store,
)
from zarr_vectors_obstore.credentials import (
    metadata_failure,
    missing_s3_credentials,
    options_from_url,
    s3_has_credentials,
)
from zarr_vectors_obstore.errors import (
    cause_of,
    is_already_there,
    is_denied,
    is_not_found,
    is_range_refused,
    is_version_mismatch,
)
from zarr_vectors_obstore.info import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    HTTP_MAX_CONCURRENCY,
    MEMORY_MAX_CONCURRENCY,
    OBJECT_STORE_MAX_CONCURRENCY,
)
from zarr_vectors_obstore.options import family_of, split_options

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_TIMEOUT",
    "DELETE_BATCH",
    "HTTP_MAX_CONCURRENCY",
    "MEMORY_MAX_CONCURRENCY",
    "OBJECT_STORE_MAX_CONCURRENCY",
    "ObstoreBackend",
]
T = TypeVar("T")

#: Keys per bulk-delete call: S3's DeleteObjects takes at most 1,000 (obstore splits
#: further where a service takes fewer, e.g. 256 per Azure blob batch).
DELETE_BATCH = 1000

_HTTP_ENDPOINT = re.compile(r"^http://", re.IGNORECASE)
#: Families whose servers offer create-only and if-match writes that obstore drives.
_CONDITIONAL_FAMILIES = frozenset({"s3", "gcs", "azure", "memory"})


class ObstoreBackend(Backend):
    """A zarr-vectors backend over an obstore store.

    ``url`` names the store root (see the module docstring for the forms).
    ``max_concurrency`` bounds the requests a batch call keeps in flight
    (default: :data:`DEFAULT_MAX_CONCURRENCY` for the URL's family);
    ``timeout`` (seconds) bounds each request and the retries of one call, so
    a server that stops answering gives a :class:`StoreError` instead of a
    hang; ``max_retries`` is how often a failed request is retried.
    ``verify_prefixes=True`` makes a non-recursive listing check that every
    container it reports still holds an object (a one-object listing each), for
    S3-compatible servers with real folders, such as SeaweedFS, that keep
    listing a folder after its last object is deleted. Every other
    keyword is obstore configuration: store config (``region``, ``endpoint``,
    ``access_key_id``, ``skip_signature``...), HTTP client options
    (``allow_http``, ``connect_timeout``...) or ``client_options`` /
    ``retry_config`` dicts, with the friendly aliases listed in
    :mod:`zarr_vectors_obstore.options`.

    Versions (``head().version``, ``put_if``) are ETags, except on GCS, whose
    conditional writes match the object's generation, so there the version is
    the generation.
    """

    backend_name: ClassVar[str] = "obstore"
    default_max_concurrency: ClassVar[int] = OBJECT_STORE_MAX_CONCURRENCY
    conditional_writes: ClassVar[bool] = True
    #: The ``_a...`` primitives await obstore's own coroutines.
    native_async: ClassVar[bool] = True
    _s3_config: dict[str, Any]

    def __init__(
        self,
        url: str,
        *,
        max_concurrency: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        verify_prefixes: bool = False,
        **config: Any,
    ) -> None:
        check_types(max_concurrency, timeout, max_retries, verify_prefixes)
        scheme = url_scheme(url)
        family = family_of(scheme)
        if family is None:
            raise StoreError(cannot_serve(str(url), scheme))
        # Credentials written into the URL leave it here, before obstore sees it.
        given = options_from_url(str(url), family, config)
        options = split_options(
            given.family, given.options, timeout=float(timeout), max_retries=max_retries
        )
        self._setup(
            given.url,
            given.family,
            max_concurrency,
            verify_prefixes,
            list(dict.fromkeys([*options.secrets, *given.secrets])),
        )
        self.timeout = float(timeout)
        built = build_store(
            given.url,
            scheme,
            given.family,
            options,
            lambda exc: bad_config(exc, options, given.family, self.url, self.redact),
        )
        self._store = built.store
        self._s3_config, self._no_credentials = built.s3_config, built.no_credentials

    @classmethod
    def from_store(
        cls,
        store: Any,
        *,
        max_concurrency: int | None = None,
        verify_prefixes: bool = False,
    ) -> ObstoreBackend:
        """A backend over an obstore store the caller made (S3, GCS, Azure, HTTP, memory).

        The store is used as it is (its credentials, client and retry settings
        are its own) and is not closed with the backend: obstore stores hold
        no resources beyond their connection pools, which go with the store.
        """
        check_types(max_concurrency, DEFAULT_TIMEOUT, 0, verify_prefixes)
        family, url, secrets = describe_store(store)
        self = cls.__new__(cls)
        self._setup(url, family, max_concurrency, verify_prefixes, secrets)
        self.timeout = DEFAULT_TIMEOUT
        self._store = store
        if family == "s3":
            self._s3_config = dict(store.config)
            provider = getattr(store, "credential_provider", None)
            self._no_credentials = not s3_has_credentials(self._s3_config, provider)
        return self

    def _setup(
        self,
        url: str,
        family: str,
        max_concurrency: int | None,
        verify_prefixes: bool,
        secrets: list[str],
    ) -> None:
        super().__init__(
            url,
            max_concurrency=DEFAULT_MAX_CONCURRENCY[family]
            if max_concurrency is None
            else max_concurrency,
            verify_prefixes=verify_prefixes,
            secrets=secrets,
        )
        self.family = family
        if family == "http":
            # Per instance: one class serves writable object stores and read-only HTTP.
            self.writable = False  # type: ignore[misc]
        self.conditional_writes = family in _CONDITIONAL_FAMILIES  # type: ignore[misc]
        self._listed_prefix = ""
        if family == "http":
            # object_store's WebDAV listing yields server-absolute paths; strip the base's.
            path = urlsplit(url.rstrip("/")).path.strip("/")
            self._listed_prefix = f"{path}/" if path else ""
        #: S3 only: no credentials in sight, so obstore asks the instance metadata service.
        self._no_credentials = False
        self._s3_config = {}

    @property
    def store(self) -> Any:
        """The underlying obstore store (for callers that need obstore directly)."""
        self._check_open()
        return self._store

    # -- error translation ----------------------------------------------------------------
    def _fail(self, exc: BaseException, action: str) -> StoreError:
        if self._no_credentials and metadata_failure(str(exc), self._s3_config):
            return StoreError(missing_s3_credentials(f"{action} {self.url}"))
        cause = cause_of(exc, self.redact)
        if is_denied(exc):
            return StoreError(
                f"{action} {self.url} was refused: the credentials were rejected or lack "
                f"permission ({cause}). Check the access key/secret, token or account key."
            )
        return StoreError(f"{action} {self.url} failed: {cause}.")

    def _error(self, exc: BaseException, action: str, key: str) -> Exception:
        """A missing object is a plain KeyError (the base class checks the bucket once)."""
        if is_not_found(exc):
            return missing_key(key, self.url)
        return self._fail(exc, f"{action} {key!r} in")

    def _range_error(self, exc: BaseException, key: str) -> Exception:
        """A refused range is reported as such; the base class decides what it means."""
        if is_range_refused(exc):
            return RangeNotSatisfiableError(
                f"The server refused a range of {key!r} in {self.url} "
                f"({cause_of(exc, self.redact)})."
            )
        return self._error(exc, "Reading", key)

    def _sync(self, action: str, key: str, make: Callable[[], T]) -> T:
        try:
            return make()
        except Exception as exc:
            error = self._error(exc, action, key)
        raise error  # outside the except block: obstore's exception is not chained

    async def _call(self, action: str, key: str, make: Callable[[], Awaitable[T]]) -> T:
        try:
            return await make()
        except Exception as exc:
            error = self._error(exc, action, key)
        raise error

    # -- versions and conditional writes ------------------------------------------------------
    def _version_of(self, meta: Mapping[str, Any]) -> str | None:
        """The token conditional writes match on: the generation on GCS, else the ETag."""
        e_tag, version = meta.get("e_tag"), meta.get("version")
        return (version or e_tag) if self.family == "gcs" else (e_tag or version)

    def _info(self, key: str, meta: Mapping[str, Any]) -> ObjectInfo:
        return ObjectInfo(key, int(meta["size"]), self._version_of(meta))

    def _put_mode(self, expect: str | None) -> Any:
        """obstore's put mode: create-only, or an update of the version ``expect``."""
        if expect is None:
            return "create"
        return {"version": expect} if self.family == "gcs" else {"e_tag": expect}

    def _new_version(self, result: Mapping[str, Any], key: str) -> str:
        token = self._version_of(result)
        if token is None:
            raise StoreError(
                f"Writing {key!r} conditionally in {self.url} succeeded, but the server returned "
                "no ETag or version to match the next write on; this store cannot be used for "
                "conditional writes."
            )
        return token

    def _conditional_error(self, exc: BaseException, key: str, expect: str | None) -> Exception:
        if is_already_there(exc):
            return PreconditionFailedError(
                f"{key!r} already exists in {self.url}: another writer created it first. "
                "Read it and retry with its version, or give up."
            )
        if is_version_mismatch(exc) or (expect is not None and is_not_found(exc)):
            return PreconditionFailedError(
                f"{key!r} in {self.url} is no longer at version {expect!r}: another writer "
                "changed or deleted it. Read it again and retry, or give up."
            )
        return self._fail(exc, f"Writing {key!r} conditionally in")

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
            error = self._range_error(exc, key)
        raise error

    def _head(self, key: str) -> ObjectInfo:
        import obstore

        return self._info(key, self._sync("Checking", key, lambda: obstore.head(self._store, key)))

    def _put(self, key: str, data: bytes) -> None:
        import obstore

        self._sync("Writing", key, lambda: obstore.put(self._store, key, data))

    def _put_if(self, key: str, data: bytes, expect: str | None) -> str:
        import obstore

        try:
            result = obstore.put(self._store, key, data, mode=self._put_mode(expect))
        except Exception as exc:
            missing = expect is not None and is_not_found(exc)
            error = self._conditional_error(exc, key, expect)
        else:
            return self._new_version(result, key)
        if missing:
            self._confirm_missing(key)  # a missing bucket is a StoreError of its own
        raise error

    def _exists(self, key: str) -> bool:
        try:
            self._head(key)
        except KeyError:
            return False
        return True

    def _delete(self, key: str) -> None:
        import obstore

        try:
            obstore.delete(self._store, key)
        except Exception as exc:
            if is_not_found(exc):
                return
            error = self._fail(exc, f"Deleting {key!r} in")
        else:
            return
        raise error

    def _list(self, prefix: str, recursive: bool) -> list[str]:
        return run_sync(self._alist(prefix, recursive))

    def _get_many(self, keys: list[str]) -> dict[str, bytes]:
        return run_sync(self._aget_many(keys))

    def _put_many(self, items: list[tuple[str, bytes]]) -> None:
        run_sync(self._aput_many(items))

    def _delete_many(self, keys: list[str]) -> None:
        run_sync(self._adelete_many(keys))

    def _move_many(self, pairs: list[tuple[str, str]]) -> None:
        run_sync(self._amove_many(pairs))

    def _root_exists(self) -> bool:
        import obstore

        try:
            obstore.list_with_delimiter(self._store, "zarr-vectors-probe")
        except Exception as exc:
            return self._root_answer(exc)
        return True

    def _holds_objects(self, prefix: str) -> bool:
        import obstore

        try:
            for chunk in obstore.list(self._store, prefix.rstrip("/"), chunk_size=1):
                if len(chunk):
                    return True
        except Exception as exc:
            error = self._fail(exc, f"Listing {prefix!r} in")
        else:
            return False
        raise error

    def _root_answer(self, exc: BaseException) -> bool:
        """Whether the root exists, judging by the error a probe listing raised.

        Credentials that may read but not list cannot tell: the key is then
        simply missing. obstore reports a missing bucket on a listing as a
        generic error (HTTP 404), so any other error means "not there".
        """
        if self.family in ("http", "memory"):
            return True
        return is_denied(exc)

    def _close(self) -> None:
        """Drop the store: its pooled connections are released now, not at interpreter exit."""
        self._store = None

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
            error = self._range_error(exc, key)
        raise error

    async def _ahead(self, key: str) -> ObjectInfo:
        import obstore

        meta = await self._call("Checking", key, lambda: obstore.head_async(self._store, key))
        return self._info(key, meta)

    async def _aput(self, key: str, data: bytes) -> None:
        import obstore

        await self._call("Writing", key, lambda: obstore.put_async(self._store, key, data))

    async def _aput_if(self, key: str, data: bytes, expect: str | None) -> str:
        import obstore

        try:
            result = await obstore.put_async(self._store, key, data, mode=self._put_mode(expect))
        except Exception as exc:
            missing = expect is not None and is_not_found(exc)
            error = self._conditional_error(exc, key, expect)
        else:
            return self._new_version(result, key)
        if missing:
            await self._aconfirm_missing(key)
        raise error

    async def _aexists(self, key: str) -> bool:
        try:
            await self._ahead(key)
        except KeyError:
            return False
        return True

    async def _adelete(self, key: str) -> None:
        import obstore

        try:
            await obstore.delete_async(self._store, key)
        except Exception as exc:
            if is_not_found(exc):
                return
            error = self._fail(exc, f"Deleting {key!r} in")
        else:
            return
        raise error

    async def _adelete_many(self, keys: list[str]) -> None:
        batches = [keys[i : i + DELETE_BATCH] for i in range(0, len(keys), DELETE_BATCH)]
        await amap_bounded(self._adelete_batch, batches, self.max_concurrency)

    async def _adelete_batch(self, batch: list[str]) -> None:
        """One bulk delete (S3 DeleteObjects, Azure blob batches; GCS: obstore's own loop).

        S3 ignores keys that are already gone; Azure and GCS stop the batch at
        one, so then the batch is finished key by key, each missing one ignored.
        """
        import obstore

        self.check_fence()

        try:
            await obstore.delete_async(self._store, batch)
        except Exception as exc:
            action = f"Deleting {len(batch)} objects in"
            error = None if is_not_found(exc) else self._fail(exc, action)
        else:
            return
        if error is not None:
            raise error
        if len(batch) > 1:
            await amap_bounded(self._adelete, batch, self.max_concurrency)

    async def _amove_many(self, pairs: list[tuple[str, str]]) -> None:
        """A server-side copy per pair (S3 CopyObject, GCS rewrite, Azure Copy Blob: no
        bytes through this client), then one bulk delete of the sources, per
        :data:`DELETE_BATCH` pairs. A source already gone was moved: skipped."""
        for start in range(0, len(pairs), DELETE_BATCH):
            batch = pairs[start : start + DELETE_BATCH]
            copied = await amap_bounded(self._acopy, batch, self.max_concurrency)
            await self._adelete_many([source for source in copied if source is not None])

    async def _acopy(self, pair: tuple[str, str]) -> str | None:
        """Copy ``source`` over ``destination`` on the server; the source, or None if missing."""
        import obstore

        self.check_fence()
        source, destination = pair
        try:
            await obstore.copy_async(self._store, source, destination, overwrite=True)
        except Exception as exc:
            if is_not_found(exc):
                return None
            error = self._fail(exc, f"Moving {source!r} to {destination!r} in")
        else:
            return source
        raise error

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
            missing = is_not_found(exc)
            error = self._fail(exc, f"Listing {prefix or '/'!r} in")
        else:
            return self._listed(listing, prefix)
        if missing:
            await self._aconfirm_missing(prefix or "/")  # a missing bucket is a StoreError
            return []
        raise error

    def _listed(self, listing: Mapping[str, Any], prefix: str) -> list[str]:
        """The children of ``prefix`` in a delimited listing, relative to the root."""
        found = [self._relative(meta["path"]) for meta in listing["objects"]]
        found += [self._relative(p.rstrip("/")) + "/" for p in listing["common_prefixes"]]
        # A WebDAV listing includes the listed folder itself; it is not its own child.
        return sorted(k for k in found if k.startswith(prefix) and k not in ("", "/", prefix))

    def _relative(self, path: str) -> str:
        """A listed path relative to the store root (only HTTP listings need the cut)."""
        cut = self._listed_prefix
        if not cut:
            return path
        return path[len(cut) :] if path.startswith(cut) else ""

    async def _aroot_exists(self) -> bool:
        import obstore

        try:
            await obstore.list_with_delimiter_async(self._store, "zarr-vectors-probe")
        except Exception as exc:
            return self._root_answer(exc)
        return True

    async def _aholds_objects(self, prefix: str) -> bool:
        import obstore

        try:
            async for chunk in obstore.list(self._store, prefix.rstrip("/"), chunk_size=1):
                if len(chunk):
                    return True
        except Exception as exc:
            error = self._fail(exc, f"Listing {prefix!r} in")
        else:
            return False
        raise error

    async def _aclose(self) -> None:
        self._close()  # nothing blocks: no worker thread needed
