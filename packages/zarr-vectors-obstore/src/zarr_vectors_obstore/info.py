"""Entry-point target: the light description of the obstore backend (no obstore import).

The one home of what this backend serves and of its defaults: the backend module
imports the constants below, and the option descriptions are made from them.
"""

from collections.abc import Mapping
from types import MappingProxyType

from zarr_vectors.storage.info import BackendInfo

#: Requests in flight at once for a batch call on S3, GCS and Azure. obstore's Rust
#: client holds many requests cheaply and cloud object stores serve them in parallel:
#: against SeaweedFS (bench/bench_batch_io.py) a bound of 32 left 10-25 % of batch
#: throughput on the table, 128 none.
OBJECT_STORE_MAX_CONCURRENCY = 128
#: Requests in flight at once on a plain HTTP(S) server. A simple server (Python's
#: ``http.server``: one connection per request, a listen backlog of 5) drops the
#: connections it cannot queue, and TCP retries each one a second or more later. A box
#: read of about 1,000 cells (bench/bench_http_concurrency.py, two runs on a busy
#: 2-core machine) took 2.1-2.2 s at 4, 2.6-3.5 s at 8, 3.0-4.0 s at 32, 8-28 s at 64,
#: and at 128 it failed on 30-second request timeouts in 6 of 8 reads. 8 rather than 4:
#: over a real network each request waits for the round trip, and twice the requests
#: in flight read nearly twice as fast.
HTTP_MAX_CONCURRENCY = 8
#: obstore's in-memory store answers at once: the cost is the hand-off of each result
#: to the event loop. get_many of 5,000 keys took 1.8 s at 4, 1.4 s at 16 and 64,
#: 1.6 s at 128 (busy 2-core machine).
MEMORY_MAX_CONCURRENCY = 16
#: The default ``max_concurrency`` per store family (override with the option).
DEFAULT_MAX_CONCURRENCY: Mapping[str, int] = MappingProxyType(
    {
        "s3": OBJECT_STORE_MAX_CONCURRENCY,
        "gcs": OBJECT_STORE_MAX_CONCURRENCY,
        "azure": OBJECT_STORE_MAX_CONCURRENCY,
        "http": HTTP_MAX_CONCURRENCY,
        "memory": MEMORY_MAX_CONCURRENCY,
    }
)
#: Seconds before a request that gets no answer fails (per attempt and for all retries).
DEFAULT_TIMEOUT = 30.0
#: How often a failed request is retried.
DEFAULT_MAX_RETRIES = 3

#: The store family (obstore store class) serving each scheme; ``memory`` only when this
#: backend is chosen by name.
SCHEME_FAMILIES: Mapping[str, str] = MappingProxyType(
    {
        "s3": "s3",
        "s3a": "s3",
        "gs": "gcs",
        "gcs": "gcs",
        "az": "azure",
        "azure": "azure",
        "abfs": "azure",
        "abfss": "azure",
        "adl": "azure",
        "http": "http",
        "https": "http",
        "memory": "memory",
    }
)
_SERVED = tuple(scheme for scheme in SCHEME_FAMILIES if scheme != "memory")

OBSTORE = BackendInfo(
    name="obstore",
    schemes=_SERVED,
    object_store_schemes=_SERVED,
    # abfs[s]://file_system@account.dfs.core.windows.net/path (the Hadoop driver's form).
    container_user_schemes=("abfs", "abfss"),
    factory="zarr_vectors_obstore.backend:ObstoreBackend",
    priority=50,
    install_hint='pip install "zarr-vectors-core[obstore]"',
    description="S3, GCS, Azure Blob and HTTP through obstore (Rust object_store), natively async.",
    options={
        "max_concurrency": "requests a batch call keeps in flight (default "
        f"{OBJECT_STORE_MAX_CONCURRENCY} on S3, GCS and Azure, {HTTP_MAX_CONCURRENCY} on HTTP)",
        "timeout": f"seconds a request and its retries may take (default {DEFAULT_TIMEOUT:g})",
        "max_retries": f"how often a failed request is retried (default {DEFAULT_MAX_RETRIES})",
        "verify_prefixes": "list a folder only if it still holds an object (SeaweedFS)",
    },
    # Stores made with obstore (S3Store, GCSStore, AzureStore, HTTPStore, MemoryStore,
    # LocalStore) are used as they are; the module named here imports obstore, lazily.
    adopts=("obstore",),
    adopt="zarr_vectors_obstore.adopt:adopt_store",
)
