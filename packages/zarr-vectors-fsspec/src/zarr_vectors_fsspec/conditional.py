"""Conditional writes (``put_if``) of the fsspec backend: S3 through s3fs only.

One PutObject with ``IfNoneMatch: *`` (create-only) or ``IfMatch: <ETag>``; see
:class:`~zarr_vectors_fsspec.backend.FsspecBackend` for what is and is not offered.
"""

from __future__ import annotations

from collections.abc import Mapping

from zarr_vectors.exceptions import PreconditionFailedError, StoreError
from zarr_vectors_fsspec.errors import _condition_failed, _version
from zarr_vectors_fsspec.paths import FsspecPaths, _on_io_loop

#: Largest object one S3 PUT takes (5 GiB): a conditional write must be one request,
#: since s3fs would send a larger one as a multipart upload, without the condition.
_S3_MAX_PUT = 5 * 2**30


class ConditionalPuts(FsspecPaths):
    """``put_if`` as one conditional PutObject (where ``conditional_writes`` is true)."""

    @_on_io_loop
    async def _aput_if(self, key: str, data: bytes, expect: str | None) -> str:
        """One conditional PutObject through s3fs (only where ``conditional_writes``)."""
        if len(data) >= _S3_MAX_PUT:
            raise StoreError(
                f"Cannot write {key!r} in {self.url} conditionally: {len(data)} bytes need a "
                "multipart upload, which s3fs sends without the condition (the limit is 5 GiB)."
            )
        try:
            return await self._put_conditionally(key, data, expect)
        except PreconditionFailedError:
            if expect is not None or not await self._drop_emptied_folder(key):
                raise
        return await self._put_conditionally(key, data, expect)  # once: the folder is gone

    async def _drop_emptied_folder(self, key: str) -> bool:
        """After a refused create-only put: remove an emptied folder named ``key``, if that is it.

        S3 servers with real folders (SeaweedFS) keep a folder after its last
        object is deleted, and refuse ``If-None-Match: *`` on its name although
        no object is stored there. When no object is at ``key`` nor under
        ``key/``, the folder's marker ``key/`` (never a key of a store) is deleted;
        SeaweedFS leaves a folder that holds objects as it is. True if it was.
        """
        if await self._info(key, "write") is not None or await self._aholds_objects(f"{key}/"):
            return False
        try:
            await self._timed(self.fs._rm_file(f"{self._path(key)}/"))
        except FileNotFoundError:
            pass
        except Exception as exc:
            self._fail("write", f"{key!r} conditionally", exc)
        return True

    async def _put_conditionally(self, key: str, data: bytes, expect: str | None) -> str:
        path = self._path(key)
        condition = {"IfNoneMatch": "*"} if expect is None else {"IfMatch": expect}
        try:
            # A chunk size above the object's keeps s3fs to a single PutObject.
            out = await self._timed(
                self.fs._pipe_file(path, data, chunksize=len(data) + 1, **condition)
            )
        except FileNotFoundError:
            # A missing bucket is a StoreError; else AWS's 404 to an if-match on a gone key.
            await self._aconfirm_missing(key)
            if expect is None:
                raise StoreError(
                    f"Cannot write {key!r} in {self.url}: its location does not exist."
                ) from None
            raise self._stale(key, expect) from None
        except Exception as exc:
            if not _condition_failed(exc):
                self._fail("write", f"{key!r} conditionally", exc)
            if expect is None:
                raise PreconditionFailedError(
                    f"{key!r} already exists in {self.url}: another writer created it first. "
                    "Read it and retry with its version, or give up."
                ) from None
            raise self._stale(key, expect) from None
        version = _version(out) if isinstance(out, Mapping) else None
        if version is None:
            raise StoreError(
                f"Wrote {key!r} in {self.url} conditionally, but the server returned no ETag; "
                "its version is unknown (use a server that returns one)."
            )
        return version

    def _stale(self, key: str, expect: str) -> PreconditionFailedError:
        return PreconditionFailedError(
            f"{key!r} in {self.url} is no longer at version {self.redact(expect)!r}: another "
            "writer changed or deleted it. Read it again and retry, or give up."
        )
