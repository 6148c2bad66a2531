"""The S3 test server itself: it starts, enforces credentials, and buckets are fresh."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from tests.helpers.servers import procs
from tests.helpers.servers.sigv4 import sign_headers

pytestmark = pytest.mark.servers


def _status(
    method: str, url: str, headers: dict[str, str] | None = None, body: bytes | None = None
) -> int:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def test_signed_write_then_anonymous_read(s3_server: procs.S3Server, s3_bucket: str) -> None:
    url = f"{s3_server.endpoint}/{s3_bucket}/k"
    headers = sign_headers(
        "PUT",
        url,
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
        region=s3_server.region,
        body=b"v",
    )
    assert _status("PUT", url, headers, b"v") == 200
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.read() == b"v"


def test_anonymous_and_wrong_key_writes_are_refused(
    s3_server: procs.S3Server, s3_bucket: str
) -> None:
    url = f"{s3_server.endpoint}/{s3_bucket}/k"
    assert _status("PUT", url, body=b"v") == 403
    wrong = sign_headers(
        "PUT",
        url,
        access_key=s3_server.access_key,
        secret_key="not-the-secret",
        region=s3_server.region,
        body=b"v",
    )
    assert _status("PUT", url, wrong, b"v") == 403


def test_buckets_are_unique(s3_server: procs.S3Server) -> None:
    names = {s3_server.create_bucket() for _ in range(3)}
    assert len(names) == 3
    assert all(_status("GET", f"{s3_server.endpoint}/{n}") == 200 for n in names)


def test_free_ports_are_distinct() -> None:
    ports = procs._free_ports(8)
    assert len(set(ports)) == 8 and all(1024 < p < 65536 for p in ports)
