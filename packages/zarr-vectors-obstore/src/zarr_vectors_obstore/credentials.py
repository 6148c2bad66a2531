"""Credentials written into a URL, and credentials missing altogether.

:func:`options_from_url` takes the credentials out of a URL (through the
core's :func:`~zarr_vectors.storage.secrets.split_url_credentials`)
before obstore sees it, and turns them into the options the storage takes:

* ``s3://KEY:SECRET@bucket/prefix`` -> ``access_key_id`` / ``secret_access_key``;
* a SAS query on ``az://container/prefix?sv=...&sig=...`` or on
  ``https://ACCOUNT.blob.core.windows.net/container/prefix?sv=...`` -> ``sas_key``;
* ``http(s)://user:password@host/path`` -> an ``Authorization: Basic`` header
  in ``client_options["default_headers"]`` (HTTP basic authentication);

and refuses the rest (GCS, a signed query on a plain HTTP URL, a password on
Azure) with one line saying where credentials go instead. Every value taken
out of the URL joins the backend's secrets, so no message shows it.

:func:`s3_has_credentials` tells whether an S3 store has any credentials in
sight; when it has none, obstore asks the EC2 instance metadata service, and
the failure of that is explained by :func:`missing_s3_credentials`.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from zarr_vectors.exceptions import BackendOptionError
from zarr_vectors.storage.secrets import (
    UrlCredentials,
    redact_options,
    redact_text,
    redact_url,
    split_url_credentials,
)

__all__ = [
    "FromUrl",
    "is_azure_host",
    "metadata_failure",
    "missing_s3_credentials",
    "options_from_url",
    "pin_s3_endpoint",
    "s3_endpoint_from_env",
    "s3_has_credentials",
]

#: Azure Blob / Data Lake hosts, whose https URLs obstore serves as Azure stores.
_AZURE_HOST = re.compile(r"(?i)^[a-z0-9]+\.(blob|dfs)\.core\.windows\.net(:\d+)?$")

#: Option names (friendly and obstore's, with their ``aws_``/``azure_storage_`` forms)
#: that already carry the credentials a URL would give.
_S3_KEYS = frozenset(
    {
        "key",
        "access_key",
        "access_key_id",
        "aws_access_key_id",
        "secret",
        "secret_key",
        "secret_access_key",
        "aws_secret_access_key",
    }
)
_AZURE_KEYS = frozenset(
    {
        "sas_key",
        "sas_token",
        "azure_storage_sas_key",
        "azure_storage_sas_token",
        "account_key",
        "azure_storage_account_key",
        "access_key",
        "key",
        "credential",
        "connection_string",
    }
)

#: Environment variables from which obstore (object_store) finds S3 credentials itself.
_S3_CREDENTIAL_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)
#: S3 config names (after aliases) that are credentials or say none are needed.
_S3_CREDENTIAL_CONFIG = frozenset(
    {
        "access_key_id",
        "aws_access_key_id",
        "secret_access_key",
        "aws_secret_access_key",
        "session_token",
        "aws_session_token",
        "token",
        "aws_token",
        "skip_signature",
        "aws_skip_signature",
        "container_credentials_relative_uri",
        "aws_container_credentials_relative_uri",
        "web_identity_token_file",
    }
)
#: Environment variables naming the S3 endpoint, the service-specific one first (as the
#: AWS SDKs read them); ``AWS_ENDPOINT`` is object_store's own name.
S3_ENDPOINT_ENV = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT")
_S3_ENDPOINT_CONFIG = frozenset(
    {"endpoint", "aws_endpoint", "aws_endpoint_url", "aws_endpoint_url_s3", "endpoint_url_s3"}
)
#: Where an S3 client without credentials asks for them (EC2 instance metadata).
_DEFAULT_METADATA_ENDPOINT = "169.254.169.254"
_METADATA_PATHS = ("/latest/api/token", "/latest/meta-data/iam")

_S3_HOW = (
    "pass storage_options={'access_key_id': ..., 'secret_access_key': ...} (or key=/secret=), "
    "set the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
    "or pass anon=True for a public bucket"
)


@dataclass
class FromUrl:
    """A URL with its credentials taken out, and what became of them."""

    url: str
    family: str
    options: dict[str, Any]
    secrets: list[str] = field(default_factory=list, repr=False)

    def __repr__(self) -> str:
        # A repr lands in tracebacks and debuggers: credential values never show.
        text = (
            f"FromUrl(url={redact_url(self.url)!r}, family={self.family!r}, "
            f"options={redact_options(self.options)!r})"
        )
        return redact_text(text, self.secrets)


def is_azure_host(url: str) -> bool:
    """Whether ``url`` is an ``https://ACCOUNT.blob|dfs.core.windows.net`` URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() == "https" and bool(_AZURE_HOST.match(parts.netloc))


def _given(options: Mapping[str, Any], names: frozenset[str]) -> list[str]:
    return sorted(name for name in options if name.lower() in names)


def _refuse(url: str, what: str, where: str) -> BackendOptionError:
    return BackendOptionError(
        f"The 'obstore' backend does not take {what} written into the URL "
        f"{redact_url(url)}; {where}."
    )


def options_from_url(url: str, family: str, options: Mapping[str, Any]) -> FromUrl:
    """``url`` without credentials, and ``options`` with them added (or a refusal).

    ``family`` is the store family the URL's scheme maps to ("s3", "gcs",
    "azure", "http", "memory"); an https URL to an Azure Blob host carrying a
    SAS is served as "azure" (``FromUrl.family`` says which). Raises
    :class:`BackendOptionError` when the storage takes no credentials from a
    URL, or when the same credentials are also given as options.
    """
    clean, found = split_url_credentials(url)
    if not found:
        return FromUrl(url, family, dict(options))
    secrets = found.values()  # decoded and as written (core's split_url_credentials)
    merged = dict(options)
    if family == "http" and found.query and is_azure_host(clean):
        family = "azure"
    if family == "s3":
        merged.update(_s3_from_url(url, found, options))
    elif family == "azure":
        merged.update(_azure_from_url(url, found, options))
    elif family == "http":
        header, extra = _http_from_url(url, found, options)
        secrets += extra
        client = dict(merged.get("client_options") or {})
        headers = dict(client.get("default_headers") or {})
        headers["Authorization"] = header
        client["default_headers"] = headers
        merged["client_options"] = client
    elif family == "gcs":
        raise _refuse(
            url,
            "credentials",
            "GCS takes none there. Pass storage_options={'service_account': "
            "'/path/to/key.json'} or {'token': ...}, or set GOOGLE_APPLICATION_CREDENTIALS",
        )
    else:
        raise _refuse(url, "credentials", f"a {family}:// store needs none")
    return FromUrl(clean, family, merged, secrets)


def _s3_from_url(url: str, found: UrlCredentials, options: Mapping[str, Any]) -> dict[str, Any]:
    if found.query:
        raise _refuse(
            url,
            "a signed query string",
            "a presigned URL names one object, not a store. Pass storage_options="
            "{'access_key_id': ..., 'secret_access_key': ..., 'session_token': ...} instead",
        )
    if not found.username or not found.password:
        raise _refuse(
            url,
            "a secret without an access key id",
            "write s3://ACCESS_KEY_ID:SECRET@bucket/prefix, or better pass storage_options="
            "{'access_key_id': ..., 'secret_access_key': ...}",
        )
    both = _given(options, _S3_KEYS)
    if both:
        raise BackendOptionError(
            f"S3 credentials were given both in the URL {redact_url(url)} and as the option(s) "
            f"{', '.join(both)}; give them once, preferably as storage_options={{...}}."
        )
    return {"access_key_id": found.username, "secret_access_key": found.password}


def _azure_from_url(url: str, found: UrlCredentials, options: Mapping[str, Any]) -> dict[str, Any]:
    if found.password is not None or not found.query:
        raise _refuse(
            url,
            "a password",
            "Azure takes an account key or SAS token as storage_options="
            "{'account_key': ...} or {'sas_token': ...} (or a SAS query on the URL)",
        )
    both = _given(options, _AZURE_KEYS)
    if both:
        raise BackendOptionError(
            f"Azure credentials were given both as the URL's SAS query ({redact_url(url)}) and "
            f"as the option(s) {', '.join(both)}; give them once."
        )
    return {"sas_key": found.query}


def _http_from_url(
    url: str, found: UrlCredentials, options: Mapping[str, Any]
) -> tuple[str, list[str]]:
    """The ``Authorization`` header for the URL's user and password, and its secret forms."""
    if found.query:
        raise _refuse(
            url,
            "a signed query string",
            "obstore's HTTP store sends no query with the requests it makes for each key. "
            "Read a presigned object with a plain HTTP client, or pass the store's own "
            "credentials as storage_options={...} for s3://, gs:// or az://",
        )
    client = options.get("client_options")
    headers = client.get("default_headers") if isinstance(client, Mapping) else None
    if isinstance(headers, Mapping) and any(str(k).lower() == "authorization" for k in headers):
        raise BackendOptionError(
            f"HTTP credentials were given both in the URL {redact_url(url)} and as an "
            "Authorization header in client_options['default_headers']; give them once."
        )
    pair = f"{found.username or ''}:{found.password or ''}"
    token = base64.b64encode(pair.encode()).decode()
    return f"Basic {token}", [token, pair]


# -------------------------------------------------------------------------- S3 environment
def s3_endpoint_from_env(config: Mapping[str, Any]) -> str | None:
    """The endpoint the environment names, when no endpoint option was given."""
    if any(name.lower() in _S3_ENDPOINT_CONFIG for name in config):
        return None
    for name in S3_ENDPOINT_ENV:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def pin_s3_endpoint(config: dict[str, Any]) -> bool:
    """Keep an endpoint option from being overridden by ``AWS_ENDPOINT_URL_S3``.

    obstore 0.12 reads that variable into a config key of its own
    (``aws_endpoint_url_s3``) that wins over ``endpoint``; so when the variable
    is set and an endpoint is configured, the endpoint is written under that key
    too. Returns whether it was (only ``S3Store(...)`` itself takes that key,
    not ``from_url``).
    """
    if not os.environ.get("AWS_ENDPOINT_URL_S3", "").strip():
        return False
    names = {name.lower(): name for name in config}
    if "aws_endpoint_url_s3" in names or "endpoint_url_s3" in names:
        return True
    for name in ("endpoint", "aws_endpoint", "aws_endpoint_url"):
        if name in names:
            config["aws_endpoint_url_s3"] = config[names[name]]
            return True
    return False


def s3_has_credentials(config: Mapping[str, Any], provider: object) -> bool:
    """Whether an S3 store has credentials (or needs none) other than instance metadata."""
    if provider is not None:
        return True
    if any(name.lower() in _S3_CREDENTIAL_CONFIG for name in config):
        return True
    if os.environ.get("AWS_SKIP_SIGNATURE", "").strip().lower() in ("1", "true", "yes"):
        return True
    return any(os.environ.get(name, "").strip() for name in _S3_CREDENTIAL_ENV)


def metadata_failure(text: str, config: Mapping[str, Any]) -> bool:
    """Whether obstore's message is a failed request to the instance metadata service."""
    endpoint = str(
        config.get("metadata_endpoint")
        or config.get("aws_metadata_endpoint")
        or os.environ.get("AWS_METADATA_ENDPOINT")
        or _DEFAULT_METADATA_ENDPOINT
    )
    host = urlsplit(endpoint).netloc or endpoint
    return host in text or any(path in text for path in _METADATA_PATHS)


def missing_s3_credentials(action: str) -> str:
    """The one line saying that ``action`` ("Reading 'k' in s3://b/p") found no credentials."""
    return f"{action} failed: no S3 credentials were found; {_S3_HOW}."
