"""Entry-point target: the light description of the obstore backend (no obstore import)."""

from zarr_vectors.storage.info import BackendInfo

_CLOUD = ("s3", "gs", "gcs", "az", "azure", "abfs", "http", "https")

OBSTORE = BackendInfo(
    name="obstore",
    schemes=(*_CLOUD, "s3a", "abfss", "adl"),
    object_store_schemes=(*_CLOUD, "s3a", "abfss", "adl"),
    factory="zarr_vectors_obstore.backend:ObstoreBackend",
    priority=50,
    install_hint='pip install "zarr-vectors-core[obstore]"',
    description="S3, GCS, Azure Blob and HTTP through obstore (Rust object_store), natively async.",
    # Kept in step with zarr_vectors_obstore.backend (not imported here: it loads obstore).
    options={
        "max_concurrency": "requests a batch call keeps in flight "
        "(default 128 on S3, GCS and Azure, 8 on HTTP)",
        "timeout": "seconds a request and its retries may take (default 30)",
        "max_retries": "how often a failed request is retried (default 3)",
        "verify_prefixes": "list a folder only if it still holds an object (SeaweedFS)",
    },
    # Stores made with obstore (S3Store, GCSStore, AzureStore, HTTPStore, MemoryStore,
    # LocalStore) are used as they are; the module named here imports obstore, lazily.
    adopts=("obstore",),
    adopt="zarr_vectors_obstore.adopt:adopt_store",
)
