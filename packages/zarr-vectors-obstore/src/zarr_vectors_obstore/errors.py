"""Turning obstore's exceptions into zarr-vectors' exceptions, with no secret in the text.

Classification is by exception *type* wherever obstore has one (the builtin
:class:`FileNotFoundError` or :class:`obstore.exceptions.NotFoundError` for a
missing object, :class:`~obstore.exceptions.PermissionDeniedError` /
:class:`~obstore.exceptions.UnauthenticatedError` for refused credentials,
:class:`~obstore.exceptions.AlreadyExistsError` /
:class:`~obstore.exceptions.PreconditionError` for a failed conditional write).
A refused byte range has no type of its own (it is a ``GenericError``), so
:func:`is_range_refused` alone reads the message. Otherwise the library's
message is used only as the human-readable cause, cut to its first line and
scrubbed of every credential the backend was given.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from zarr_vectors.storage.secrets import REDACTED

__all__ = [
    "cause_of",
    "is_already_there",
    "is_denied",
    "is_not_found",
    "is_range_refused",
    "is_unknown_config",
    "is_version_mismatch",
]

# Credential-bearing query values (SAS tokens, presigned URLs) inside quoted URLs.
_QUERY_SECRET = re.compile(
    r"(?i)\b(sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|"
    r"x-goog-signature|x-goog-credential|se|sp|sv|skoid|sktid|token|access_token)=[^&\s\"'<>]+"
)
_MAX_CAUSE = 300
# How object_store words a refused range: the server's HTTP 416, or its own check of a
# range against the object's length (memory store; Azure checks the reply's header).
_RANGE_REFUSED = re.compile(
    r"416 Range Not Satisfiable|Wanted range starting at|Invalid range|CONTENT_RANGE"
)


def is_not_found(err: BaseException) -> bool:
    """Whether obstore reported a missing object (by type)."""
    from obstore.exceptions import NotFoundError

    return isinstance(err, NotFoundError | FileNotFoundError)


def is_denied(err: BaseException) -> bool:
    """Whether the server refused the credentials or the permission (by type)."""
    from obstore.exceptions import PermissionDeniedError, UnauthenticatedError

    return isinstance(err, PermissionDeniedError | UnauthenticatedError)


def is_range_refused(err: BaseException) -> bool:
    """Whether a ranged read failed because the range starts at or past the end.

    obstore raises a ``GenericError`` for it; only its message tells it apart
    from, say, a reset connection, for which no confirming HEAD should be spent.
    """
    from obstore.exceptions import GenericError

    return isinstance(err, GenericError) and _RANGE_REFUSED.search(str(err)) is not None


def is_already_there(err: BaseException) -> bool:
    """Whether a create-only write found an object already stored (by type)."""
    from obstore.exceptions import AlreadyExistsError

    return isinstance(err, AlreadyExistsError)


def is_version_mismatch(err: BaseException) -> bool:
    """Whether an if-match write found another version than the one expected (by type)."""
    from obstore.exceptions import PreconditionError

    return isinstance(err, PreconditionError)


def is_unknown_config(err: BaseException) -> bool:
    from obstore.exceptions import UnknownConfigurationKeyError

    return isinstance(err, UnknownConfigurationKeyError)


def cause_of(err: BaseException, redact: Callable[[str], str]) -> str:
    """One short line saying what went wrong, with no credential in it.

    ``redact`` is the backend's :meth:`~zarr_vectors.storage.Backend.redact`,
    which knows the credentials it was given; signed query values are scrubbed here.
    """
    text = str(err).strip() or type(err).__name__
    # obstore appends the server's XML body and a multi-line debug dump; keep the summary.
    for cut in ("\n", ": <?xml", "<?xml"):
        index = text.find(cut)
        if index > 0:
            text = text[:index]
    text = redact(text)
    text = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}={REDACTED}", text).rstrip(" .:")
    if len(text) > _MAX_CAUSE:
        text = text[: _MAX_CAUSE - 3] + "..."  # after the strip, which would take the dots
    return text
