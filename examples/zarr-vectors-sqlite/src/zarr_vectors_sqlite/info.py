"""Entry-point target: what zarr-vectors learns about this plugin without importing sqlite3."""

from zarr_vectors.storage.info import BackendInfo

SQLITE = BackendInfo(
    name="sqlite",
    schemes=("sqlite",),
    local_schemes=("sqlite",),
    factory="zarr_vectors_sqlite.backend:SqliteBackend",
    priority=10,
    install_hint="pip install zarr-vectors-sqlite",
    description="A whole store in one SQLite file (example plugin).",
    options={"timeout": "seconds to wait for a lock held by another process (float)"},
)
