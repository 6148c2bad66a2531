"""Serving a store on S3 (SeaweedFS on 127.0.0.1, credentials enforced): obstore and fsspec."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import zarr_vectors as zv
from tests.serve.conftest import Served, fetch, fetch_info, write_cloud
from zarr_vectors.serve.encoding import decode_annotations
from zarr_vectors.storage import make_backend

pytestmark = [pytest.mark.servers, pytest.mark.slow]


def test_s3_store_served_without_leaking_credentials(
    s3_server: Any, s3_bucket: str, serve: Callable[..., Served], caplog: pytest.LogCaptureFixture
) -> None:
    options = s3_server.backend_options("obstore")
    secret = s3_server.secret_key
    url = f"s3://{s3_bucket}/cloud.zarrvectors"
    write_cloud(url, 2000, levels=2, chunk=250.0, storage_options=options)  # 64 cells
    caplog.set_level(logging.DEBUG)
    served, source = serve(url, storage_options=options)
    info = fetch_info(served)
    finest = info["spatial"][-1]
    specs = source.read_state().index.properties
    # The chunk of cell (1, 2, 3) is that cell's points, as read_points reads them.
    status, headers, body = fetch(f"{served}/{finest['key']}/1_2_3")
    assert status == 200, body
    positions, _, _ = decode_annotations(body, 3, specs)
    box = ((250.001, 500.001, 750.001), (499.999, 749.999, 999.999))
    expected = zv.read_points(url, bbox=box, storage_options=options).positions
    assert sorted(map(tuple, positions.tolist())) == sorted(map(tuple, expected.tolist()))
    # A damaged cell is named, and no answer, header or log line holds the secret.
    with make_backend(url, backend="obstore", **options) as backend:
        backend.put_bytes("0/vertices/c/1/1/1", b"not a cell")
    status, bad_headers, bad = fetch(f"{served}/{finest['key']}/1_1_1")
    assert status == 500 and b"0/vertices/c/1/1/1" in bad, bad
    assert fetch(f"{served}/{finest['key']}/2_2_2")[0] == 200
    # The same store through fsspec (s3fs): the same chunk, the same named damage.
    by_fsspec, _ = serve(url, backend="fsspec", storage_options=s3_server.backend_options("fsspec"))
    status, fs_headers, fs_body = fetch(f"{by_fsspec}/{finest['key']}/1_2_3")
    assert status == 200 and fs_body == body
    status, _, fs_bad = fetch(f"{by_fsspec}/{finest['key']}/1_1_1")
    assert status == 500 and b"0/vertices/c/1/1/1" in fs_bad, fs_bad
    for text in (body, bad, fs_bad, str(headers).encode(), str(bad_headers).encode()):
        assert secret.encode() not in text
    assert secret.encode() not in str(fs_headers).encode() + str(info).encode()
    assert secret not in caplog.text
    assert np.all(np.isfinite(positions))
