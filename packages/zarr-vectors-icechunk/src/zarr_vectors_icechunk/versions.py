"""The icechunk backend as a versioned store: its history, tags and branches.

These are calls of the core's optional versioned capability
(:class:`zarr_vectors.storage.transactions.VersionedBackend`), mixed into the
backend: ``open_zv(...).history()`` and ``.tag(...)`` reach them through it, and
the helpers of :mod:`zarr_vectors_icechunk.history` call them on a backend they
open from a URL. Branch and tag names are checked here, before Icechunk sees them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

from zarr_vectors.exceptions import BackendOptionError, StoreError
from zarr_vectors.storage.transactions import Version

__all__ = ["IcechunkVersions", "check_ref_name"]

#: Branch and tag names taken: what Git would take, in short (Icechunk takes nearly anything).
_REF_NAME = re.compile(r"^(?!\.)(?!.*\.\.)[A-Za-z0-9._\-]{1,100}(?<!\.lock)$")


def check_ref_name(kind: str, name: object) -> str:
    """``name`` if it is a usable branch or tag name; ``BackendOptionError`` otherwise."""
    if not isinstance(name, str) or not _REF_NAME.match(name):
        raise BackendOptionError(
            f"{kind} name {name!r} is not usable: give 1 to 100 letters, digits, '.', '_' or "
            "'-', not starting with '.', without '..' (e.g. 'main', 'survey-2024')."
        )
    return name


class IcechunkVersions:
    """History, tags and branches of the backend's repository (mixed into the backend)."""

    versioned: ClassVar[bool] = True
    url: str
    branch: str
    tag: str | None
    snapshot: str | None

    if TYPE_CHECKING:

        def repository(self, *, create: bool = False) -> Any:
            """Supplied by the backend."""

        def _fail(self, exc: BaseException, what: str) -> StoreError:
            """Supplied by the backend."""

        def current_version(self) -> str | None:
            """Supplied by the backend."""

    def _repo_or_fail(self) -> Any:
        repo = self.repository()
        if repo is None:
            raise StoreError(f"No Icechunk repository at {self.url}; check the URL.")
        return repo

    def history(self) -> list[Version]:
        """The snapshots leading to the one this backend reads, newest first."""
        repo = self._repo_or_fail()
        if self.snapshot is not None:
            where: dict[str, str] = {"snapshot_id": self.snapshot}
        elif self.tag is not None:
            where = {"tag": self.tag}
        else:
            if self.branch not in repo.list_branches():
                raise StoreError(
                    f"{self.url} has no branch {self.branch!r}; its branches are "
                    f"{sorted(repo.list_branches())}."
                )
            where = {"branch": self.branch}
        return [
            Version(str(s.id), s.written_at, str(s.message), s.parent_id)
            for s in repo.ancestry(**where)
        ]

    def tag_version(self, name: str, version: str | None = None) -> str:
        """Name ``version`` (default: the snapshot this backend reads) ``name``.

        Returns the snapshot id tagged. A tag is never moved: a name already
        taken is refused.
        """
        check_ref_name("tag", name)
        repo = self._repo_or_fail()
        if name in repo.list_tags():
            raise StoreError(
                f"{self.url} already has a tag {name!r} (at {repo.lookup_tag(name)}); tags "
                "are never moved, so choose another name."
            )
        target = self.resolve_version(version)
        try:
            repo.create_tag(name, target)
        except Exception as exc:
            raise self._fail(exc, f"the tag {name!r}") from None
        return target

    def resolve_version(self, version: str | None) -> str:
        """``version`` if the repository has it, else the snapshot this backend reads."""
        repo = self._repo_or_fail()
        try:
            if version is None:
                found = self.current_version()
                if found is None:
                    raise StoreError(f"{self.url} has no snapshot yet")
                return found
            repo.lookup_snapshot(version)
            return version
        except Exception as exc:
            what = f"snapshot {version!r}" if version else f"branch {self.branch!r}"
            raise StoreError(
                f"{self.url} has no {what}; list the snapshots with "
                "zarr_vectors_icechunk.history(url)."
            ) from exc

    def tags(self) -> dict[str, str]:
        """Every tag of the repository and the snapshot id it names."""
        repo = self._repo_or_fail()
        return {t: str(repo.lookup_tag(t)) for t in sorted(repo.list_tags())}

    def branches(self) -> dict[str, str]:
        """Every branch of the repository and the snapshot id at its tip."""
        repo = self._repo_or_fail()
        return {b: str(repo.lookup_branch(b)) for b in sorted(repo.list_branches())}
