"""Entry-point target of the built-in local backend (kept free of heavy imports)."""

from zarr_vectors.storage.info import BackendInfo

LOCAL = BackendInfo(
    name="local",
    schemes=("", "file"),
    local_schemes=("", "file"),
    factory="zarr_vectors.storage.local:LocalBackend",
    priority=100,
    install_hint="pip install zarr-vectors-core",
    description="Files on a local or mounted file system, written atomically.",
    options={
        "fsync": "flush each object to disk before publishing it (bool)",
        "max_concurrency": "threads for batch calls (int)",
    },
)
