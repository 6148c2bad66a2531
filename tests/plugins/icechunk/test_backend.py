"""The icechunk backend on local repositories: commits, history, time travel, bad input.

Concurrent writers on S3 are in test_concurrency.py, crashes in test_crash.py,
interop with the published 0.9.2 in test_interop.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarr_vectors_icechunk as zi
from zarr_vectors.exceptions import (
    BackendOptionError,
    ReadOnlyBackendError,
    StoreError,
    TransactionConflictError,
)
from zarr_vectors.lazy import open_zv
from zarr_vectors.types.points import read_points, write_points
from zarr_vectors_icechunk.backend import IcechunkBackend

CHUNK = (25.0, 25.0, 25.0)
BOUNDS = ((0.0, 0.0, 0.0), (100.0, 100.0, 100.0))
#: What a write creating a store passes.
NEW: dict[str, Any] = {"chunk_shape": CHUNK, "bounds": BOUNDS, "backend": "icechunk"}


def _points(n: int, seed: int = 0) -> np.ndarray[Any, Any]:
    return np.random.default_rng(seed).uniform(0, 100, (n, 3)).astype(np.float32)


def _sorted(rows: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return rows[np.lexsort(rows.T[::-1])]


def _same(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> None:
    np.testing.assert_array_equal(_sorted(np.asarray(a)), _sorted(np.asarray(b)))


@pytest.fixture
def repo(tmp_path: Path) -> str:
    return str(tmp_path / "repo")


def test_each_write_is_one_commit_with_its_message(repo: str) -> None:
    first, more = _points(3000), _points(200, seed=1)
    write_points(repo, first, **NEW, message="flight 1")
    write_points(repo, more, mode="a", backend="icechunk")
    log = zi.history(repo)
    assert [e.message for e in log] == [
        "zarr-vectors: append 200 points",
        "flight 1",
        "Repository initialized",
    ]
    assert log[0].parent_id == log[1].id
    _same(read_points(repo, backend="icechunk").positions, np.concatenate([first, more]))


def test_time_travel_by_snapshot_tag_and_branch(repo: str) -> None:
    first, more = _points(1000), _points(100, seed=2)
    write_points(repo, first, **NEW)
    zi.tag(repo, "v1")
    assert zi.create_branch(repo, "extra") == zi.history(repo)[0].id
    write_points(repo, more, mode="a", backend="icechunk", branch="extra")
    write_points(repo, more, mode="a", backend="icechunk")
    old = zi.history(repo)[1].id
    _same(read_points(repo, backend="icechunk", snapshot=old).positions, first)
    _same(read_points(repo, backend="icechunk", tag="v1").positions, first)
    both = np.concatenate([first, more])
    _same(read_points(repo, backend="icechunk", branch="extra").positions, both)
    _same(read_points(repo, backend="icechunk").positions, both)
    assert set(zi.branches(repo)) == {"main", "extra"}
    assert zi.tags(repo) == {"v1": old}
    with open_zv(repo, backend="icechunk", snapshot=old) as store:
        assert store.level(0).vertex_count == len(first)
        _same(store.read_points().positions, first)


def test_a_replace_is_one_commit_and_the_old_state_stays_readable(repo: str) -> None:
    first, second = _points(800), _points(50, seed=3)
    write_points(repo, first, **NEW)
    before = zi.history(repo)[0].id
    write_points(repo, second, chunk_shape=(50.0, 50.0, 50.0), mode="w", backend="icechunk")
    log = zi.history(repo)
    assert log[1].id == before and len(log) == 3
    _same(read_points(repo, backend="icechunk").positions, second)
    _same(read_points(repo, backend="icechunk", snapshot=before).positions, first)


def test_a_failed_write_commits_nothing(repo: str) -> None:
    first = _points(500)
    write_points(repo, first, **NEW)
    head = zi.history(repo)[0].id

    def fail(done: int, total: int) -> None:
        raise RuntimeError("stopped on purpose")

    with pytest.raises(RuntimeError, match="on purpose"):
        write_points(repo, _points(500, 4), mode="a", backend="icechunk", progress=fail)
    with pytest.raises(RuntimeError, match="on purpose"):
        write_points(repo, _points(500, 5), mode="w", **NEW, progress=fail)
    assert zi.history(repo)[0].id == head
    _same(read_points(repo, backend="icechunk").positions, first)


def test_snapshots_tags_are_read_only(repo: str) -> None:
    write_points(repo, _points(100), **NEW)
    zi.tag(repo, "v1")
    with pytest.raises(ReadOnlyBackendError):
        write_points(repo, _points(10), mode="a", backend="icechunk", tag="v1")
    backend = IcechunkBackend(repo, snapshot=zi.history(repo)[0].id)
    with backend, pytest.raises(ReadOnlyBackendError):
        backend.put_bytes("x", b"1")


@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        ({"snapshot": "A" * 20}, StoreError, "has no snapshot 'AAAAAAAAAAAAAAAAAAAA'"),
        ({"snapshot": "not-an-id"}, BackendOptionError, "not an Icechunk snapshot id"),
        ({"tag": "nope"}, StoreError, "has no tag 'nope'; its tags are none"),
        ({"branch": "a/b"}, BackendOptionError, "branch name 'a/b' is not usable"),
        ({"branch": ""}, BackendOptionError, "branch name '' is not usable"),
        ({"tag": "v1", "snapshot": "AAAAAAAAAAAAAAAAAAAA"}, BackendOptionError, "give one"),
        ({"message": 5}, BackendOptionError, "message must be a str"),
        ({"bucket_region": "x"}, BackendOptionError, "does not accept the option(s) bucket_region"),
    ],
)
def test_bad_input_is_one_line(
    repo: str, options: dict[str, Any], error: type[Exception], words: str
) -> None:
    write_points(repo, _points(100), **NEW)
    with pytest.raises(error) as info:
        read_points(repo, backend="icechunk", **options)
    assert words in str(info.value)
    assert "\n" not in str(info.value)


def test_a_conflicting_commit_names_the_other(repo: str) -> None:
    write_points(repo, _points(100), **NEW)
    with IcechunkBackend(repo) as one, IcechunkBackend(repo) as two:
        one.begin_transaction()
        two.begin_transaction()
        one.put_bytes("zarr.json", b'{"zarr_format": 3, "node_type": "group"}')
        two.put_bytes("zarr.json", b'{"zarr_format": 3, "node_type": "group", "attributes": {}}')
        won = one.commit_transaction("one")
        with pytest.raises(TransactionConflictError) as info:
            two.commit_transaction("two")
    assert info.value.other == won and won in str(info.value)
    assert [e.message for e in zi.history(repo)][:2] == ["one", "zarr-vectors: create 100 points"]


def test_an_append_that_loses_the_race_is_redone(repo: str) -> None:
    """Another append commits while this one writes; this one's commit is refused and redone."""
    first, theirs, ours = _points(400), _points(30, seed=6), _points(20, seed=7)
    write_points(repo, first, **NEW)
    raced: list[int] = []

    def meanwhile(done: int, total: int) -> None:
        if not raced:
            raced.append(1)
            write_points(repo, theirs, mode="a", backend="icechunk", message="theirs")

    write_points(repo, ours, mode="a", backend="icechunk", message="ours", progress=meanwhile)
    assert [e.message for e in zi.history(repo)][:2] == ["ours", "theirs"]
    _same(read_points(repo, backend="icechunk").positions, np.concatenate([first, theirs, ours]))


def test_a_replace_that_loses_the_race_raises_naming_the_other(repo: str) -> None:
    first, theirs = _points(400), _points(30, seed=8)
    write_points(repo, first, **NEW)
    raced: list[int] = []

    def meanwhile(done: int, total: int) -> None:
        if not raced:
            raced.append(1)
            write_points(repo, theirs, mode="a", backend="icechunk", message="theirs")

    with pytest.raises(TransactionConflictError) as info:
        write_points(repo, _points(10), mode="w", **NEW, progress=meanwhile)
    assert info.value.other == zi.history(repo)[0].id
    _same(read_points(repo, backend="icechunk").positions, np.concatenate([first, theirs]))


def test_a_store_lives_natively_in_the_repository(repo: str) -> None:
    """Zarr readers of the repository see the store's own keys, nothing hidden."""
    import icechunk
    import zarr

    write_points(repo, _points(300), **NEW)
    session = icechunk.Repository.open(icechunk.local_filesystem_storage(repo)).readonly_session(
        branch="main"
    )
    group = zarr.open_group(session.store, mode="r")
    assert sorted(group.group_keys()) == ["0"]
    assert group["0/vertices"].metadata.zarr_format == 3
    assert "zarr_vectors" in str(dict(group.attrs))


def test_secrets_stay_out_of_messages_and_repr(tmp_path: Path) -> None:
    backend = IcechunkBackend(
        "s3://bucket/prefix",
        endpoint="http://127.0.0.1:9",
        access_key_id="AKIAEXAMPLE",
        secret_access_key="sup3r-secret-value",
    )
    with backend:
        assert "sup3r" not in repr(backend) and "sup3r" not in backend.url
        with pytest.raises(StoreError) as info:
            backend.get_bytes("zarr.json")
    assert "sup3r-secret-value" not in str(info.value)


def test_lines_are_one_commit_per_write_too(repo: str) -> None:
    from zarr_vectors.types.lines import read_lines, write_lines

    ends = np.random.default_rng(10).uniform(0, 100, (200, 2, 3)).astype(np.float32)
    write_lines(repo, ends[:150], **NEW, message="lines")
    write_lines(repo, ends[150:], mode="a", object_ids=list(range(150, 200)), backend="icechunk")
    log = zi.history(repo)
    assert [e.message for e in log] == [
        "zarr-vectors: append objects",
        "lines",
        "Repository initialized",
    ]
    assert len(read_lines(repo, backend="icechunk")) == 200
    assert len(read_lines(repo, backend="icechunk", snapshot=log[1].id)) == 150
