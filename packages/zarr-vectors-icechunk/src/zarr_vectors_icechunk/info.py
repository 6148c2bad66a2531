"""Entry-point target: the light description of the icechunk backend (no icechunk import).

The one home of the URL schemes this backend opens and of its defaults: the backend
and its storage module import the constants below, and the description and option
texts are made from them.
"""

from collections.abc import Mapping
from types import MappingProxyType

from zarr_vectors.storage.info import BackendInfo

#: URL scheme -> the Icechunk storage family that opens it (``""`` is a bare path).
SCHEME_FAMILIES: Mapping[str, str] = MappingProxyType(
    {
        "": "local",
        "file": "local",
        "memory": "memory",
        "s3": "s3",
        "s3a": "s3",
        "gs": "gcs",
        "gcs": "gcs",
        "az": "azure",
        "azure": "azure",
        "abfs": "azure",
        "abfss": "azure",
    }
)
DEFAULT_BRANCH = "main"
DEFAULT_MAX_CONCURRENCY = 128

_OPENS = ", ".join(f"{scheme}://" if scheme else "local path" for scheme in SCHEME_FAMILIES)

ICECHUNK = BackendInfo(
    name="icechunk",
    # Chosen by name only (backend="icechunk"): a plain s3:// or local path stays with the
    # backends that serve it by default. The URLs it opens are listed in the description.
    schemes=(),
    factory="zarr_vectors_icechunk.backend:IcechunkBackend",
    priority=0,
    install_hint='pip install "zarr-vectors-core[icechunk]"',
    description=f"Versioned stores in an Icechunk repository ({_OPENS}): each write one "
    "commit; history, branches, tags.",
    options={
        "branch": f"branch to read and to write (default '{DEFAULT_BRANCH}'; others made with "
        "create_branch)",
        "tag": "read the store as this tag names it (read-only)",
        "snapshot": "read the store at this snapshot id (read-only)",
        "message": "commit message of the write (default: what the write did)",
        "max_concurrency": "Icechunk calls a batch keeps in flight (default "
        f"{DEFAULT_MAX_CONCURRENCY})",
        "endpoint": "S3-compatible server, GCS or Azure endpoint URL, e.g. an emulator's "
        "(aliases endpoint_url, aws_endpoint_url; base_url on GCS)",
        "region": "S3 region (alias region_name)",
        "access_key_id": "S3 access key (aliases key, access_key)",
        "secret_access_key": "S3 secret key (aliases secret, secret_key)",
        "session_token": "S3 session token (alias token)",
        "allow_http": "allow plain http:// endpoints (on by itself for an http:// endpoint)",
        "anonymous": "no credentials: public buckets (aliases anon, skip_signature)",
        "from_env": "take credentials from the environment",
        "account_name": "Azure storage account (alias account)",
        "account_key": "Azure account key (aliases access_key, key)",
        "sas_token": "Azure SAS token (alias sas_key)",
        "use_emulator": "Azure: the Azurite emulator's well-known account and endpoint",
        "service_account_file": "GCS service-account JSON file (alias service_account)",
        "requester_pays": "S3: the requester pays (uses Icechunk's AWS SDK client)",
        "bearer_token": "GCS or Azure bearer token",
    },
)
