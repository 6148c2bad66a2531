"""fsspec on S3 keeps its write lease through a write far longer than the lease.

Time is a fake clock the test controls, not sleeps on a loaded machine: each
renewal's root write takes 2.5 s of it (time passes between deciding to renew
and the request's own check, as when the request queues behind a batch on
the one event loop), on a 6 s lease. Renewing a third of the lease after the
previous renewal *ended* let the lease run out in the second renewal's
request (the failure seen with fsspec on S3); renewing a third after the
previous one *started* never does. The batch puts are real, on SeaweedFS.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zarr_vectors.format.journal import ROOT_KEY
from zarr_vectors.format.lease import RootLease, lease_of
from zarr_vectors_fsspec.backend import FsspecBackend

LEASE = 6.0
SLOW = 2.5  # fake seconds each root write takes


class FakeClock:
    """Wall-clock seconds that move only when the lease's renewer waits or writes."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        self.advance(seconds)
        return stop.is_set()


class SlowRootBackend(FsspecBackend):
    """Root writes that take ``SLOW`` seconds of the fake clock before they are sent."""

    clock: FakeClock

    def put_if(self, key: str, data: bytes, *, expect: str | None) -> str:
        if key == ROOT_KEY:
            self.clock.advance(SLOW)
        return super().put_if(key, data, expect=expect)


@pytest.fixture
def slow_s3(s3_server: Any, s3_bucket: str) -> Iterator[SlowRootBackend]:
    options = s3_server.backend_options("fsspec")
    with SlowRootBackend(f"s3://{s3_bucket}/lease", **options) as backend:
        backend.clock = FakeClock()
        yield backend


@pytest.mark.servers
def test_a_write_lasting_ten_leases_keeps_its_lease(slow_s3: SlowRootBackend) -> None:
    clock = slow_s3.clock
    assert slow_s3.conditional_writes
    lease = RootLease(slow_s3, seconds=LEASE, clock=clock)
    with lease:
        start = clock.time()
        batch = 0
        while clock.time() < start + 10 * LEASE:
            lease.check()  # raises once the lease has run out
            slow_s3.put_many([(f"0/cells/{batch}/{i}", b"x" * 64) for i in range(32)])
            batch += 1
        lease.release({"zarr_format": 3, "node_type": "group", "attributes": {}})
    root = slow_s3.get_bytes(ROOT_KEY)
    assert lease_of(json.loads(root)) is None  # committed, lease given back
    assert batch > 0


def test_session_token_never_reaches_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    """botocore logs signed requests at DEBUG; the token (and key, secret) are scrubbed."""
    token = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN" + "Q" * 40
    secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"
    caplog.set_level(logging.DEBUG)
    backend = FsspecBackend(
        "s3://bucket/store",
        key="AKIAIOSFODNN7EXAMPLE",
        secret=secret,
        token=token,
        endpoint_url="http://127.0.0.1:9",  # refuses connections
        timeout=10,
        client_kwargs={"region_name": "us-east-1"},
        config_kwargs={"retries": {"max_attempts": 1}},
    )
    try:
        with pytest.raises(Exception):  # noqa: B017 - any refusal; the logs are the point
            backend.put_bytes("k", b"v")
    finally:
        backend.close()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "x-amz-security-token" in text.lower()  # botocore did log the signed request
    assert token not in text and secret not in text
    assert "FwoGZXIvYXdz" not in text


def test_local_puts_are_atomic_and_temporaries_hidden(tmp_path: Path) -> None:
    """A put is a temporary file renamed over the key: readers never see a torn object."""
    with FsspecBackend(f"file://{tmp_path}/s") as backend:
        backend.put_bytes("a/zarr.json", b"1" * 100_000)
        leftover = tmp_path / "s" / "a" / ".zv-tmp-left-by-a-killed-writer"
        leftover.write_bytes(b"torn")
        assert list(backend.list_prefix("a/")) == ["a/zarr.json"]
        assert list(backend.list_prefix("", recursive=True)) == ["a/zarr.json"]
        # Many overwrites while another thread reads: every read is one whole version.
        seen: set[tuple[int, int]] = set()  # (length, distinct byte values) of each read
        done = threading.Event()

        def read() -> None:
            while not done.is_set():
                data = backend.get_bytes("a/zarr.json")
                seen.add((len(data), len(set(data))))

        reader = threading.Thread(target=read)
        reader.start()
        try:
            for i in range(200):
                backend.put_bytes("a/zarr.json", str(i % 10).encode() * 100_000)
        finally:
            done.set()
            reader.join()
        assert seen == {(100_000, 1)}  # never empty, short, or a mix of two writes
        with pytest.raises(Exception, match="reserved for temporary files"):
            backend.put_bytes("a/.zv-tmp-x", b"")
