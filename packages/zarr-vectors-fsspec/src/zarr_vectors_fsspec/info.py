"""Entry-point target: the light description of the fsspec backend (no fsspec import)."""

from zarr_vectors.storage.info import BackendInfo

_CLOUD = ("s3", "gs", "gcs", "az", "azure", "abfs", "http", "https")

FSSPEC = BackendInfo(
    name="fsspec",
    schemes=(
        *_CLOUD,
        "s3a",
        "abfss",
        "adl",
        "memory",
        "sftp",
        "ssh",
        "ftp",
        "hdfs",
        "webhdfs",
        "smb",
    ),
    object_store_schemes=(*_CLOUD, "s3a", "abfss", "adl"),
    factory="zarr_vectors_fsspec.backend:FsspecBackend",
    priority=10,
    install_hint='pip install "zarr-vectors-core[fsspec]"',
    description="Anything fsspec reaches (cloud, SFTP, memory, custom file systems).",
    # Kept in step with FsspecBackend.__init__; every other option goes to the file system.
    options={
        "max_concurrency": "requests a batch call keeps in flight (default 64 on network "
        "file systems, 8 on synchronous ones)",
        "timeout": "seconds a call may take (default 30)",
        "verify_prefixes": "list a folder only if it still holds an object (SeaweedFS)",
    },
    # (fs, "bucket/path") tuples and fs.get_mapper(...) objects (imported only when adopted).
    adopts=("fsspec",),
    adopt="zarr_vectors_fsspec.adopt:adopt",
)
