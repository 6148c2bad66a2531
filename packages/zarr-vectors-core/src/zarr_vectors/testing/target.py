"""What the kit runs against: a way to open the backend under test, again and again.

The kit needs a fresh, empty store for every example and the *same* store again
after closing it (persistence). A :class:`KitTarget` wraps an ``open()``
callable that constructs the backend at one scratch location; the kit empties
that location between examples and after the run. Because it deletes
everything there, :meth:`KitTarget.ensure_scratch` refuses a location that
already holds objects.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zarr_vectors.core.secrets import redact_options, redact_url
from zarr_vectors.exceptions import ConformanceError, StoreError

__all__ = ["KitTarget", "close_quietly"]


@dataclass
class KitTarget:
    """A backend under test.

    Parameters
    ----------
    open:
        Returns a new backend instance rooted at the scratch location.
    description:
        How to name it in messages (credentials are never part of it).
    options:
        The constructor options (used to keep their secret values out of reports).
    url:
        The location, credentials redacted (its scheme picks the kit's default settings).
    """

    open: Callable[[], Any]
    description: str = "backend"
    options: dict[str, Any] = field(default_factory=dict)
    url: str = ""

    @classmethod
    def from_name(cls, name: str | None, url: str, **options: Any) -> KitTarget:
        """The installed backend ``name`` (or the one serving ``url``) with ``options``."""
        from zarr_vectors.core.backends.resolve import make_backend

        def opener() -> Any:
            return make_backend(url, backend=name, **options)

        shown = f"{name or 'default'} backend at {redact_url(url)}"
        if options:
            shown += f" with options {redact_options(options)}"
        return cls(opener, shown, options, redact_url(url))

    def fresh(self) -> Any:
        """Open the backend and empty it (the kit owns this location)."""
        backend = self.open()
        backend.delete_prefix("")
        left = list(backend.list_prefix("", recursive=True))
        if left:
            close_quietly(backend)
            raise ConformanceError(
                f"delete_prefix('') left {len(left)} object(s) in {self.description} "
                f"(e.g. {left[:3]}); the kit needs it to empty the scratch location."
            )
        return backend

    def ensure_scratch(self) -> None:
        """Refuse to run on a location that already holds objects (the kit deletes them)."""
        backend = self.open()
        try:
            found = []
            for key in backend.list_prefix("", recursive=True):
                found.append(key)
                if len(found) >= 3:
                    break
        finally:
            close_quietly(backend)
        if found:
            raise StoreError(
                f"The conformance kit writes and deletes everything under {self.description}, "
                f"and it already holds objects (e.g. {found}). Point it at an empty scratch "
                "location (a new bucket, prefix, directory or file) instead."
            )

    def cleanup(self) -> None:
        """Empty the location after the run (best effort)."""
        try:
            backend = self.open()
        except Exception:
            return
        with contextlib.suppress(Exception):
            backend.delete_prefix("")
        close_quietly(backend)


def close_quietly(backend: Any) -> None:
    """Close ``backend``; a failing close must not hide the failure being reported."""
    with contextlib.suppress(Exception):
        backend.close()
