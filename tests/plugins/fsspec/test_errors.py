"""zarr_vectors_fsspec.errors: what a file system's error means, read down its chain of causes.

The errors are made here as the client libraries make them (an ``OSError`` whose
cause carries botocore's parsed ``response``, errors with ``status``/``status_code``).
"""

from __future__ import annotations

from typing import Any

from zarr_vectors_fsspec.errors import (
    _botocore_conditional_puts,
    _chain,
    _condition_failed,
    _denied,
    _http_status,
    _no_credentials,
    _s3_conditional,
    _s3_error_code,
    _version,
)


class _ClientError(Exception):
    """Like botocore's ClientError: a parsed ``response``."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}


class NoCredentialsError(Exception):
    """Named as botocore's is: only the name is read."""


def _wrapped(inner: BaseException) -> OSError:
    """An ``OSError`` caused by ``inner``, as s3fs raises it."""
    try:
        raise inner
    except BaseException as exc:
        try:
            raise OSError("wrapped") from exc
        except OSError as outer:
            return outer


def _with(**attrs: Any) -> Exception:
    exc = Exception("x")
    for name, value in attrs.items():
        setattr(exc, name, value)
    return exc


def test_the_chain_follows_cause_else_context_four_deep() -> None:
    inner = ValueError("inner")
    outer = _wrapped(inner)
    assert list(_chain(outer)) == [outer, inner]
    context = KeyError("k")
    lone = RuntimeError("r")
    lone.__context__ = context
    assert list(_chain(lone)) == [lone, context]
    deep: BaseException = Exception(0)
    for level in range(1, 8):
        outer_level = OSError(level)
        outer_level.__cause__ = deep
        deep = outer_level
    assert len(list(_chain(deep))) == 4


def test_the_http_status_from_any_library() -> None:
    assert _http_status(_with(status_code=404)) == 404  # azure-core
    assert _http_status(_with(status=416)) == 416  # aiohttp
    assert _http_status(_with(code=403)) == 403  # gcsfs
    assert _http_status(_with(code="NoSuchKey", status=99)) is None  # not HTTP statuses
    assert _http_status(_wrapped(_ClientError("PreconditionFailed", 412))) == 412  # s3fs
    assert _http_status(ValueError("x")) is None


def test_missing_credentials_and_refusals() -> None:
    assert _no_credentials(_wrapped(NoCredentialsError()))
    assert not _no_credentials(_wrapped(ValueError()))
    assert _denied(PermissionError("no")) and _denied(_with(status=401))
    assert _denied(_wrapped(_ClientError("AccessDenied", 403)))
    assert not _denied(_with(status=404))


def test_the_version_token_of_an_info_dict() -> None:
    assert _version({"ETag": '"abc"', "etag": "other"}) == '"abc"'
    assert _version({"etag": "e1"}) == "e1"
    assert _version({"generation": 17}) == "17"
    assert _version({"ETag": "", "size": 3}) is None


def test_a_failed_condition() -> None:
    assert _s3_error_code(_wrapped(_ClientError("PreconditionFailed", 412))) == "PreconditionFailed"
    assert _s3_error_code(ValueError()) is None
    assert _condition_failed(FileExistsError())
    assert _condition_failed(_wrapped(_ClientError("ConditionalRequestConflict", 409)))
    assert _condition_failed(_with(status=412))
    assert not _condition_failed(_wrapped(_ClientError("NoSuchKey", 404)))
    assert not _condition_failed(_with(status=409))  # a 409 of another kind


def test_conditional_puts_only_on_s3fs() -> None:
    class _S3fsLike:
        def _call_s3(self) -> None: ...

    assert not _s3_conditional("memory", _S3fsLike())
    assert not _s3_conditional("s3", object())
    assert _s3_conditional("s3", _S3fsLike()) == _botocore_conditional_puts()
