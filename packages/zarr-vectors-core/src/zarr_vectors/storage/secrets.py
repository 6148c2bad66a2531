"""Keep credentials out of error messages, reprs and log lines.

Backends receive secrets as URL parts (``https://user:pass@host``, SAS query
strings, presigned URLs) and as options (``secret_access_key``, ``token``,
``connection_string``...). Everything that formats a URL or options for a human
goes through :func:`redact_url` or :func:`redact_options` first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

__all__ = [
    "REDACTED",
    "UrlCredentials",
    "is_secret_option",
    "redact_options",
    "redact_text",
    "redact_url",
    "secret_values",
    "split_url_credentials",
]

REDACTED = "***"

# Option names whose values are credentials. Matched as substrings of the lower-cased name.
_SECRET_WORDS = (
    "secret",
    "password",
    "passwd",
    "token",
    "sas",
    "signature",
    "credential",
    "connection_string",
    "account_key",
    "access_key",
    "private_key",
    "client_key",
    "api_key",
    "apikey",
    "auth",
    "session",
    "sig",
)
# Query parameters that carry credentials in presigned / SAS URLs.
_SECRET_QUERY = re.compile(
    r"^(sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|"
    r"x-goog-credential|token|access_token|sv|se|sp|skoid|sktid|sks|skv|code|key|password)$",
    re.IGNORECASE,
)


# Option names that are credentials though no secret word is in them (s3fs's ``key``,
# the Azure account name that pairs with a key).
_SECRET_NAMES = frozenset({"key", "account_name"})


def is_secret_option(name: str) -> bool:
    """Whether an option called ``name`` holds a credential."""
    lowered = name.lower()
    return lowered in _SECRET_NAMES or any(word in lowered for word in _SECRET_WORDS)


def secret_values(options: Mapping[str, Any]) -> list[str]:
    """Every credential value among ``options`` (nested mappings included).

    Backends keep this list to scrub messages that come from third-party
    libraries (:func:`redact_text`); a URL's password and signed query values
    are found by :func:`redact_url` instead.
    """
    found: list[str] = []
    for name, value in options.items():
        if isinstance(value, Mapping):
            found.extend(secret_values(value))
        elif isinstance(value, str | int) and not isinstance(value, bool):
            text = str(value)
            if text and is_secret_option(str(name)):
                found.append(text)
    return found


def redact_url(url: str) -> str:
    """Return ``url`` with any password and credential-bearing query values replaced.

    A password (``user:PASSWORD@``) is hidden in every URL. A user part without
    one is hidden too (``https://TOKEN@host``), except where the scheme's backend
    says it names a container (``BackendInfo.container_user_schemes``: Azure's
    ``abfs://container@account.dfs.core.windows.net/``).
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    if not parts.scheme or len(parts.scheme) == 1:  # a bare path or a Windows drive letter
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        if ":" in userinfo:
            netloc = f"{user}:{REDACTED}@{host}"
        elif not _user_names_container(parts.scheme):
            netloc = f"{REDACTED}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, REDACTED if _SECRET_QUERY.match(k) else v) for k, v in pairs], safe="*"
        )
    if netloc == parts.netloc and query == parts.query:
        return url  # nothing secret
    text = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    head = parts.scheme + "://"
    if url[: len(head)].lower() == head.lower() and not text.startswith(head):
        text = head + text[len(parts.scheme) + 1 :]  # urlunsplit drops "//" of "sqlite:///x"
    return text


def _user_names_container(scheme: str) -> bool:
    """Whether a ``scheme`` URL's user part names a container rather than a credential.

    The backends' descriptions say so (their :class:`~zarr_vectors.storage.info.BackendInfo`
    is the one home of schemes); a scheme no installed backend claims keeps it hidden.
    """
    from zarr_vectors.storage.registry import get_registry

    return scheme.lower() in get_registry().schemes_where("container_user_schemes")


def redact_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``options`` with every credential value replaced by ``***``.

    Nested mappings (``client_options``, ``credentials`` dicts) are redacted too.
    """
    redacted: dict[str, Any] = {}
    for name, value in options.items():
        if is_secret_option(str(name)):
            redacted[name] = REDACTED
        elif isinstance(value, Mapping):
            redacted[name] = redact_options(value)
        else:
            redacted[name] = value
    return redacted


def redact_text(text: str, secrets: list[str] | tuple[str, ...]) -> str:
    """Replace every occurrence of each known secret value in ``text``.

    Used on messages that come from third-party libraries, which may echo a
    credential they were given.
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


# Query parameters whose values are the secret part of a SAS or signed URL (the
# others, such as a SAS's version and expiry, are shown in messages as they are).
_SIGNATURE_QUERY = re.compile(
    r"^(sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|"
    r"x-goog-credential|token|access_token|code|key|password|skoid|sktid)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class UrlCredentials:
    """Credentials that were written into a URL, taken out of it.

    ``username``/``password`` come from ``scheme://user:password@host``,
    percent-decoded (an AWS secret's ``/`` is written ``%2F`` in a URL); a
    userinfo without a password, such as Azure's ``container@account``, is not
    a credential and stays in the URL. ``query`` is the whole query string
    when any of its parameters carries a credential (a SAS token or a signed
    URL are only valid as a whole), else empty.
    """

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    query: str = field(default="", repr=False)
    #: The user and password as the URL wrote them (percent-encoded), for redaction.
    written: tuple[str, ...] = field(default=(), repr=False)

    def __bool__(self) -> bool:
        return self.password is not None or bool(self.query)

    def values(self) -> list[str]:
        """The secret values, decoded and as written, for :func:`redact_text`.

        A user name that comes with a password counts (an S3 access key id);
        of a query, the whole string and its signature values.
        """
        found = [v for v in (self.password, *self.written) if v]
        if self.password is not None and self.username:
            found.append(self.username)
        if self.query:
            found.append(self.query)
            found += [v for k, v in parse_qsl(self.query) if _SIGNATURE_QUERY.match(k) and v]
        return list(dict.fromkeys(found))


def split_url_credentials(url: str) -> tuple[str, UrlCredentials]:
    """Return ``url`` without the credentials written into it, and those credentials.

    Backends call this before any third-party library sees the URL, then pass
    the credentials on as options where the storage accepts them or refuse the
    URL with a message that says where credentials go instead. The URL that is
    returned is safe to show.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, UrlCredentials()
    if not parts.scheme or len(parts.scheme) == 1:
        return url, UrlCredentials()
    netloc, user, password = parts.netloc, "", None
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            user, password = userinfo.split(":", 1)
            netloc = host
    query = parts.query
    signed = any(_SECRET_QUERY.match(k) for k, _ in parse_qsl(query, keep_blank_values=True))
    if password is None and not signed:
        return url, UrlCredentials()
    credentials = UrlCredentials(
        unquote(user) or None,
        None if password is None else unquote(password),
        query if signed else "",
        tuple(v for v in (user, password) if v) if password is not None else (),
    )
    text = urlunsplit((parts.scheme, netloc, parts.path, "" if signed else query, parts.fragment))
    head = parts.scheme + "://"
    if url[: len(head)].lower() == head.lower() and not text.startswith(head):
        text = head + text[len(parts.scheme) + 1 :]
    return text, credentials
