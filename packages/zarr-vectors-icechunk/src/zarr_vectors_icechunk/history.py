"""History, tags and branches of a versioned store.

Every write to a store on the icechunk backend is one snapshot; these helpers
list them and name them, taking the same URL and storage options as
``write_points(..., backend="icechunk")``. A snapshot id, tag or branch they
return is what ``read_points(..., backend="icechunk", snapshot=...)`` (or
``tag=``, ``branch=``) reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from zarr_vectors.exceptions import StoreError

if TYPE_CHECKING:
    from zarr_vectors_icechunk.backend import IcechunkBackend

__all__ = ["SnapshotEntry", "branches", "create_branch", "history", "tag", "tags"]


@dataclass(frozen=True)
class SnapshotEntry:
    """One snapshot of a store: what ``history`` lists, newest first."""

    #: The snapshot id (``read_points(..., snapshot=id)`` reads the store as it was).
    id: str
    #: When it was committed (UTC).
    written_at: datetime
    #: The commit message (``write_points(..., message=...)`` or what the write did).
    message: str
    #: The snapshot it was made from (``None`` for the repository's first).
    parent_id: str | None


@contextmanager
def _opened(url: str, options: dict[str, Any]) -> Iterator[tuple[IcechunkBackend, Any]]:
    from zarr_vectors_icechunk.backend import IcechunkBackend

    backend = IcechunkBackend(url, **options)
    try:
        repo = backend.repository()
        if repo is None:
            raise StoreError(f"No Icechunk repository at {backend.url}; check the URL.")
        yield backend, repo
    finally:
        backend.close()


def history(
    url: str, *, branch: str | None = None, tag: str | None = None, **storage_options: Any
) -> list[SnapshotEntry]:
    """The snapshots of ``branch`` (default ``main``) or ``tag``, newest first."""
    with _opened(url, {"branch": branch, "tag": tag, **storage_options}) as (backend, repo):
        where = {"tag": tag} if tag else {"branch": backend.branch}
        if not tag and backend.branch not in repo.list_branches():
            raise StoreError(
                f"{backend.url} has no branch {backend.branch!r}; its branches are "
                f"{sorted(repo.list_branches())}."
            )
        return [
            SnapshotEntry(str(s.id), s.written_at, str(s.message), s.parent_id)
            for s in repo.ancestry(**where)
        ]


def tag(
    url: str,
    name: str,
    *,
    snapshot: str | None = None,
    branch: str | None = None,
    **storage_options: Any,
) -> str:
    """Name ``snapshot`` (default: the tip of ``branch``, default ``main``) ``name``.

    Returns the snapshot id tagged. A tag is never moved: naming a second
    snapshot with a name already taken is refused.
    """
    from zarr_vectors_icechunk.backend import check_ref_name

    check_ref_name("tag", name)
    with _opened(url, {"branch": branch, **storage_options}) as (backend, repo):
        if name in repo.list_tags():
            raise StoreError(
                f"{backend.url} already has a tag {name!r} (at {repo.lookup_tag(name)}); tags "
                "are never moved, so choose another name."
            )
        target = _resolve(backend, repo, snapshot)
        try:
            repo.create_tag(name, target)
        except Exception as exc:
            raise backend._fail(exc, f"the tag {name!r}") from None
        return str(target)


def create_branch(
    url: str,
    name: str,
    *,
    snapshot: str | None = None,
    branch: str | None = None,
    **storage_options: Any,
) -> str:
    """Make branch ``name`` at ``snapshot`` (default: the tip of ``branch``, default ``main``).

    Returns the snapshot id the branch starts from. Writes with ``branch=name``
    then go to it, and leave every other branch as it is.
    """
    from zarr_vectors_icechunk.backend import check_ref_name

    check_ref_name("branch", name)
    with _opened(url, {"branch": branch, **storage_options}) as (backend, repo):
        if name in repo.list_branches():
            raise StoreError(
                f"{backend.url} already has a branch {name!r} (at {repo.lookup_branch(name)})."
            )
        start = _resolve(backend, repo, snapshot)
        try:
            repo.create_branch(name, start)
        except Exception as exc:
            raise backend._fail(exc, f"the branch {name!r}") from None
        return start


def _resolve(backend: IcechunkBackend, repo: Any, snapshot: str | None) -> str:
    """``snapshot`` if the repository has it, else the tip of the backend's branch."""
    try:
        if snapshot is None:
            return str(repo.lookup_branch(backend.branch))
        repo.lookup_snapshot(snapshot)
        return snapshot
    except Exception as exc:
        what = f"snapshot {snapshot!r}" if snapshot else f"branch {backend.branch!r}"
        raise StoreError(
            f"{backend.url} has no {what}; list the snapshots with "
            "zarr_vectors_icechunk.history(url)."
        ) from exc


def tags(url: str, **storage_options: Any) -> dict[str, str]:
    """Every tag of the repository at ``url`` and the snapshot id it names."""
    with _opened(url, storage_options) as (_, repo):
        return {t: str(repo.lookup_tag(t)) for t in sorted(repo.list_tags())}


def branches(url: str, **storage_options: Any) -> dict[str, str]:
    """Every branch of the repository at ``url`` and the snapshot id at its tip."""
    with _opened(url, storage_options) as (_, repo):
        return {b: str(repo.lookup_branch(b)) for b in sorted(repo.list_branches())}
