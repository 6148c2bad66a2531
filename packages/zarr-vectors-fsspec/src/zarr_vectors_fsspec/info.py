"""Entry-point target: the light description of the fsspec backend (no fsspec import).

The one home of the protocols this backend serves, grouped by what they mean to it,
and of its defaults: the backend and its option checks import them from here, and
the option descriptions are made from them.
"""

from zarr_vectors.storage.info import BackendInfo

S3_PROTOCOLS = frozenset({"s3", "s3a"})
GCS_PROTOCOLS = frozenset({"gs", "gcs"})
AZURE_PROTOCOLS = frozenset({"az", "azure", "abfs", "abfss", "adl"})
HTTP_PROTOCOLS = frozenset({"http", "https"})
#: Protocols whose first path segment is a bucket or container (flat key spaces).
BUCKET_PROTOCOLS = S3_PROTOCOLS | GCS_PROTOCOLS | AZURE_PROTOCOLS
#: Other protocols declared for this backend (served by fsspec's own file systems).
OTHER_PROTOCOLS = ("memory", "sftp", "ssh", "ftp", "hdfs", "webhdfs", "smb")

#: Default seconds one request may take before it fails with a StoreError.
DEFAULT_TIMEOUT = 60.0
#: Default ``max_concurrency`` on async (network) file systems: a request mostly
#: waits on the network, so many in flight overlap round trips (s3fs's connection
#: pool is sized to match), while each costs the client some CPU, so past a few
#: dozen more only queue. bench/bench_batch_io.py on SeaweedFS at 127.0.0.1 (no
#: latency to hide) showed no difference between 16 and 128 and the backend on par
#: with raw s3fs at each bound; 64 leaves room for a cloud link's latency.
REMOTE_MAX_CONCURRENCY = 64
#: Default ``max_concurrency`` on sync file systems (memory, local, SFTP): each call
#: holds a worker thread of the shared I/O executor, and the work is disk- or
#: GIL-bound, so threads beyond a few only contend (memory:// get_many on two cores:
#: 8 threads beat 32 in three runs of four, by 1.4-1.5x).
LOCAL_MAX_CONCURRENCY = 8

_OBJECT_STORES = tuple(sorted(BUCKET_PROTOCOLS | HTTP_PROTOCOLS))

FSSPEC = BackendInfo(
    name="fsspec",
    schemes=(*_OBJECT_STORES, *OTHER_PROTOCOLS),
    object_store_schemes=_OBJECT_STORES,
    # adlfs reads abfs://container@account.dfs.core.windows.net/path (no credential there).
    container_user_schemes=("abfs", "abfss", "az"),
    factory="zarr_vectors_fsspec.backend:FsspecBackend",
    priority=10,
    install_hint='pip install "zarr-vectors-core[fsspec]"',
    description="Anything fsspec reaches (cloud, SFTP, memory, custom file systems).",
    # Every other option goes to the file system.
    options={
        "max_concurrency": "requests a batch call keeps in flight (default "
        f"{REMOTE_MAX_CONCURRENCY} on network file systems, {LOCAL_MAX_CONCURRENCY} on "
        "synchronous ones)",
        "timeout": f"seconds a call may take (default {DEFAULT_TIMEOUT:g})",
        "verify_prefixes": "list a folder only if it still holds an object (SeaweedFS)",
    },
    # (fs, "bucket/path") tuples and fs.get_mapper(...) objects (imported only when adopted).
    adopts=("fsspec",),
    adopt="zarr_vectors_fsspec.adopt:adopt",
)
