"""What an fsspec file system's error means: status, S3 error code, missing credentials.

File systems wrap their client library's errors (s3fs raises an ``OSError`` whose
cause is botocore's ``ClientError``), so each helper reads the chain of causes.
Also whether s3fs can send conditional PUTs at all.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

from zarr_vectors_fsspec.options import S3_PROTOCOLS

#: S3 error codes that mean a conditional write found another state (412), or raced
#: another conditional write of the same key (409); either way nothing was written.
_S3_CONDITION_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the errors behind it (cause, else context), at most four deep.

    File systems wrap their client library's error (s3fs: an ``OSError`` whose
    cause is botocore's ``ClientError``), so what an error means is read from
    the first link that carries it.
    """
    current: BaseException | None = exc
    for _ in range(4):
        if current is None:
            return
        yield current
        current = current.__cause__ or current.__context__


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status an exception or its cause carries.

    azure-core sets ``status_code``, aiohttp ``status``, gcsfs ``code``;
    s3fs raises an ``OSError`` whose cause is botocore's error with a ``response``.
    """
    for current in _chain(exc):
        for name in ("status_code", "status", "code"):
            value = getattr(current, name, None)
            if isinstance(value, int) and 100 <= value < 600:
                return value
        status = _response_of(current).get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(status, int):
            return status
    return None


def _response_of(exc: BaseException) -> Mapping[str, Any]:
    """botocore's parsed ``response`` of an error (empty for any other error)."""
    response = getattr(exc, "response", None)
    return response if isinstance(response, Mapping) else {}


def _no_credentials(exc: BaseException) -> bool:
    """Whether botocore found no credentials to sign with (its error, or one it caused)."""
    return any(
        type(current).__name__ in ("NoCredentialsError", "PartialCredentialsError")
        for current in _chain(exc)
    )


def _denied(exc: BaseException) -> bool:
    return isinstance(exc, PermissionError) or _http_status(exc) in (401, 403)


def _version(info: Mapping[str, Any]) -> str | None:
    """The version token in an fsspec ``info`` dict: s3fs ``ETag``, gcsfs/adlfs ``etag``."""
    for name in ("ETag", "etag", "generation"):
        value = info.get(name)
        if value:
            return str(value)
    return None


def _s3_error_code(exc: BaseException) -> str | None:
    """The S3 error code (``PreconditionFailed``...) of botocore's error behind ``exc``."""
    for current in _chain(exc):
        code = _response_of(current).get("Error", {}).get("Code")
        if isinstance(code, str):
            return code
    return None


def _condition_failed(exc: BaseException) -> bool:
    """Whether a conditional S3 PUT was refused because its condition did not hold.

    412 PreconditionFailed (s3fs raises ``FileExistsError`` for a failed
    ``If-None-Match`` on AWS, an ``OSError`` otherwise), or AWS's 409
    ConditionalRequestConflict when another conditional write of the key raced it.
    """
    if isinstance(exc, FileExistsError):
        return True
    return _s3_error_code(exc) in _S3_CONDITION_CODES or _http_status(exc) == 412


@functools.cache
def _botocore_conditional_puts() -> bool:
    """Whether the installed botocore sends ``IfNoneMatch`` and ``IfMatch`` with PutObject.

    Older releases (which old aiobotocore pins still allow) refuse both parameters.
    """
    try:
        from botocore.loaders import create_loader  # type: ignore[import-untyped]

        model = create_loader().load_service_model("s3", "service-2")
        members = model["shapes"]["PutObjectRequest"]["members"]
    except Exception:
        return False
    return "IfNoneMatch" in members and "IfMatch" in members


def _s3_conditional(protocol: str, fs: Any) -> bool:
    """Whether a backend's file system is s3fs able to send conditional PUTs."""
    if protocol not in S3_PROTOCOLS or not hasattr(fs, "_call_s3"):
        return False
    return _botocore_conditional_puts()
