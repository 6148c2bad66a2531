"""Turning ``backend_kwargs`` into obstore store configuration.

Users pass one flat set of keyword arguments. Each is sorted into obstore's
three places: the store's own config (region, endpoint, credentials...), its
HTTP ``client_options`` (``allow_http``, timeouts, proxies...) or its
``retry_config``. Friendly names used by s3fs/gcsfs/adlfs and the AWS SDKs
(``endpoint_url``, ``key``/``secret``, ``anon``, ``sas_token``,
``connection_string``...) are translated to obstore's names so that the same
``backend_kwargs`` work with either cloud backend where they mean the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from zarr_vectors.exceptions import BackendOptionError
from zarr_vectors.storage.secrets import redact_options, redact_text, secret_values
from zarr_vectors_obstore.info import SCHEME_FAMILIES

__all__ = [
    "ALIASES",
    "CLIENT_KEYS",
    "StoreOptions",
    "family_of",
    "secrets_of",
    "split_options",
]

#: Option names that belong in obstore's ``client_options`` (HTTP client settings).
CLIENT_KEYS = frozenset(
    {
        "allow_http",
        "allow_invalid_certificates",
        "connect_timeout",
        "default_content_type",
        "default_headers",
        "http1_only",
        "http2_keep_alive_interval",
        "http2_keep_alive_timeout",
        "http2_keep_alive_while_idle",
        "http2_only",
        "pool_idle_timeout",
        "pool_max_idle_per_host",
        "proxy_url",
        "proxy_ca_certificate",
        "proxy_excludes",
        "root_certificate",
        "randomize_addresses",
        "read_timeout",
        "user_agent",
    }
)

#: Friendly name -> obstore config name, per store family.
ALIASES: dict[str, dict[str, str]] = {
    "s3": {
        "endpoint_url": "endpoint",
        "key": "access_key_id",
        "access_key": "access_key_id",
        "secret": "secret_access_key",
        "secret_key": "secret_access_key",
        "token": "session_token",
        "region_name": "region",
        "anon": "skip_signature",
        "anonymous": "skip_signature",
    },
    "gcs": {
        "endpoint": "base_url",
        "endpoint_url": "base_url",
        "token": "bearer_token",
        "service_account_file": "service_account",
        "anon": "skip_signature",
        "anonymous": "skip_signature",
    },
    "azure": {
        "account": "account_name",
        "key": "account_key",
        "sas_token": "sas_key",
        "credential": "account_key",
        "endpoint_url": "endpoint",
        "anon": "skip_signature",
        "anonymous": "skip_signature",
    },
    "http": {},
    "memory": {},
}


def family_of(scheme: str) -> str | None:
    """The store family ("s3", "gcs", "azure", "http", "memory") serving ``scheme``."""
    return SCHEME_FAMILIES.get(scheme.lower())


@dataclass
class StoreOptions:
    """Options sorted into obstore's three places, plus the secrets to scrub from messages."""

    config: dict[str, Any] = field(default_factory=dict)
    client_options: dict[str, Any] = field(default_factory=dict)
    retry_config: dict[str, Any] = field(default_factory=dict)
    credential_provider: Any = None
    secrets: list[str] = field(default_factory=list, repr=False)

    def __repr__(self) -> str:
        # A repr lands in tracebacks and debuggers: credential values never show.
        text = (
            f"StoreOptions(config={redact_options(self.config)!r}, "
            f"client_options={redact_options(self.client_options)!r}, "
            f"retry_config={self.retry_config!r}, "
            f"credential_provider={self.credential_provider!r})"
        )
        return redact_text(text, self.secrets)


def _parse_connection_string(text: str) -> dict[str, str]:
    """Azure ``AccountName=..;AccountKey=..;BlobEndpoint=..`` -> obstore config."""
    fields: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name.strip().lower()] = value.strip()
    config: dict[str, str] = {}
    if "accountname" in fields:
        config["account_name"] = fields["accountname"]
    if "accountkey" in fields:
        config["account_key"] = fields["accountkey"]
    if "sharedaccesssignature" in fields:
        config["sas_key"] = fields["sharedaccesssignature"]
    if "blobendpoint" in fields:
        config["endpoint"] = fields["blobendpoint"]
    if fields.get("usedevelopmentstorage", "").lower() == "true":
        config["use_emulator"] = "true"
    if not config.get("account_name") and not config.get("use_emulator"):
        raise BackendOptionError(
            "The 'obstore' backend could not use the Azure connection_string option: it has no "
            "AccountName. Pass a connection string from the Azure portal or account_name=... "
            "with account_key=... instead."
        )
    return config


def secrets_of(options: Mapping[str, Any]) -> list[str]:
    """The credential values among ``options``, and the pieces they may leak in.

    A SAS token or connection string also shows up in pieces (one query value,
    one ``Name=value`` field) in a server's message, so those are scrubbed too.
    """
    found = secret_values(options)
    for value in list(found):
        for piece in value.replace(";", "&").split("&"):
            _, sep, part = piece.partition("=")
            if sep and len(part) >= 8:
                found.append(part)
    return found


def split_options(
    family: str,
    options: Mapping[str, Any],
    *,
    timeout: float,
    max_retries: int,
) -> StoreOptions:
    """Sort ``options`` for a store of ``family``; translate friendly names.

    Unknown names are left in ``config`` for obstore to judge (it knows every
    config key of every store); HTTP and memory stores take no config at all,
    so there anything that is not a client or retry option is refused here.
    """
    aliases = ALIASES[family]
    result = StoreOptions(secrets=secrets_of(options))
    for name, value in options.items():
        if name == "client_options":
            if not isinstance(value, Mapping):
                raise BackendOptionError(
                    "The 'obstore' backend's option client_options must be a dict of HTTP "
                    f"client settings, got {type(value).__name__}."
                )
            result.client_options.update(value)
        elif name == "retry_config":
            if not isinstance(value, Mapping):
                raise BackendOptionError(
                    "The 'obstore' backend's option retry_config must be a dict of retry "
                    f"settings, got {type(value).__name__}."
                )
            result.retry_config.update(value)
        elif name == "credential_provider":
            result.credential_provider = value
        elif name in CLIENT_KEYS:
            result.client_options[name] = value
        elif family == "azure" and name == "connection_string":
            parsed = _parse_connection_string(str(value))
            result.config.update(parsed)
        elif family in ("http", "memory"):
            what = "an HTTP(S) URL" if family == "http" else "a memory:// store"
            raise BackendOptionError(
                f"The 'obstore' backend does not accept the option {name!r} for {what}; "
                "only HTTP client options (allow_http, connect_timeout, ...), client_options, "
                "retry_config, timeout and max_retries apply there."
            )
        else:
            result.config[aliases.get(name, name)] = value
    result.client_options.setdefault("timeout", timedelta(seconds=timeout))
    result.client_options.setdefault("connect_timeout", timedelta(seconds=min(timeout, 10.0)))
    result.retry_config.setdefault("max_retries", max_retries)
    result.retry_config.setdefault("retry_timeout", timedelta(seconds=timeout))
    return result
