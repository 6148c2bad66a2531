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
from dataclasses import dataclass, field, replace
from typing import Any

from zarr_vectors.core.backends.secrets import redact_options, redact_url
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
    open_sub:
        Opens the backend at a sub-prefix of the location; set by :meth:`isolated`.
    """

    open: Callable[[], Any]
    description: str = "backend"
    options: dict[str, Any] = field(default_factory=dict)
    url: str = ""
    open_sub: Callable[[str], Any] | None = None
    _example: int = field(default=0, repr=False)
    _isolate: bool = field(default=False, repr=False)

    def isolated(self) -> KitTarget:
        """This target, with every example in a new sub-prefix of the location.

        For servers whose deletes leave traces that change later behaviour: SeaweedFS,
        for one, keeps an emptied "folder" ``a/`` after its last object is deleted,
        and then a 0-byte object put at ``a`` is listed but cannot be read. With
        isolation each example starts in untouched space, so hypothesis sees the same
        backend behaviour when it replays an example; the whole location is still
        emptied after the run.
        """
        if self.open_sub is None:
            raise ConformanceError(
                f"{self.description}: isolated() needs a target made by KitTarget.from_name "
                "(or one given open_sub=...)."
            )
        return replace(self, _example=0, _isolate=True)

    def current(self) -> Any:
        """A new backend instance at the location the current example uses."""
        if self.open_sub is not None and self._example:
            return self.open_sub(f"ex{self._example}")
        return self.open()

    @classmethod
    def from_name(cls, name: str | None, url: str, **options: Any) -> KitTarget:
        """The installed backend ``name`` (or the one serving ``url``) with ``options``."""
        from zarr_vectors.core.backends.resolve import make_backend

        def opener() -> Any:
            return make_backend(url, backend=name, **options)

        def sub_opener(sub: str) -> Any:
            return make_backend(f"{url.rstrip('/')}/{sub}", backend=name, **options)

        shown = f"{name or 'default'} backend at {redact_url(url)}"
        if options:
            shown += f" with options {redact_options(options)}"
        return cls(opener, shown, options, redact_url(url), open_sub=sub_opener)

    def fresh(self) -> Any:
        """Open the backend and empty it (the kit owns this location).

        An :meth:`isolated` target moves to a new sub-prefix first.
        """
        if self.isolating:
            self._example += 1
        backend = self.current()
        backend.delete_prefix("")
        left = list(backend.list_prefix("", recursive=True))
        if left:
            close_quietly(backend)
            raise ConformanceError(
                f"delete_prefix('') left {len(left)} object(s) in {self.description} "
                f"(e.g. {left[:3]}); the kit needs it to empty the scratch location."
            )
        return backend

    @property
    def isolating(self) -> bool:
        """Whether examples run in sub-prefixes of their own (see :meth:`isolated`)."""
        return self._isolate

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
