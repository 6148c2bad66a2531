"""The conformance kit on the icechunk backend.

The kit drives the backend as a plain key/value store: every call outside a
zarr-vectors write commits on its own, keys Icechunk does not hold as Zarr nodes
go to the hidden key array, and the point-cloud checks write through the
transactional path (one commit per write).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from zarr_vectors.testing import BackendConformance, KitConfig, KitTarget

#: Icechunk's repositories in a local folder are not safe for commits from several
#: writers at once (Icechunk says so; its local storage has no conditional writes):
#: two instances committing together can lose a commit. These checks run on S3 below.
_CONCURRENT = frozenset({"two-instances", "two-processes"})


class TestIcechunkLocalConformance(BackendConformance):
    """The kit on a repository in a local folder (one writer at a time)."""

    backend_name = "icechunk"
    kit_config = KitConfig.local().with_changes(max_examples=10, derandomize=True, skip=_CONCURRENT)

    def make_url(self, tmp_path: Any) -> str:
        return str(tmp_path / "repo")


@pytest.mark.servers
@pytest.mark.slow
class TestIcechunkS3Conformance(BackendConformance):
    """The kit on a repository on SeaweedFS, concurrent instances and processes included."""

    backend_name = "icechunk"
    kit_config = KitConfig.remote().with_changes(max_examples=4, derandomize=True)

    def make_target(self, request: pytest.FixtureRequest, tmp_path: Any) -> KitTarget:
        server = request.getfixturevalue("s3_server")
        bucket = request.getfixturevalue("s3_bucket")
        url = f"s3://{bucket}/kit-{uuid.uuid4().hex[:8]}"
        return KitTarget.from_name("icechunk", url, **server.backend_options("obstore"))
