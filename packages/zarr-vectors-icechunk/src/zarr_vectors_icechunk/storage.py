"""Where an Icechunk repository lives: a URL and options turned into an ``icechunk.Storage``.

The URL forms are the ones the published zarr-vectors 0.9.2 takes for its
icechunk backend, so that the same string opens the same repository with
either: a local path or ``file://`` URL, ``s3://bucket/prefix`` (``s3a`` too),
``gs://bucket/prefix`` (``gcs`` too), ``az://container/prefix`` (``azure``,
``abfs``; the account comes from the ``account_name`` option or, in
``abfs://container@account.dfs.core.windows.net/prefix``, from the host) and
``memory://name`` (a repository in this process's memory, for tests).

Options take the names the obstore plugin takes where they mean the same
(``endpoint``, ``region``, ``access_key_id``, ``secret_access_key``,
``allow_http``...), and the s3fs/AWS spellings as aliases, so switching a call
from ``backend="obstore"`` to ``backend="icechunk"`` keeps its options.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from zarr_vectors.exceptions import BackendOptionError, StoreError
from zarr_vectors.storage.secrets import redact_url
from zarr_vectors_icechunk.info import SCHEME_FAMILIES

__all__ = ["LOCATION_OPTIONS", "Location", "make_location"]

#: Option name -> the icechunk storage factory's argument, per family (aliases included).
_NAMES: dict[str, dict[str, str]] = {
    "s3": {
        "region": "region",
        "region_name": "region",
        "endpoint": "endpoint_url",
        "endpoint_url": "endpoint_url",
        "aws_endpoint_url": "endpoint_url",
        "allow_http": "allow_http",
        "access_key_id": "access_key_id",
        "key": "access_key_id",
        "access_key": "access_key_id",
        "secret_access_key": "secret_access_key",
        "secret": "secret_access_key",
        "secret_key": "secret_access_key",
        "session_token": "session_token",
        "token": "session_token",
        "anonymous": "anonymous",
        "anon": "anonymous",
        "skip_signature": "anonymous",
        "from_env": "from_env",
        "force_path_style": "force_path_style",
        "requester_pays": "requester_pays",
    },
    "gcs": {
        "service_account_file": "service_account_file",
        "service_account": "service_account_file",
        "service_account_key": "service_account_key",
        "application_credentials": "application_credentials",
        "bearer_token": "bearer_token",
        "token": "bearer_token",
        "anonymous": "anonymous",
        "anon": "anonymous",
        "skip_signature": "anonymous",
        "from_env": "from_env",
        "endpoint": "google_base_url",
        "endpoint_url": "google_base_url",
        "base_url": "google_base_url",
        "allow_http": "allow_http",
    },
    "azure": {
        "account_name": "account",
        "account": "account",
        "access_key": "access_key",
        "account_key": "access_key",
        "key": "access_key",
        "sas_token": "sas_token",
        "sas_key": "sas_token",
        "bearer_token": "bearer_token",
        "token": "bearer_token",
        "from_env": "from_env",
        "endpoint": "azure_storage_endpoint",
        "endpoint_url": "azure_storage_endpoint",
        "allow_http": "allow_http",
        "use_emulator": "azure_storage_use_emulator",
    },
    "local": {},
    "memory": {},
}
#: Every storage option, for the BackendInfo and the message refusing an unknown one.
LOCATION_OPTIONS = frozenset(n for names in _NAMES.values() for n in names)
_SECRET_ARGS = frozenset(
    {
        "secret_access_key",
        "session_token",
        "service_account_key",
        "bearer_token",
        "access_key",
        "sas_token",
    }
)
_FAMILY = SCHEME_FAMILIES
#: The schemes this plugin opens (``""`` is a bare path).
SCHEMES = tuple(s for s in _FAMILY if s)

_MEMORY_LOCK = threading.Lock()
_MEMORY: dict[str, Any] = {}


@dataclass(frozen=True)
class Location:
    """An icechunk ``Storage`` with the URL shown in messages and the secrets it holds."""

    storage: Any
    url: str
    family: str
    secrets: tuple[str, ...]


def _scheme(url: str) -> str:
    head, sep, _ = url.partition("://")
    if not sep or len(head) == 1 or not head.replace("+", "").replace("-", "").isalnum():
        return ""  # a bare path (C:/data included)
    return head.lower()


def _quiet_local_warning(icechunk: Any) -> None:
    """Keep Icechunk from warning on every open of a repository in a local folder.

    The warning (commits from several processes at once are not safe there) is
    said once, in the plugin's documentation; repeated on stdout for every open
    it buries everything else. ``ICECHUNK_LOG`` set by the user wins.
    """
    global _QUIETED
    if _QUIETED or "ICECHUNK_LOG" in os.environ:
        return
    _QUIETED = True
    quiet = getattr(icechunk, "set_logs_filter", None)
    if quiet is not None:
        quiet("warn,icechunk::storage::object_store=error")


_QUIETED = False


def make_location(url: str, options: Mapping[str, Any]) -> Location:
    """The icechunk storage for ``url`` configured by ``options`` (see the module docstring)."""
    import icechunk

    scheme = _scheme(url)
    family = _FAMILY.get(scheme)
    if family is None:
        served = ", ".join(f"{s}://" for s in SCHEMES)
        raise StoreError(
            f"The 'icechunk' backend cannot open {redact_url(url)}: it serves local paths, "
            f"{served}; give a URL of one of these."
        )
    names = _NAMES[family]
    unknown = sorted(set(options) - set(names))
    if unknown:
        accepted = ", ".join(sorted(names)) or "none"
        raise BackendOptionError(
            f"The 'icechunk' backend does not accept the option(s) {', '.join(unknown)} for "
            f"{family} repositories ({redact_url(url)}). Storage options it accepts there: "
            f"{accepted}."
        )
    args: dict[str, Any] = {}
    for name, value in options.items():
        target = names[name]
        if target in args and args[target] != value:
            raise BackendOptionError(
                f"The 'icechunk' backend was given {target} twice (as {name} and another "
                "spelling) with different values; give it once."
            )
        args[target] = value
    secrets = tuple(str(v) for k, v in args.items() if k in _SECRET_ARGS and v)
    shown = redact_url(url)
    if family == "local":
        _quiet_local_warning(icechunk)
        path = unquote(urlsplit(url).path) if scheme == "file" else url
        return Location(icechunk.local_filesystem_storage(os.path.abspath(path)), shown, family, ())
    if family == "memory":
        with _MEMORY_LOCK:  # one repository per name, for as long as the process lives
            storage = _MEMORY.setdefault(url, icechunk.in_memory_storage())
        return Location(storage, shown, family, ())
    parts = urlsplit(url)
    bucket, prefix = parts.netloc, parts.path.strip("/")
    if not bucket:
        raise StoreError(f"{shown} names no bucket or container; write {scheme}://NAME/prefix.")
    if family == "s3":
        endpoint = args.get("endpoint_url")
        if isinstance(endpoint, str) and endpoint.lower().startswith("http://"):
            args.setdefault("allow_http", True)
        if endpoint:
            # S3-compatible servers (MinIO, SeaweedFS) serve buckets as paths.
            args.setdefault("force_path_style", True)
            args.setdefault("region", "us-east-1")
        storage = _s3_storage(icechunk, bucket, prefix or None, args)
    elif family == "gcs":
        config = _client_config(args, "google_base_url")
        storage = icechunk.gcs_storage(bucket=bucket, prefix=prefix or None, config=config, **args)
    else:
        container, _, host = bucket.partition("@")
        if host and "account" not in args:
            args["account"] = host.split(".", 1)[0]
        if "account" not in args:
            raise BackendOptionError(
                f"{shown}: an Azure repository needs the storage account; pass "
                "account_name='...' (or write abfs://container@ACCOUNT.dfs.core.windows.net/...)."
            )
        config = _client_config(args, "azure_storage_endpoint", "azure_storage_use_emulator")
        storage = icechunk.azure_storage(container=container, prefix=prefix, config=config, **args)
    return Location(storage, shown, family, secrets)


def _client_config(args: dict[str, Any], endpoint: str, *flags: str) -> dict[str, str] | None:
    """Options Icechunk passes to its GCS or Azure client as text, taken out of ``args``.

    Icechunk's GCS and Azure storages are the ``object_store`` crate's clients, whose
    endpoint (an emulator's, such as fake-gcs-server or Azurite) and ``allow_http``
    are set through its ``config`` mapping; an ``http://`` endpoint turns
    ``allow_http`` on, as for S3.
    """
    config = {
        name: str(args.pop(name)).lower() if isinstance(args[name], bool) else str(args.pop(name))
        for name in (endpoint, "allow_http", *flags)
        if name in args
    }
    if config.get(endpoint, "").lower().startswith("http://"):
        config.setdefault("allow_http", "true")
    return config or None


#: S3 options only Icechunk's AWS SDK client takes (the object_store client has no such setting).
_AWS_SDK_ONLY = frozenset({"requester_pays"})


def _s3_storage(icechunk: Any, bucket: str, prefix: str | None, args: dict[str, Any]) -> Any:
    """Icechunk's S3 storage over the ``object_store`` crate, the AWS SDK only when needed.

    Why: Icechunk 1.x has two S3 clients. Its default, the AWS SDK, costs more per
    request (checksum mode on every GET, more CPU per response): a full read of
    8,000 cells through it took 1.65x obstore's time on the same server, through
    the ``object_store`` client (obstore's own) 1.00x (docs/performance.md). Both
    write references with conditional puts, so concurrent commits stay safe; the
    repository is the same either way. Options only the AWS SDK has
    (``requester_pays``) choose it.
    """
    if any(args.get(name) for name in _AWS_SDK_ONLY):
        return icechunk.s3_storage(bucket=bucket, prefix=prefix, **args)
    anonymous = bool(args.get("anonymous"))
    credentials = icechunk.s3_credentials(
        access_key_id=args.get("access_key_id"),
        secret_access_key=args.get("secret_access_key"),
        session_token=args.get("session_token"),
        anonymous=anonymous or None,
        from_env=args.get("from_env"),
    )
    # The object_store client asks S3 with path-style URLs unless told otherwise, so
    # force_path_style needs nothing; anonymous must be in the options as well as the
    # credentials (the options' value is applied last).
    options = icechunk.S3Options(
        region=args.get("region"),
        endpoint_url=args.get("endpoint_url"),
        allow_http=bool(args.get("allow_http")),
        anonymous=anonymous,
    )
    return icechunk.Storage.new_s3_object_store(options, bucket, prefix, credentials)
