"""FsspecBackend: a zarr-vectors store on any fsspec file system.

One code path. Every primitive is a coroutine that awaits the file system's own
coroutines (``_cat_file``, ``_pipe_file``, ``_info``, ``_ls``, ``_find``,
``_rm_file``, ``_rm``); the blocking primitives are
:func:`~zarr_vectors.storage.runner.run_sync` of those coroutines.

* **Async file systems** (s3fs, gcsfs, adlfs, HTTP: ``async_impl`` is true) are
  created with ``asynchronous=True``, so they start no loop or thread of their
  own and make their HTTP session on the loop that first awaits them.
* **Sync file systems** (memory, local, SFTP through paramiko...) are wrapped
  once in fsspec's ``AsyncFileSystemWrapper``, whose coroutines run each call on
  a worker thread of that loop's executor. They keep keys as a hierarchy, so a
  key cannot be both an object and a prefix (:class:`KeyConflictError`).

An HTTP session belongs to the loop it was made on, so every coroutine of a
backend runs on the project's one I/O loop
(:func:`~zarr_vectors.storage.runner.get_loop`): the blocking API submits
there and waits, and the ``a``-API is awaited there, or submitted there and
awaited from whatever loop the caller runs (one ``asyncio.run`` after another,
zarr-python's loop). Batch calls hop once and then run through the base class's
:func:`~zarr_vectors.storage.concurrency.amap_bounded`.

fsspec's ``memory://`` file system is **process-global**: two backends on the
same ``memory://`` root see the same objects, and different roots are
separate directories of that one store.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

from zarr_vectors.exceptions import (
    BackendOptionError,
    KeyConflictError,
    StoreError,
)
from zarr_vectors.storage.base import ObjectInfo, children_of
from zarr_vectors.storage.concurrency import amap_bounded
from zarr_vectors.storage.local import TEMP_PREFIX, remove_temporary_files
from zarr_vectors.storage.resolve import url_scheme
from zarr_vectors.storage.runner import get_loop
from zarr_vectors.storage.secrets import redact_url, secret_values, split_url_credentials
from zarr_vectors_fsspec.conditional import ConditionalPuts
from zarr_vectors_fsspec.errors import _denied, _s3_conditional, _version
from zarr_vectors_fsspec.info import (
    BUCKET_PROTOCOLS,
    DEFAULT_TIMEOUT,
    GCS_PROTOCOLS,
    HTTP_PROTOCOLS,
    LOCAL_MAX_CONCURRENCY,
    REMOTE_MAX_CONCURRENCY,
    S3_PROTOCOLS,
)
from zarr_vectors_fsspec.lifecycle import (
    _OPEN,
    _close_clients,
    _close_dropped,
    _copies_on_server,
    _detach_finalizers,
    _fs_class,
    _watch,
    _wrapped,
)
from zarr_vectors_fsspec.logs import guard_logs
from zarr_vectors_fsspec.options import (
    apply_url_credentials,
    check_backend_options,
    check_storage_options,
)
from zarr_vectors_fsspec.paths import _on_io_loop

__all__ = [
    "DEFAULT_TIMEOUT",
    "LOCAL_MAX_CONCURRENCY",
    "REMOTE_MAX_CONCURRENCY",
    "SPARE_CONNECTIONS",
    "FsspecBackend",
]

#: Read-only protocols.
_READ_ONLY_PROTOCOLS = HTTP_PROTOCOLS
#: Protocols of the local disk (atomic puts by rename, moves by rename).
_LOCAL_PROTOCOLS = frozenset({"file", "local"})
#: Options the backend manages itself and refuses from the caller.
_MANAGED_OPTIONS = ("asynchronous", "loop")
#: Paths per ``_rm`` call in ``delete_many``: S3's DeleteObjects takes at most 1,000.
_DELETE_BATCH = 1000
#: Characters that make fsspec's ``_rm`` expand a path as a glob pattern.
_GLOB_CHARS = frozenset("*?[")


#: Connections s3fs's pool keeps beyond ``max_concurrency``: a batch fills
#: ``max_concurrency`` of them, and the write lease's renewal (a root write from
#: another thread) must not wait for one of those to come free.
SPARE_CONNECTIONS = 4


class FsspecBackend(ConditionalPuts):
    """A store rooted at any fsspec URL (``s3://``, ``gs://``, ``az://``, ``memory://``...).

    Parameters
    ----------
    url:
        Root of the store, e.g. ``s3://bucket/stores/a.zv`` or ``memory://scratch``.
        Object-store URLs must name a bucket (container).
    max_concurrency:
        Calls in flight at once in batch calls (``get_many``, ``put_many``,
        ``delete_many``...). Default: :data:`REMOTE_MAX_CONCURRENCY` on async
        (network) file systems, :data:`LOCAL_MAX_CONCURRENCY` on sync ones, whose
        every call holds a worker thread.
    timeout:
        Seconds one request may take before it fails with a :class:`StoreError`;
        it never hangs. On a sync file system the wait ends but the worker
        thread cannot be interrupted; pass the file system's own timeout option
        (e.g. SFTP's ``timeout``) as well.
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

    ``head`` is one ``_info`` call (a HEAD on object stores): the size, and the
    ETag (gcsfs: etag, else generation) as the version. ``delete_many`` is one
    ``_rm`` call per 1,000 keys on object stores (s3fs sends DeleteObjects).

    Conditional writes (``put_if``) on S3 only: an ``s3://`` (``s3a://``)
    backend has ``conditional_writes = True`` (with a botocore that knows
    PutObject's ``IfNoneMatch`` and ``IfMatch``; older ones leave it False).
    ``put_if`` is one PutObject through s3fs's ``_pipe_file`` with
    ``IfNoneMatch: *`` (create-only) or ``IfMatch: <ETag>``, and returns the new
    ETag exactly as ``head`` reports it (quoted); a 412 PreconditionFailed, or
    AWS's 409 ConditionalRequestConflict, is a
    :class:`~zarr_vectors.exceptions.PreconditionFailedError`, as is an
    if-match on a key that is gone. Objects of 5 GiB or more are refused: s3fs
    would send them as a multipart upload, without the condition. SeaweedFS
    keeps a folder after its last object is deleted and refuses a create-only
    write of its name: when no object is at the key nor under it, the emptied
    folder is deleted and the write tried once more. Every other
    file system has ``conditional_writes = False``: gcsfs and adlfs expose their
    own conditions differently, and local, memory or SFTP file systems have no
    atomic compare-and-swap at all; use the obstore or local backend where
    writers there must not overwrite each other.
    """

    backend_name: ClassVar[str] = "fsspec"
    default_max_concurrency: ClassVar[int] = REMOTE_MAX_CONCURRENCY
    #: Every primitive is a coroutine of the file system (a sync one's wrapped, its calls
    #: on the loop's executor); the blocking ones are ``run_sync`` of them.
    native_async: ClassVar[bool] = True

    def __init__(
        self,
        url: str,
        *,
        max_concurrency: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        verify_prefixes: bool = False,
        **storage_options: Any,
    ) -> None:
        check_backend_options(max_concurrency, timeout, verify_prefixes)
        if timeout <= 0:
            raise BackendOptionError(f"timeout must be a number of seconds > 0, got {timeout!r}.")
        for name in _MANAGED_OPTIONS:
            if name in storage_options:
                raise BackendOptionError(
                    f"The fsspec backend manages the file system's event loop itself; drop the "
                    f"option {name!r} (use the backend's async methods for async code)."
                )
        # Credentials written into the URL never reach fsspec: taken out here, then used
        # as options or refused; only the clean URL is passed on or shown.
        url, from_url = split_url_credentials(str(url))
        self.timeout = float(timeout)
        self.protocol = url_scheme(url) or "file"
        fs_class = _fs_class(self.protocol, redact_url(url))
        check_storage_options(self.protocol, storage_options)
        options: dict[str, Any] = dict(fs_class._get_kwargs_from_urls(url))
        options.update(storage_options)
        url_secrets = apply_url_credentials(self.protocol, redact_url(url), from_url, options)
        is_async = bool(getattr(fs_class, "async_impl", False))
        if max_concurrency is None:
            max_concurrency = REMOTE_MAX_CONCURRENCY if is_async else LOCAL_MAX_CONCURRENCY
        super().__init__(
            url,
            max_concurrency=max_concurrency,
            verify_prefixes=verify_prefixes,
            secrets=[*url_secrets, *secret_values(options)],
        )
        guard_logs(self.secrets)  # the client libraries log requests, credentials included
        #: A credential object the caller passed is the caller's to close.
        self._given_credential = "credential" in storage_options
        fs_class = self._custom_endpoint_class(fs_class, options)
        self._prepare_options(is_async, options)
        try:
            self.fs: Any = self._open_fs(fs_class, is_async, options)
        except Exception as exc:
            self._fail("open", self.url, exc)
        self._attach(fs_class, fs_class._strip_protocol(url), owns_fs=True)

    @classmethod
    def from_filesystem(
        cls,
        fs: Any,
        path: str,
        *,
        max_concurrency: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        verify_prefixes: bool = False,
    ) -> FsspecBackend:
        """A store at ``path`` on a file system the caller made (``(fs, path)``, an ``FSMap``).

        A sync file system (memory, local, SFTP...) is used itself, wrapped for
        the backend's coroutines. An async one (s3fs, gcsfs, adlfs, HTTP) is bound
        to the loop it was made for, so a private instance is made from its
        ``storage_options`` on zarr-vectors' I/O loop, as fsspec does to pickle
        one. Either way the caller's file system is never closed by the backend.
        """
        check_backend_options(max_concurrency, timeout, verify_prefixes)
        if timeout <= 0:
            raise BackendOptionError(f"timeout must be a number of seconds > 0, got {timeout!r}.")
        self = cls.__new__(cls)
        fs_class: Any = type(fs)
        protocol = fs_class.protocol
        self.protocol = str(protocol if isinstance(protocol, str) else protocol[0])
        self.timeout = float(timeout)
        root = fs_class._strip_protocol(path)
        options = {k: v for k, v in fs.storage_options.items() if k not in _MANAGED_OPTIONS}
        is_async = bool(getattr(fs_class, "async_impl", False))
        if max_concurrency is None:
            max_concurrency = REMOTE_MAX_CONCURRENCY if is_async else LOCAL_MAX_CONCURRENCY
        ConditionalPuts.__init__(
            self,
            fs.unstrip_protocol(root),
            max_concurrency=max_concurrency,
            verify_prefixes=verify_prefixes,
            secrets=secret_values(options),
        )
        guard_logs(self.secrets)
        self._given_credential = "credential" in options
        if is_async:
            self._prepare_options(True, options)
            try:
                self.fs = self._open_fs(fs_class, True, options)
            except Exception as exc:
                self._fail("open", self.url, exc)
        else:
            self.fs = _wrapped(fs)
        self._attach(fs_class, root, owns_fs=is_async)
        return self

    def _attach(self, fs_class: Any, root: str, *, owns_fs: bool) -> None:
        """What every backend sets up once its file system is open (``root`` is stripped)."""
        #: The file system's own path normalisation (the class's: a wrapper's may differ).
        self._strip: Callable[[str], str] = fs_class._strip_protocol
        self._root: str = root.rstrip("/") if root != "/" else ""
        self.writable = self.protocol not in _READ_ONLY_PROTOCOLS  # type: ignore[misc]
        self._bucket = self._root.split("/", 1)[0] if self.protocol in BUCKET_PROTOCOLS else ""
        if self.protocol in BUCKET_PROTOCOLS and not self._bucket:
            raise StoreError(
                f"{self.url} names no bucket or container; use "
                f"{self.protocol}://BUCKET/optional/prefix."
            )
        # Object stores and HTTP keep keys flat; every other file system has directories.
        flat = bool(self._bucket) or self.protocol in _READ_ONLY_PROTOCOLS
        self.hierarchical_keys = not flat  # type: ignore[misc]
        self.conditional_writes = self.writable and _s3_conditional(  # type: ignore[misc]
            self.protocol, self.fs
        )
        #: False when the file system is the caller's own: it is theirs to close.
        self._owns_fs = owns_fs
        # A backend dropped unclosed still closes its clients (on the loop they were made on).
        self._finalizer = weakref.finalize(
            self, _close_dropped, self.fs if owns_fs else None, self._given_credential, get_loop()
        )
        self._finalizer.atexit = False  # at exit, _close_forgotten does it while the loop runs
        _watch(self)

    # -- construction helpers ---------------------------------------------------------------
    def _custom_endpoint_class(self, fs_class: Any, options: dict[str, Any]) -> Any:
        """gcsfs's default class asks Google's gRPC control plane for each bucket's layout.

        That API exists only on Google's own endpoint: against an emulator or any
        other ``endpoint_url`` every lookup waits for its own timeout and is never
        cached. With a custom endpoint, the plain JSON-API class is used instead.
        """
        if self.protocol in GCS_PROTOCOLS and options.get("endpoint_url"):
            from gcsfs.core import GCSFileSystem  # type: ignore[import-untyped]

            return GCSFileSystem
        return fs_class

    def _prepare_options(self, is_async: bool, options: dict[str, Any]) -> None:
        """Defaults that make fsspec behave as a key/value store (no stale caches)."""
        if is_async:
            # A private instance: closing this backend must not close anyone else's session.
            options.setdefault("skip_instance_cache", True)
            options.setdefault("use_listings_cache", False)
        if self.protocol in S3_PROTOCOLS:
            # s3fs's own per-object concurrency (the name is this backend's option, so the
            # caller cannot pass it): above 1, every whole-object read first HEADs the
            # object to decide on a chunked download, two requests where one does.
            options["max_concurrency"] = 1
            config = dict(options.get("config_kwargs") or {})
            config.setdefault("max_pool_connections", self.max_concurrency + SPARE_CONNECTIONS)
            config.setdefault("connect_timeout", self.timeout)
            config.setdefault("read_timeout", self.timeout)
            options["config_kwargs"] = config
        if self.protocol in _LOCAL_PROTOCOLS:
            options.setdefault("auto_mkdir", True)

    @staticmethod
    def _open_fs(fs_class: Any, is_async: bool, options: dict[str, Any]) -> Any:
        """The file system as an async one: natively, or a sync one wrapped once.

        ``loop`` is passed although an ``asynchronous`` file system ignores it:
        adlfs would otherwise start fsspec's own I/O thread to fill it in.
        """
        if is_async:
            fs = fs_class(asynchronous=True, loop=get_loop(), **options)
            _detach_finalizers(fs)
            return fs
        return _wrapped(fs_class(**options))

    @_on_io_loop
    async def _aget(self, key: str) -> bytes:
        return await self._read(key, None, None)

    @_on_io_loop
    async def _aget_range(self, key: str, start: int, length: int | None) -> bytes:
        data = await self._read(key, start, None if length is None else start + length)
        if length is not None and len(data) > length:
            data = data[start : start + length]  # a server that ignored the Range header
        return data

    @_on_io_loop
    async def _aput(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            if self.hierarchical_keys and await self._timed(self.fs._isdir(path)):
                raise self._conflict(key)  # memory:// would shadow the directory with a file
            for attempt in range(3):
                try:
                    await self._write_file(path, data)
                    break
                except FileNotFoundError:
                    # Another process's delete can prune the folder just made for this
                    # file (see _prune); the folder is made again on the next try.
                    if not self.hierarchical_keys or attempt == 2:
                        raise
        except FileNotFoundError:
            await self._aconfirm_missing(key)  # a missing bucket is a StoreError
            raise StoreError(
                f"Cannot write {key!r} in {self.url}: its location does not exist."
            ) from None
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            raise self._conflict(key) from None
        except KeyConflictError:
            raise
        except Exception as exc:
            self._fail("write", repr(key), exc)

    async def _write_file(self, path: str, data: bytes) -> None:
        """Write one object; on a local disk atomically, so a reader never sees it half written.

        fsspec's local ``pipe_file`` writes the file in place: a reader (another
        process) could read a torn root. Here the bytes go to a temporary file
        beside the target (``.zv-tmp-*``, hidden from listings and refused as a
        key) and are renamed over it (``os.replace``: the old object or the new).
        """
        if self.protocol not in _LOCAL_PROTOCOLS:
            await self._timed(self.fs._pipe_file(path, data))
            return
        tmp = f"{path.rpartition('/')[0]}/{TEMP_PREFIX}{uuid.uuid4().hex}"
        try:
            await self._timed(self.fs._pipe_file(tmp, data))
            loop = asyncio.get_running_loop()
            await self._timed(loop.run_in_executor(None, os.replace, tmp, path))
        except BaseException:
            with contextlib.suppress(Exception):
                await self._timed(self.fs._rm_file(tmp))
            raise

    def remove_temporaries(self) -> int:
        """On a local disk, delete the temporary files of puts killed before their rename.

        Used under the write lease by ``verify --repair``; other file systems write
        in place and leave none (0).
        """
        if self.protocol not in _LOCAL_PROTOCOLS:
            return 0
        return remove_temporary_files(self._root)

    @_on_io_loop
    async def _aexists(self, key: str) -> bool:
        return await self._info(key, "check") is not None

    @_on_io_loop
    async def _ahead(self, key: str) -> ObjectInfo:
        info = await self._info(key, "read")
        if info is None:
            raise await self._aconfirm_missing(key)
        size = info.get("size")
        if size is None:  # an HTTP server that sends no Content-Length
            size = len(await self._read(key, None, None))
        return ObjectInfo(key, int(size), _version(info))

    @_on_io_loop
    async def _adelete(self, key: str) -> None:
        path = self._path(key)
        try:
            if self.hierarchical_keys and not await self._timed(self.fs._isfile(path)):
                return  # nothing, or a directory: no object to delete
            await self._timed(self.fs._rm_file(path))
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return
        except Exception as exc:
            self._fail("delete", repr(key), exc)
        if self.hierarchical_keys:
            await self._prune(path)

    async def _prune(self, path: str) -> None:
        """Remove directories left empty by a delete, up to (not including) the root."""
        parent = path.rsplit("/", 1)[0]
        while parent != self._root and parent.startswith(f"{self._root}/"):
            try:
                if await self._timed(self.fs._ls(parent, detail=False)):
                    return
                await self._timed(self.fs._rmdir(parent))
            except Exception:
                return  # refilled or removed meanwhile: either way nothing to prune
            parent = parent.rsplit("/", 1)[0]

    @_on_io_loop
    async def _adelete_many(self, keys: list[str]) -> None:
        if self.hierarchical_keys:
            # Files: no request removes many, and each delete prunes its own directories.
            await super()._adelete_many(keys)
            return
        # fsspec's _rm expands glob characters, so such keys are deleted one by one.
        patterns = [k for k in keys if _GLOB_CHARS.intersection(k)]
        literal = [self._path(k) for k in keys if not _GLOB_CHARS.intersection(k)]
        batches = [literal[i : i + _DELETE_BATCH] for i in range(0, len(literal), _DELETE_BATCH)]
        await amap_bounded(self._rm_batch, batches, self.max_concurrency)
        await amap_bounded(self._adelete, patterns, self.max_concurrency)

    async def _rm_batch(self, paths: list[str]) -> None:
        self.check_fence()
        try:
            await self._timed(self.fs._rm(paths))
        except FileNotFoundError:
            return  # gcsfs: none of them existed
        except Exception as exc:
            self._fail("delete", f"{len(paths)} keys", exc)

    @_on_io_loop
    async def _amove_many(self, pairs: list[tuple[str, str]]) -> None:
        """The file system's own move where it has one, else the base class's copy.

        Object stores (s3fs, gcsfs, adlfs): the file system's ``_cp_file``, a
        server-side copy (s3fs: a HEAD and a CopyObject; no bytes through this
        client), then one ``_rm`` of the sources per 1,000 pairs. Local files:
        ``_mv``, a rename. Other file systems (memory, SFTP...): get, put and
        delete through the client. A source already gone was moved: skipped.
        """
        if self.hierarchical_keys:
            if self.protocol in _LOCAL_PROTOCOLS:
                await amap_bounded(self._rename, pairs, self.max_concurrency)
            else:
                await super()._amove_many(pairs)
            return
        if not _copies_on_server(self.fs):
            await super()._amove_many(pairs)  # no copy of its own: through the client
            return
        for start in range(0, len(pairs), _DELETE_BATCH):
            batch = pairs[start : start + _DELETE_BATCH]
            copied = await amap_bounded(self._copy, batch, self.max_concurrency)
            await self._adelete_many([source for source in copied if source is not None])

    async def _copy(self, pair: tuple[str, str]) -> str | None:
        """Copy ``source`` over ``destination`` with the file system's ``_cp_file``."""
        source, destination = pair
        self.check_fence()
        try:
            await self._timed(self.fs._cp_file(self._path(source), self._path(destination)))
        except FileNotFoundError:
            return None
        except Exception as exc:
            self._fail("move", f"{source!r} to {destination!r}", exc)
        return source

    async def _rename(self, pair: tuple[str, str]) -> None:
        """Move one local file with the file system's ``_mv`` (a rename), then prune."""
        source, destination = pair
        self.check_fence()
        path, target = self._path(source), self._path(destination)
        try:
            if not await self._timed(self.fs._isfile(path)):
                return  # moved already, or a directory: no object to move
            if await self._timed(self.fs._isdir(target)):
                raise self._conflict(destination)
            await self._timed(self.fs._mv(path, target))
        except (FileNotFoundError, IsADirectoryError):
            return
        except (FileExistsError, NotADirectoryError):
            raise self._conflict(destination) from None
        except KeyConflictError:
            raise
        except Exception as exc:
            self._fail("move", f"{source!r} to {destination!r}", exc)
        await self._prune(path)

    @_on_io_loop
    async def _adelete_prefix(self, prefix: str) -> None:
        await super()._adelete_prefix(prefix)  # one hop, then a listing and delete_many

    @_on_io_loop
    async def _alist(self, prefix: str, recursive: bool) -> list[str]:
        path = self._dir(prefix)
        try:
            if recursive:
                return await self._find_under(prefix)
            entries = list(await self._timed(self.fs._ls(path, detail=True)))
            if self._bucket and prefix and self._names_object(entries, path):
                # adlfs lists an object "ab" in place of the directory "ab/" beside it
                return children_of(prefix, await self._find_under(prefix), False)
        except (FileNotFoundError, NotADirectoryError):
            await self._aconfirm_missing(prefix)  # a missing bucket is a StoreError
            return []
        except Exception as exc:
            self._fail("list", repr(prefix), exc)
        return self._children(entries, prefix)

    async def _find_under(self, prefix: str) -> list[str]:
        """Every object key under ``prefix``.

        On object stores, a server-side prefix listing from the root: finding
        ``<root>/ab`` itself would return just the object ``ab`` when one exists
        beside ``ab/...`` (adlfs); a prefix under the root cannot be mistaken.
        """
        if self._bucket:
            found = await self._timed(self.fs._find(self._root, withdirs=False, prefix=prefix))
        else:
            found = await self._timed(self.fs._find(self._dir(prefix), withdirs=False))
        return self._objects(list(found), prefix)

    @_on_io_loop
    async def _aget_many(self, keys: list[str]) -> dict[str, bytes]:
        return await super()._aget_many(keys)

    @_on_io_loop
    async def _aput_many(self, items: list[tuple[str, bytes]]) -> None:
        await super()._aput_many(items)

    @_on_io_loop
    async def _aroot_exists(self) -> bool:
        if not self._bucket:
            return True
        try:
            await self._timed(self.fs._info(self._bucket))
        except FileNotFoundError:
            return False
        except Exception as exc:
            if _denied(exc):
                return True  # may read objects but not the bucket itself: cannot tell
            self._fail("check", self.url, exc)
        return True

    @_on_io_loop
    async def _aholds_objects(self, prefix: str) -> bool:
        call = getattr(self.fs, "_call_s3", None)
        if call is None:
            return bool(await self._alist(prefix, True))
        bucket, _, key = f"{self._root}/{prefix}".partition("/")
        try:  # s3fs: one listing request for a single key
            page = await self._timed(call("list_objects_v2", Bucket=bucket, Prefix=key, MaxKeys=1))
        except Exception as exc:
            self._fail("list", repr(prefix), exc)
        return bool(page.get("Contents"))

    @_on_io_loop
    async def _aclose(self) -> None:
        """Close the HTTP clients of this backend's private file system, on their own loop."""
        self._finalizer.detach()
        _OPEN.discard(self)
        if self._owns_fs:
            await _close_clients(self.fs, self._given_credential, self.timeout)
