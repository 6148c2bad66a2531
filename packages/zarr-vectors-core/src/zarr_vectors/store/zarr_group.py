"""The ``zarr.Group`` the store API returns, and keeping its consolidated metadata true.

:func:`~zarr_vectors.store.api.create_store` and
:func:`~zarr_vectors.store.api.open_store` return a :class:`ZVGroup`: a
``zarr.Group`` in every respect, plus ``.zarr_group`` (itself), which the design
document's examples use (``zarr.consolidate_metadata(root.zarr_group.store)``).

Groups and arrays added or removed through it would leave the root's
consolidated metadata stale, and readers that trust it would not see them. So
the store under a writable group reports every node document it writes, and
:func:`refresh_consolidated` patches that node into the root's consolidated
metadata, under the store's write lease, right away.

This module imports zarr-python; it is loaded only when a group is made.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import zarr

from zarr_vectors.format.journal import node_key, sorted_consolidated
from zarr_vectors.format.snapshot import Snapshot, parse_json_doc
from zarr_vectors.storage.base import StorageBackend

__all__ = ["ZVGroup", "refresh_consolidated"]


@dataclasses.dataclass(frozen=True)
class ZVGroup(zarr.Group):
    """A ``zarr.Group`` of a Zarr Vectors store."""

    @property
    def zarr_group(self) -> zarr.Group:
        """The group itself, as a plain ``zarr.Group`` would be reached."""
        return self


def refresh_consolidated(backend: StorageBackend, key: str) -> None:
    """Put the node document at ``key`` (or its absence) into the root's consolidated copy."""
    from zarr_vectors.format.transaction import rewrite_root

    path = key[: -len("/zarr.json")]
    raw = backend.get_many([node_key(path)]).get(node_key(path))
    doc = None if raw is None else parse_json_doc(raw, f"{backend.url}: {key}")

    def patch(snap: Snapshot) -> tuple[dict[str, Any], None]:
        root: dict[str, Any] = json.loads(json.dumps(snap.root_doc))
        if snap.consolidated is None:
            return root, None  # nothing consolidated, nothing to keep current
        nodes = dict(snap.consolidated)
        if doc is None:
            nodes.pop(path, None)
        else:
            nodes[path] = doc
        root["consolidated_metadata"] = sorted_consolidated(nodes)
        return root, None

    rewrite_root(backend, patch)
