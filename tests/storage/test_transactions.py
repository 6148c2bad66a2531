"""Transactional and versioned backends (zarr_vectors.storage.transactions): telling them apart.

A backend is transactional (or versioned) only when it both says so and offers
the calls; either alone is not enough. What the core does with such a backend
is in tests/format/test_store_transaction.py and tests/plugins/icechunk/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.storage.transactions import is_transactional, is_versioned


class Commits:
    """The three calls of a transactional backend."""

    transactional: Any = True

    def begin_transaction(self) -> None:
        pass

    def commit_transaction(self, summary: str) -> str | None:
        return summary

    def abort_transaction(self) -> None:
        pass


class Versions:
    """The calls of a versioned backend."""

    versioned: Any = True

    def current_version(self) -> str | None:
        return None

    def at_version(self, version: str) -> Any:
        return self

    def history(self) -> list[Any]:
        return []

    def tag_version(self, name: str, version: str | None = None) -> str:
        return name

    def tags(self) -> dict[str, str]:
        return {}

    def branches(self) -> dict[str, str]:
        return {}


def test_a_backend_is_transactional_when_it_says_so_and_has_the_calls() -> None:
    assert is_transactional(Commits())
    says_no = Commits()
    says_no.transactional = False
    assert not is_transactional(says_no)
    truthy = Commits()
    truthy.transactional = "yes"  # only True itself counts
    assert not is_transactional(truthy)

    class SaysSoOnly:
        transactional = True

    assert not is_transactional(SaysSoOnly())


def test_a_backend_is_versioned_when_it_says_so_and_has_the_calls(tmp_path: Path) -> None:
    assert is_versioned(Versions())
    says_no = Versions()
    says_no.versioned = False
    assert not is_versioned(says_no)
    assert not is_versioned(Commits()) and not is_transactional(Versions())
    with LocalBackend(tmp_path) as backend:
        assert not is_transactional(backend) and not is_versioned(backend)
