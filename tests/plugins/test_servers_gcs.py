"""The GCS test server itself: buckets are made and seeded through its JSON API."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.helpers.servers import procs

pytestmark = pytest.mark.servers


def test_seeded_objects_are_listed_and_served(gcs_server: procs.GcsServer, gcs_bucket: str) -> None:
    gcs_server.upload(gcs_bucket, "d/x y", b"payload")
    with urllib.request.urlopen(f"{gcs_server.endpoint}/storage/v1/b/{gcs_bucket}/o") as resp:
        names = [item["name"] for item in json.load(resp)["items"]]
    assert names == ["d/x y"]
    with urllib.request.urlopen(f"{gcs_server.endpoint}/{gcs_bucket}/d/x%20y") as resp:
        assert resp.read() == b"payload"


def test_bucket_names_are_unique_and_taken_names_refused(gcs_server: procs.GcsServer) -> None:
    name = gcs_server.create_bucket()
    assert gcs_server.create_bucket() != name
    with pytest.raises(procs.ServerStartError, match="409"):
        gcs_server.create_bucket(name)
