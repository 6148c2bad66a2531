"""zarr-vectors backend over Icechunk: versioned stores with history, branches and tags.

Importing this package is cheap; icechunk itself is imported when a backend is
made or a history helper is called.
"""

from zarr_vectors_icechunk.history import (
    SnapshotEntry,
    branches,
    create_branch,
    history,
    tag,
    tags,
)

__all__ = ["SnapshotEntry", "branches", "create_branch", "history", "tag", "tags"]
