"""Checking the fsspec backend's options, and turning URL credentials into options.

Nothing here imports fsspec; aiohttp is imported only for an ``http(s)://``
URL that carries a user name and password.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zarr_vectors.exceptions import BackendOptionError, StoreError
from zarr_vectors.storage.secrets import UrlCredentials, is_secret_option
from zarr_vectors_fsspec.info import AZURE_PROTOCOLS, GCS_PROTOCOLS, HTTP_PROTOCOLS, S3_PROTOCOLS

__all__ = [
    "AWS_ENV_HINT",
    "S3_PROTOCOLS",
    "apply_url_credentials",
    "check_backend_options",
    "check_storage_options",
    "install_hint",
]

#: Protocols whose file systems take a user name and password as options.
_LOGIN_PROTOCOLS = frozenset({"sftp", "ssh", "ftp", "smb", "webdav"})

AWS_ENV_HINT = (
    "or set the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
)

#: The zarr-vectors-fsspec extra that installs a protocol's file system.
_EXTRAS = (
    dict.fromkeys(S3_PROTOCOLS, "s3")
    | dict.fromkeys(GCS_PROTOCOLS, "gcs")
    | dict.fromkeys(AZURE_PROTOCOLS, "azure")
)


def _shown(name: str, value: object) -> str:
    """``value``'s type, and the value itself unless it may be a credential."""
    kind = type(value).__name__
    if is_secret_option(name) or isinstance(value, Mapping):
        return kind
    text = repr(value)
    return f"{kind} {text}" if len(text) <= 60 else kind


def _wrong_type(name: str, value: object, expected: str, example: str) -> BackendOptionError:
    return BackendOptionError(
        f"The fsspec backend's option {name} must be {expected}, got {_shown(name, value)}; "
        f"pass e.g. {name}={example}."
    )


def check_backend_options(
    max_concurrency: object, timeout: object, verify_prefixes: object
) -> None:
    """The backend's own options, by type first (a string from a config file is the usual slip)."""
    if max_concurrency is not None and (
        isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int)
    ):
        raise _wrong_type("max_concurrency", max_concurrency, "an int >= 1 (or None)", "8")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise _wrong_type("timeout", timeout, "a number of seconds > 0 (int or float)", "30")
    if not isinstance(verify_prefixes, bool):
        raise _wrong_type("verify_prefixes", verify_prefixes, "True or False", "True")


def check_storage_options(protocol: str, options: Mapping[str, Any]) -> None:
    """Storage options whose type is known, checked before the file system sees them.

    A wrong type otherwise surfaces late and far from its cause (a string
    ``client_kwargs`` fails inside aiobotocore at the first request).
    """
    for name, value in options.items():
        if name.endswith("_kwargs") and value is not None and not isinstance(value, Mapping):
            raise _wrong_type(name, value, "a dict", "{...}")
    if "endpoint_url" in options and not isinstance(options["endpoint_url"], str | None):
        raise _wrong_type(
            "endpoint_url", options["endpoint_url"], "a URL string", "'https://host:port'"
        )
    if "anon" in options and not isinstance(options["anon"], bool | None):
        raise _wrong_type("anon", options["anon"], "True or False", "True")
    if protocol in S3_PROTOCOLS:
        for name in ("key", "secret", "token"):
            value = options.get(name)
            if value is not None and not isinstance(value, str):
                raise _wrong_type(name, value, "a string", "'...'")


def install_hint(protocol: str, error: str) -> str:
    """What to install for ``protocol``: this package's extra, else fsspec's own words."""
    extra = _EXTRAS.get(protocol)
    if extra:
        return f'install it with: pip install "zarr-vectors-fsspec[{extra}]"'
    said = error.strip().rstrip(".")
    return f"fsspec says: {said}" if said else f"install fsspec's {protocol} implementation"


# -- credentials written into the URL -------------------------------------------------------


def _refuse(url: str, why: str, instead: str) -> BackendOptionError:
    return BackendOptionError(
        f"Credentials in the URL {url} are not used: {why}; remove them from the URL and "
        f"pass {instead}."
    )


def apply_url_credentials(
    protocol: str, url: str, credentials: UrlCredentials, options: dict[str, Any]
) -> list[str]:
    """Put the credentials taken out of ``url`` into ``options``, or refuse them.

    ``url`` is the URL without them (safe to show). Returns the secret values,
    for the backend's redaction list. Credentials already given as options are
    never overridden: giving them both ways is refused.
    """
    if not credentials:
        return []
    secrets = credentials.values()  # decoded and as written (core's split_url_credentials)
    if protocol in S3_PROTOCOLS:
        _s3_credentials(url, credentials, options)
    elif protocol in AZURE_PROTOCOLS:
        _azure_credentials(url, credentials, options)
    elif protocol in HTTP_PROTOCOLS:
        secrets.append(_http_credentials(url, credentials, options))
    elif protocol in GCS_PROTOCOLS:
        raise _refuse(
            url,
            "gcsfs takes no credentials from a URL",
            "storage_options={'token': ...} (a service-account JSON file, 'google_default', "
            "'anon'...)",
        )
    elif protocol in _LOGIN_PROTOCOLS:
        raise _refuse(
            url,
            f"fsspec's {protocol!r} file system is given them as options",
            "storage_options={'username': ..., 'password': ...}",
        )
    else:
        raise _refuse(
            url,
            f"fsspec's {protocol!r} file system takes none from a URL",
            "the file system's own credential options in storage_options={...}",
        )
    return [s for s in secrets if s]


def _given_twice(url: str, names: str) -> BackendOptionError:
    return BackendOptionError(
        f"Credentials given both in the URL {url} and as the option(s) {names}; give them "
        "once, in storage_options={...}."
    )


def _s3_credentials(url: str, credentials: UrlCredentials, options: dict[str, Any]) -> None:
    if credentials.query:
        raise _refuse(
            url,
            "a presigned query signs one request, not a store",
            "storage_options={'key': ..., 'secret': ..., 'token': ...}",
        )
    if not credentials.username or not credentials.password:
        raise _refuse(
            url,
            "an s3:// URL needs both an access key id and a secret (s3://KEY:SECRET@bucket)",
            "storage_options={'key': ..., 'secret': ...}",
        )
    if options.get("key") is not None or options.get("secret") is not None:
        raise _given_twice(url, "key/secret")
    if options.get("anon"):
        raise BackendOptionError(
            f"The URL {url} carries credentials but anon=True was given; drop one of them."
        )
    options["key"] = credentials.username
    options["secret"] = credentials.password


def _azure_credentials(url: str, credentials: UrlCredentials, options: dict[str, Any]) -> None:
    if credentials.password is not None or not credentials.query:
        raise _refuse(
            url,
            "Azure takes no user:password in a URL (only a SAS token as the query)",
            "storage_options={'account_name': ..., 'account_key': ...} or {'sas_token': ...}",
        )
    if options.get("sas_token") is not None:
        raise _given_twice(url, "sas_token")
    connection = options.get("connection_string")
    if isinstance(connection, str):
        # adlfs ignores sas_token beside a connection string (which may carry the
        # endpoint, as for an emulator); a connection string carries a SAS itself.
        fields = {part.split("=", 1)[0].strip().lower() for part in connection.split(";")}
        if fields & {"accountkey", "sharedaccesssignature"}:
            raise _given_twice(url, "connection_string (AccountKey/SharedAccessSignature)")
        options["connection_string"] = (
            f"{connection.rstrip(';')};SharedAccessSignature={credentials.query}"
        )
        return
    options["sas_token"] = credentials.query


def _http_credentials(url: str, credentials: UrlCredentials, options: dict[str, Any]) -> str:
    """Basic auth for fsspec's HTTP file system; returns the header value (a secret too).

    Sent as the session's ``Authorization`` header (aiohttp drops it on a redirect
    to another host); aiohttp before ``encode_basic_auth`` takes a ``BasicAuth``.
    """
    if credentials.query:
        raise _refuse(
            url,
            "a signed query (SAS, presigned URL) signs its own path, and a store's keys are "
            "other paths",
            "them for the whole store: az://CONTAINER/PATH with storage_options="
            "{'sas_token': ...}, or s3://BUCKET/PATH with {'key': ..., 'secret': ...}",
        )
    client_kwargs = dict(options.get("client_kwargs") or {})
    headers = client_kwargs.get("headers")
    if "auth" in client_kwargs or _has_authorization(headers):
        raise _given_twice(url, "client_kwargs['auth'] or an Authorization header")
    import aiohttp

    login, password = credentials.username or "", credentials.password or ""
    if ":" in login:
        raise StoreError(f"The user name in the URL {url} may not contain ':'.")
    encode = getattr(aiohttp, "encode_basic_auth", None)
    if encode is None:
        auth = aiohttp.BasicAuth(login, password)
        client_kwargs["auth"] = auth
        value = str(auth.encode())
    else:
        value = str(encode(login, password))
        client_kwargs["headers"] = {**dict(headers or {}), "Authorization": value}
    options["client_kwargs"] = client_kwargs
    return value


def _has_authorization(headers: object) -> bool:
    return isinstance(headers, Mapping) and any(
        str(name).lower() == "authorization" for name in headers
    )
