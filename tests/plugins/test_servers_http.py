"""The read-only HTTP test server itself: ranges, WebDAV listing, HTML index, writes refused."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from tests.helpers.servers import procs

pytestmark = pytest.mark.servers


def _fetch(
    url: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=None)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@pytest.fixture
def served(http_server: procs.HttpServer, tmp_path: object) -> str:
    name = "srv-" + procs.unique_name("t")
    (http_server.root / name / "d").mkdir(parents=True)
    (http_server.root / name / "d" / "f").write_bytes(b"abcdefghij")
    return f"{http_server.url}/{name}"


@pytest.mark.parametrize(
    ("spec", "status", "body"),
    [
        ("bytes=2-4", 206, b"cde"),
        ("bytes=7-", 206, b"hij"),
        ("bytes=-2", 206, b"ij"),
        ("bytes=8-100", 206, b"ij"),
        ("bytes=10-12", 416, b""),
    ],
)
def test_ranges(served: str, spec: str, status: int, body: bytes) -> None:
    got_status, headers, got = _fetch(f"{served}/d/f", headers={"Range": spec})
    assert (got_status, got) == (status, body)
    if status == 416:
        assert headers["Content-Range"] == "bytes */10"


def test_whole_file_and_missing(served: str) -> None:
    assert _fetch(f"{served}/d/f")[::2] == (200, b"abcdefghij")
    assert _fetch(f"{served}/d/nope")[0] == 404


def test_propfind_lists_children(served: str) -> None:
    status, _, body = _fetch(f"{served}/d", method="PROPFIND", headers={"Depth": "1"})
    assert status == 207
    text = body.decode()
    assert "/d/f</D:href>" in text and "<D:getcontentlength>10<" in text


def test_html_index_links_files(served: str) -> None:
    status, _, body = _fetch(f"{served}/d/")
    assert status == 200 and b'href="f"' in body


@pytest.mark.parametrize("method", ["PUT", "DELETE", "POST"])
def test_writes_are_refused(served: str, method: str) -> None:
    assert _fetch(f"{served}/d/f", method=method)[0] == 405
    assert _fetch(f"{served}/d/f")[2] == b"abcdefghij"
