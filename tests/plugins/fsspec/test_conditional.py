"""Conditional writes (``put_if``) of the fsspec backend on S3 (s3fs against SeaweedFS).

s3fs sends ``IfNoneMatch: *`` (create-only) or ``IfMatch: <ETag>`` with one
PutObject; the server's 412 becomes ``PreconditionFailedError``. Other fsspec
file systems offer no conditional writes. Real server, no mocks; the write
lease builds on ``put_if``, so concurrent appends through ``backend="fsspec"``
must give exactly the union of what they appended.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.format.test_concurrent_writers import (
    POINTS,
    assert_holds_exactly,
    check_failures,
    race_appends,
)
from tests.helpers.safety_workers import Worker
from zarr_vectors.exceptions import PreconditionFailedError, UnsupportedOperationError
from zarr_vectors.storage import make_backend
from zarr_vectors_fsspec.backend import FsspecBackend

pytestmark = pytest.mark.servers


@pytest.fixture
def s3(s3_server: Any, s3_bucket: str) -> Iterator[FsspecBackend]:
    with FsspecBackend(f"s3://{s3_bucket}/cond", **s3_server.backend_options("fsspec")) as backend:
        yield backend


@pytest.fixture(autouse=True)
def _end_workers() -> Iterator[None]:
    yield
    Worker.end_all()


def test_s3_backend_offers_conditional_writes(s3: FsspecBackend) -> None:
    assert s3.conditional_writes is True


def test_memory_backend_still_offers_none() -> None:
    with FsspecBackend("memory://cond-none") as backend:
        assert backend.conditional_writes is False
        with pytest.raises(UnsupportedOperationError):
            backend.put_if("k", b"x", expect=None)
        assert not backend.exists("k")
    assert FsspecBackend.conditional_writes is False  # the class default is unchanged


def test_create_only_then_refused_when_the_key_exists(s3: FsspecBackend) -> None:
    version = s3.put_if("lock", b"first", expect=None)
    assert version == s3.head("lock").version
    assert version.startswith('"')  # the ETag as head reports it: quoted
    with pytest.raises(PreconditionFailedError, match="already exists"):
        s3.put_if("lock", b"second", expect=None)
    assert s3.get_bytes("lock") == b"first"
    assert s3.head("lock").version == version


def test_if_match_with_the_current_version_then_refused_with_a_stale_one(
    s3: FsspecBackend,
) -> None:
    first = s3.put_if("k", b"one", expect=None)
    second = s3.put_if("k", b"two", expect=first)
    assert second != first
    assert second == s3.head("k").version
    assert s3.get_bytes("k") == b"two"
    with pytest.raises(PreconditionFailedError, match="no longer at version"):
        s3.put_if("k", b"three", expect=first)
    assert s3.get_bytes("k") == b"two"
    # Overwritten by a plain put: the version read before is stale too.
    s3.put_bytes("k", b"four")
    with pytest.raises(PreconditionFailedError):
        s3.put_if("k", b"five", expect=second)
    assert s3.get_bytes("k") == b"four"


def test_if_match_on_a_missing_key_is_refused(s3: FsspecBackend) -> None:
    version = s3.put_if("gone", b"x", expect=None)
    s3.delete("gone")
    with pytest.raises(PreconditionFailedError):
        s3.put_if("gone", b"y", expect=version)
    assert not s3.exists("gone")


def test_create_only_where_a_folder_was_emptied(s3: FsspecBackend) -> None:
    # SeaweedFS keeps the folder "d" after "d/x" is deleted and refuses If-None-Match on
    # its name; no object is stored there, so the create must succeed.
    s3.put_bytes("d/x", b"1")
    s3.delete("d/x")
    version = s3.put_if("d", b"2", expect=None)
    assert version == s3.head("d").version
    assert s3.get_bytes("d") == b"2"
    # A folder that still holds an object is left alone: the create is refused or
    # (plain S3) takes the name, and the object under it is kept either way.
    s3.put_bytes("f/y", b"3")
    with contextlib.suppress(PreconditionFailedError):
        s3.put_if("f", b"4", expect=None)
    assert s3.get_bytes("f/y") == b"3"


def test_async_put_if_from_another_loop(s3: FsspecBackend) -> None:
    async def run() -> tuple[str, str]:
        created = await s3.aput_if("a", b"1", expect=None)
        replaced = await s3.aput_if("a", b"2", expect=created)
        with pytest.raises(PreconditionFailedError):
            await s3.aput_if("a", b"3", expect=created)
        return replaced, (await s3.ahead("a")).version or ""

    replaced, head = asyncio.run(run())
    assert replaced == head


def test_only_one_of_many_racing_creates_wins(s3: FsspecBackend) -> None:
    async def attempt(n: int) -> str | None:
        try:
            return await s3.aput_if("race", str(n).encode(), expect=None)
        except PreconditionFailedError:
            return None

    async def run() -> list[str | None]:
        return await asyncio.gather(*(attempt(n) for n in range(8)))

    won = [(n, v) for n, v in enumerate(asyncio.run(run())) if v is not None]
    assert len(won) == 1
    assert s3.get_bytes("race") == str(won[0][0]).encode()
    assert s3.head("race").version == won[0][1]


@pytest.mark.slow
def test_three_processes_appending_through_fsspec_on_s3(
    s3_server: Any, s3_bucket: str, tmp_path: Path
) -> None:
    options = {"backend": "fsspec", **s3_server.backend_options("fsspec")}
    url = f"s3://{s3_bucket}/race.zarr"
    with make_backend(url, **options) as backend:
        assert isinstance(backend, FsspecBackend) and backend.conditional_writes
    ids, results = race_appends(url, options, tmp_path, workers=3, appends=3)
    check_failures(results, allowed=False)
    assert len(ids) == (3 * 3 + 1) * POINTS
    assert_holds_exactly(url, options, ids)
