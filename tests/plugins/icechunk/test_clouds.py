"""The icechunk backend on Azure and GCS, against the emulators the suite starts.

Azure (Azurite) takes everything: a write, an append, reads and the history.
fake-gcs-server refuses every upload Icechunk makes (Icechunk's GCS client, the
``object_store`` crate, uploads through GCS's XML API, which the emulator answers
with "400 invalid uploadType"), so on GCS a repository written elsewhere is copied
in through the emulator's JSON API and read, and the refused write is checked to
be one ``StoreError`` that names the emulator's answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarr_vectors_icechunk as zi
from tests.helpers.servers import procs
from zarr_vectors.exceptions import StoreError
from zarr_vectors.types.points import read_points, write_points

pytestmark = pytest.mark.servers

NEW: dict[str, Any] = {
    "chunk_shape": (50.0, 50.0, 50.0),
    "bounds": ((0.0,) * 3, (100.0,) * 3),
    "backend": "icechunk",
}


def _points(n: int, seed: int) -> np.ndarray[Any, Any]:
    return np.random.default_rng(seed).uniform(0, 100, (n, 3)).astype(np.float32)


def test_azure_write_append_read_history(
    azure_server: procs.AzureServer, azure_container: str
) -> None:
    url = f"az://{azure_container}/survey"
    options = {
        "account_name": azure_server.account,
        "account_key": azure_server.key,
        "endpoint": azure_server.endpoint,  # http://: allow_http follows
    }
    first, more = _points(400, 0), _points(100, 1)
    write_points(url, first, **NEW, message="flight 1", **options)
    write_points(url, more, mode="a", backend="icechunk", message="flight 2", **options)
    log = zi.history(url, **options)
    assert [e.message for e in log] == ["flight 2", "flight 1", "Repository initialized"]
    assert len(read_points(url, backend="icechunk", **options)) == 500
    old = read_points(url, backend="icechunk", snapshot=log[1].id, **options)
    np.testing.assert_array_equal(np.sort(old.positions, axis=0), np.sort(first, axis=0))


def test_gcs_reads_a_copied_repository_and_names_the_refused_upload(
    gcs_server: procs.GcsServer, gcs_bucket: str, tmp_path: Path
) -> None:
    local = tmp_path / "repo"
    pts = _points(300, 2)
    write_points(str(local), pts, **NEW, message="made locally")
    for path in local.rglob("*"):
        if path.is_file():
            gcs_server.upload(gcs_bucket, f"survey/{path.relative_to(local)}", path.read_bytes())
    url = f"gs://{gcs_bucket}/survey"
    options = {"endpoint": gcs_server.endpoint, "anonymous": True}
    assert [e.message for e in zi.history(url, **options)] == [
        "made locally",
        "Repository initialized",
    ]
    got = read_points(url, backend="icechunk", **options)
    np.testing.assert_array_equal(np.sort(got.positions, axis=0), np.sort(pts, axis=0))
    with pytest.raises(StoreError, match="invalid uploadType") as refused:
        write_points(
            f"gs://{gcs_bucket}/new", pts, **NEW, endpoint=gcs_server.endpoint, token="t0ken"
        )
    assert "t0ken" not in str(refused.value)


def test_s3_anonymous_reads_and_a_refused_write_names_the_storage(
    s3_server: procs.S3Server, s3_bucket: str
) -> None:
    """S3 goes through Icechunk's object_store client; anonymous must reach it too."""
    url = f"s3://{s3_bucket}/survey"
    write_points(url, _points(200, 3), **NEW, **s3_server.backend_options("obstore"))
    anonymous = {"endpoint": s3_server.endpoint, "anonymous": True}
    assert len(read_points(url, backend="icechunk", **anonymous)) == 200
    # Cells over 512 bytes are uploaded as they are set (smaller ones wait in the manifest).
    with pytest.raises(StoreError, match=r"could not write 0/vertices/c/.*lacked the necessary"):
        write_points(url, _points(2000, 4), mode="a", backend="icechunk", **anonymous)
    assert len(zi.history(url, **anonymous)) == 2  # nothing committed
