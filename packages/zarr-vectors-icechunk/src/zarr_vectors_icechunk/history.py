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
from typing import TYPE_CHECKING, Any

from zarr_vectors.exceptions import StoreError
from zarr_vectors.storage.transactions import Version

if TYPE_CHECKING:
    from zarr_vectors_icechunk.backend import IcechunkBackend

__all__ = ["SnapshotEntry", "branches", "create_branch", "history", "tag", "tags"]


#: One snapshot of a store, as ``history`` lists them (the core's ``Version``: ``id``,
#: ``written_at``, ``message``, ``parent_id``).
SnapshotEntry = Version


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
    with _opened(url, {"branch": branch, "tag": tag, **storage_options}) as (backend, _):
        return backend.history()


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
    from zarr_vectors_icechunk.versions import check_ref_name

    check_ref_name("tag", name)
    with _opened(url, {"branch": branch, **storage_options}) as (backend, _):
        return backend.tag_version(name, snapshot)


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
    from zarr_vectors_icechunk.versions import check_ref_name

    check_ref_name("branch", name)
    with _opened(url, {"branch": branch, **storage_options}) as (backend, repo):
        if name in repo.list_branches():
            raise StoreError(
                f"{backend.url} already has a branch {name!r} (at {repo.lookup_branch(name)})."
            )
        start = backend.resolve_version(snapshot)
        try:
            repo.create_branch(name, start)
        except Exception as exc:
            raise backend._fail(exc, f"the branch {name!r}") from None
        return start


def tags(url: str, **storage_options: Any) -> dict[str, str]:
    """Every tag of the repository at ``url`` and the snapshot id it names."""
    with _opened(url, storage_options) as (backend, _):
        return backend.tags()


def branches(url: str, **storage_options: Any) -> dict[str, str]:
    """Every branch of the repository at ``url`` and the snapshot id at its tip."""
    with _opened(url, storage_options) as (backend, _):
        return backend.branches()
