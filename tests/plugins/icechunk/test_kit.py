"""The conformance kit on the icechunk backend.

The kit drives the backend as a plain key/value store: every call outside a
zarr-vectors write commits on its own, keys Icechunk does not hold as Zarr nodes
go to the hidden key array, and the point-cloud checks write through the
transactional path (one commit per write).
"""

from __future__ import annotations

from typing import Any

from zarr_vectors.testing import BackendConformance, KitConfig


class TestIcechunkLocalConformance(BackendConformance):
    """The kit on a repository in a local folder."""

    backend_name = "icechunk"
    kit_config = KitConfig.local().with_changes(max_examples=10, derandomize=True)

    def make_url(self, tmp_path: Any) -> str:
        return str(tmp_path / "repo")
