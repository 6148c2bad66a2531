"""Turning obstore's exceptions into zarr-vectors' exceptions, with no secret in the text.

Classification is by exception *type* only (obstore raises the builtin
:class:`FileNotFoundError` or :class:`obstore.exceptions.NotFoundError` for a
missing object, :class:`~obstore.exceptions.PermissionDeniedError` /
:class:`~obstore.exceptions.UnauthenticatedError` for refused credentials).
The library's message is used only as the human-readable cause, cut to its
first line and scrubbed of every credential the backend was given.
"""

from __future__ import annotations

import re

from zarr_vectors.core.backends.secrets import REDACTED, redact_text

__all__ = ["cause_of", "is_denied", "is_not_found", "is_unknown_config"]

# Credential-bearing query values (SAS tokens, presigned URLs) inside quoted URLs.
_QUERY_SECRET = re.compile(
    r"(?i)\b(sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|"
    r"x-goog-signature|x-goog-credential|se|sp|sv|skoid|sktid|token|access_token)=[^&\s\"'<>]+"
)
_MAX_CAUSE = 300


def is_not_found(err: BaseException) -> bool:
    """Whether obstore reported a missing object (by type)."""
    from obstore.exceptions import NotFoundError

    return isinstance(err, NotFoundError | FileNotFoundError)


def is_denied(err: BaseException) -> bool:
    """Whether the server refused the credentials or the permission (by type)."""
    from obstore.exceptions import PermissionDeniedError, UnauthenticatedError

    return isinstance(err, PermissionDeniedError | UnauthenticatedError)


def is_unknown_config(err: BaseException) -> bool:
    from obstore.exceptions import UnknownConfigurationKeyError

    return isinstance(err, UnknownConfigurationKeyError)


def cause_of(err: BaseException, secrets: list[str]) -> str:
    """One short line saying what went wrong, with no credential in it."""
    text = str(err).strip() or type(err).__name__
    # obstore appends the server's XML body and a multi-line debug dump; keep the summary.
    for cut in ("\n", ": <?xml", "<?xml"):
        index = text.find(cut)
        if index > 0:
            text = text[:index]
    text = redact_text(text, secrets)
    text = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    if len(text) > _MAX_CAUSE:
        text = text[: _MAX_CAUSE - 3] + "..."
    return text.rstrip(" .:")
