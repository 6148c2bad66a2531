"""zarr_vectors_icechunk.versions: branch and tag names, and the versioned calls' own logic.

The mixin is driven over a stand-in repository (what it asks of Icechunk's
``Repository`` is four look-ups and two lists); the real thing is in
test_history.py and test_backend.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

import pytest

from zarr_vectors.exceptions import BackendOptionError, StoreError
from zarr_vectors.storage.transactions import Version
from zarr_vectors_icechunk.versions import IcechunkVersions, check_ref_name


@pytest.mark.parametrize("name", ["main", "survey-2024", "v1.0", "a_b", "x" * 100])
def test_usable_ref_names(name: str) -> None:
    assert check_ref_name("tag", name) == name


@pytest.mark.parametrize(
    "name", ["", "a/b", "v 1", ".hidden", "a..b", "x.lock", "x" * 101, 5, None, "é"]
)
def test_unusable_ref_names(name: object) -> None:
    with pytest.raises(BackendOptionError, match=rf"branch name {name!r} is not usable"):
        check_ref_name("branch", name)


class _Snapshot(NamedTuple):
    id: str
    written_at: datetime
    message: str
    parent_id: str | None


class _Repo:
    def __init__(self) -> None:
        self.refs: dict[str, dict[str, str]] = {"branch": {"main": "S2"}, "tag": {}}
        self.snapshots = {"S1": None, "S2": "S1"}
        self.asked: dict[str, str] = {}

    def list_branches(self) -> set[str]:
        return set(self.refs["branch"])

    def list_tags(self) -> set[str]:
        return set(self.refs["tag"])

    def lookup_branch(self, name: str) -> str:
        return self.refs["branch"][name]

    def lookup_tag(self, name: str) -> str:
        return self.refs["tag"][name]

    def lookup_snapshot(self, snapshot_id: str) -> object:
        if snapshot_id not in self.snapshots:
            raise ValueError(f"no snapshot {snapshot_id}")
        return object()

    def create_tag(self, name: str, snapshot_id: str) -> None:
        self.refs["tag"][name] = snapshot_id

    def ancestry(self, **where: str) -> list[_Snapshot]:
        self.asked = where
        when = datetime(2026, 1, 1, tzinfo=UTC)
        return [_Snapshot("S2", when, "second", "S1"), _Snapshot("S1", when, "first", None)]


class _Versions(IcechunkVersions):
    def __init__(self, repo: _Repo | None, **reads: Any) -> None:
        self.repo, self.url = repo, "memory://r"
        self.branch = reads.get("branch", "main")
        self.tag = reads.get("tag")
        self.snapshot = reads.get("snapshot")

    def repository(self, *, create: bool = False) -> Any:
        return self.repo

    def _fail(self, exc: BaseException, what: str) -> StoreError:
        return StoreError(f"failed: {what}")

    def current_version(self) -> str | None:
        if self.repo is None or self.branch not in self.repo.refs["branch"]:
            return None
        return self.repo.refs["branch"][self.branch]


def test_history_of_what_the_backend_reads() -> None:
    repo = _Repo()
    got = _Versions(repo).history()
    assert repo.asked == {"branch": "main"}
    assert got[0] == Version("S2", datetime(2026, 1, 1, tzinfo=UTC), "second", "S1")
    _Versions(repo, tag="v1").history()
    assert repo.asked == {"tag": "v1"}
    _Versions(repo, snapshot="S1", tag="v1").history()  # a snapshot says most
    assert repo.asked == {"snapshot_id": "S1"}
    with pytest.raises(StoreError, match=r"has no branch 'dev'; its branches are \['main'\]"):
        _Versions(repo, branch="dev").history()
    with pytest.raises(StoreError, match="No Icechunk repository at memory://r"):
        _Versions(None).history()


def test_a_tag_names_a_snapshot_once() -> None:
    repo = _Repo()
    versions = _Versions(repo)
    assert versions.tag_version("v1") == "S2"  # the tip of the branch read
    assert versions.tag_version("old", "S1") == "S1"
    assert versions.tags() == {"old": "S1", "v1": "S2"}
    assert versions.branches() == {"main": "S2"}
    with pytest.raises(StoreError, match=r"already has a tag 'v1' \(at S2\).*never moved"):
        versions.tag_version("v1", "S1")
    with pytest.raises(BackendOptionError, match="tag name 'a b'"):
        versions.tag_version("a b")


def test_resolving_a_version() -> None:
    repo = _Repo()
    assert _Versions(repo).resolve_version("S1") == "S1"
    with pytest.raises(StoreError, match=r"has no snapshot 'S9'; list the snapshots"):
        _Versions(repo).resolve_version("S9")
    with pytest.raises(StoreError, match="has no branch 'dev'"):
        _Versions(repo, branch="dev").resolve_version(None)
