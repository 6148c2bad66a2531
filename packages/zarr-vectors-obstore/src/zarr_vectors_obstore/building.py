"""Making the obstore store a backend talks to: from a URL and options, or adopted as given.

Kept apart from :mod:`zarr_vectors_obstore.backend` (which only moves bytes):
checking option types, choosing the store class, reading the S3 endpoint from
the environment, and naming the option obstore refused.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from zarr_vectors.exceptions import BackendOptionError, StoreError
from zarr_vectors.storage.secrets import redact_url, split_url_credentials
from zarr_vectors_obstore.credentials import (
    pin_s3_endpoint,
    s3_endpoint_from_env,
    s3_has_credentials,
)
from zarr_vectors_obstore.errors import cause_of, is_unknown_config
from zarr_vectors_obstore.info import OBSTORE
from zarr_vectors_obstore.options import StoreOptions, secrets_of

__all__ = ["SERVED_SCHEMES", "BuiltStore", "bad_config", "build_store", "check_types"]

_HTTP_ENDPOINT = re.compile(r"^http://", re.IGNORECASE)
_MEMORY_LOCK = threading.Lock()
_MEMORY_STORES: dict[str, Any] = {}
#: The schemes this backend serves (as the entry point declares them), besides memory://.
SERVED_SCHEMES = OBSTORE.schemes


class BuiltStore(NamedTuple):
    """A store made from a URL, with what S3 error messages need to know of its config."""

    store: Any
    s3_config: dict[str, Any] = {}  # noqa: RUF012 (a NamedTuple default, never mutated)
    #: S3 only: no credentials in sight, so obstore asks the instance metadata service.
    no_credentials: bool = False


def _type_error(name: str, value: object, expected: str) -> BackendOptionError:
    return BackendOptionError(
        f"The 'obstore' backend's option {name} must be {expected}, got "
        f"{type(value).__name__} {value!r}."
    )


def check_types(
    max_concurrency: object, timeout: object, max_retries: object, verify_prefixes: object
) -> None:
    """Refuse option values of the wrong type, naming the option and both types.

    Values that arrive as text (``max_concurrency="8"``, from a config file or a
    command line) are refused rather than guessed at.
    """
    if max_concurrency is not None and (
        isinstance(max_concurrency, bool)
        or not isinstance(max_concurrency, int)
        or max_concurrency < 1
    ):
        raise _type_error("max_concurrency", max_concurrency, "an int >= 1 (or None)")
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not timeout > 0
        or timeout == float("inf")
    ):
        raise _type_error("timeout", timeout, "a number of seconds > 0 (int or float)")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise _type_error("max_retries", max_retries, "an int >= 0")
    if not isinstance(verify_prefixes, bool):
        raise _type_error("verify_prefixes", verify_prefixes, "a bool")


def cannot_serve(url: str, scheme: str) -> str:
    """One line: this URL's scheme, the schemes obstore serves, the backends serving it."""
    from zarr_vectors.storage.registry import get_registry

    shown = f"the scheme {scheme}://" if scheme else "a local path"
    others = [n for n in get_registry().scheme_table.get(scheme, ()) if n != "obstore"]
    if others:
        names = ", ".join(repr(n) for n in others)
        hint = f"{shown} is served by {names}: pass backend={others[0]!r} or leave backend unset"
    else:
        hint = f"no installed backend serves {shown}"
    return (
        f"The 'obstore' backend cannot serve {redact_url(url)} ({shown}); it serves "
        f"{', '.join(s + '://' for s in SERVED_SCHEMES)} and memory:// only, and {hint}."
    )


def _s3_store_from_url(url: str, **kwargs: Any) -> Any:
    """``S3Store(bucket, prefix=...)`` for ``s3://bucket/prefix``: it takes config keys
    (``aws_endpoint_url_s3``) that obstore's ``from_url`` refuses."""
    from obstore.store import S3Store

    parts = urlsplit(url)
    store: Any = S3Store
    return store(parts.netloc, prefix=parts.path.strip("/") or None, **kwargs)


def describe_store(store: Any) -> tuple[str, str, list[str]]:
    """``(family, url, secrets)`` of an obstore store made by the caller."""
    from obstore.store import AzureStore, GCSStore, HTTPStore, MemoryStore, S3Store

    prefix = str(getattr(store, "prefix", None) or "").strip("/")
    tail = f"/{prefix}" if prefix else ""
    config: dict[str, Any] = dict(getattr(store, "config", None) or {})
    secrets = secrets_of(config)
    client = getattr(store, "client_options", None) or {}
    for name, value in dict(client.get("default_headers") or {}).items():
        if str(name).lower() in ("authorization", "proxy-authorization"):
            text = value.decode() if isinstance(value, bytes) else str(value)
            secrets += [text, text.partition(" ")[2]]
    if isinstance(store, S3Store):
        return "s3", f"s3://{config.get('bucket', '')}{tail}", secrets
    if isinstance(store, GCSStore):
        return "gcs", f"gs://{config.get('bucket', '')}{tail}", secrets
    if isinstance(store, AzureStore):
        return "azure", f"az://{config.get('container_name', '')}{tail}", secrets
    if isinstance(store, HTTPStore):
        clean, found = split_url_credentials(str(store.url))
        return "http", clean, secrets + found.values()
    if isinstance(store, MemoryStore):
        return "memory", f"memory://obstore-{id(store):x}", secrets
    raise StoreError(
        f"An obstore {type(store).__name__} cannot be used as a zarr-vectors store; pass an "
        "S3Store, GCSStore, AzureStore, HTTPStore, MemoryStore or LocalStore."
    )


def build_store(
    url: str,
    scheme: str,
    family: str,
    options: StoreOptions,
    fail: Callable[[BaseException], StoreError],
) -> BuiltStore:
    """The obstore store for ``url``; ``fail(exc)`` says why obstore refused its configuration."""
    from obstore.store import HTTPStore, MemoryStore, from_url

    if family == "memory":
        # Like fsspec's memory file system: one store per URL for the whole process.
        with _MEMORY_LOCK:
            return BuiltStore(_MEMORY_STORES.setdefault(url.rstrip("/"), MemoryStore()))
    client = options.client_options
    retry = options.retry_config
    if family == "http":
        if scheme == "http":
            client.setdefault("allow_http", True)  # the URL itself asks for plain HTTP
        # obstore joins keys to the base with '/', so the base must not end in one.
        base = url.rstrip("/")
        # Options are plain dicts here; obstore checks them (its TypedDicts are static only).
        http_from_url: Any = HTTPStore.from_url
        try:
            return BuiltStore(http_from_url(base, client_options=client, retry_config=retry))
        except Exception as exc:
            error = fail(exc)
        raise error
    pinned = False
    built = BuiltStore(None)
    if family == "s3":
        # The AWS SDKs' endpoint variables, when no endpoint option was given.
        from_env = s3_endpoint_from_env(options.config)
        if from_env is not None:
            options.config["endpoint"] = from_env
        pinned = pin_s3_endpoint(options.config)
        built = BuiltStore(
            None,
            dict(options.config),
            not s3_has_credentials(options.config, options.credential_provider),
        )
    endpoint = options.config.get("endpoint") or options.config.get("base_url")
    if isinstance(endpoint, str) and _HTTP_ENDPOINT.match(endpoint):
        client.setdefault("allow_http", True)  # an http:// endpoint says plain HTTP is meant
    if scheme == "gcs":
        url = "gs" + url[len("gcs") :]
    kwargs: dict[str, Any] = {}
    if options.credential_provider is not None:
        kwargs["credential_provider"] = options.credential_provider
    store_from_url: Any = from_url
    if pinned:
        store_from_url = _s3_store_from_url
    try:
        store = store_from_url(
            url,
            config=options.config or None,
            client_options=client,
            retry_config=retry,
            **kwargs,
        )
        return BuiltStore(store, built.s3_config, built.no_credentials)
    except Exception as exc:
        error = fail(exc)
    raise error


def bad_config(
    exc: BaseException, options: StoreOptions, family: str, url: str, redact: Callable[[str], str]
) -> StoreError:
    """Why obstore refused the configuration, naming the offending option(s).

    Returned, not raised: callers raise it outside their ``except`` block so that
    obstore's own exception (whose text may quote a signed URL) is not chained.
    """
    if is_unknown_config(exc):
        unknown = unknown_keys(options, family)
        names = ", ".join(repr(k) for k in unknown) or "(see cause)"
        return BackendOptionError(
            f"The 'obstore' backend does not accept the option(s) {names} for {url}. "
            "Pass obstore configuration names (region, endpoint, access_key_id, "
            "skip_signature, account_name, ...) or the aliases listed in "
            "zarr_vectors_obstore.options.ALIASES."
        )
    return StoreError(
        f"The 'obstore' backend could not be configured for {url}: {cause_of(exc, redact)}."
    )


def unknown_keys(options: StoreOptions, family: str) -> list[str]:
    """Which config keys obstore rejects, found by trying each alone (no network)."""
    from obstore.store import AzureStore, GCSStore, S3Store

    probe: Callable[..., Any] = {
        "s3": lambda **kw: S3Store("probe", **kw),
        "gcs": lambda **kw: GCSStore("probe", **kw),
        "azure": lambda **kw: AzureStore("probe", account_name="probe", **kw),
    }[family]
    unknown = []
    for key, value in options.config.items():
        try:
            probe(**{key: value})
        except Exception as exc:
            if is_unknown_config(exc):
                unknown.append(key)
    return sorted(unknown)
