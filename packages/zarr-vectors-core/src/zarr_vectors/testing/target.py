"""What the kit runs against: a way to open the backend under test, again and again.

The kit needs a fresh, empty store for every example and the *same* store again
after closing it (persistence). A :class:`KitTarget` wraps an ``open()``
callable that constructs the backend at one scratch location; the kit empties
that location between examples and after the run. Because it deletes
everything there, :meth:`KitTarget.ensure_scratch` refuses a location that
already holds objects.

Every instance the target opens is a :class:`~.guard.GuardedBackend`: each call
on it is time-limited and logged by the target's :class:`~.guard.Guard`, so a
backend that never answers fails a check instead of hanging the kit, and a
failure can show the calls its minimal example made.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from zarr_vectors.exceptions import ConformanceError, StoreError
from zarr_vectors.storage.secrets import redact_options, redact_url
from zarr_vectors.testing.guard import Guard, watch
from zarr_vectors.testing.guarded import GuardedBackend
from zarr_vectors.testing.show import show_keys

__all__ = ["KitTarget", "close_quietly"]

T = TypeVar("T")


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
    backend_name:
        The registered name, when the target was made by :meth:`from_name`.
    in_process:
        The objects live in this process only (like ``memory://``, which is recognised
        without it): the two-processes check is skipped.

    A target made by :meth:`from_name` can be sent to another process (the kit runs
    each check in a child process it can end); one given a lambda is handed to a
    forked child instead.
    """

    open: Callable[[], Any]
    description: str = "backend"
    options: dict[str, Any] = field(default_factory=dict)
    url: str = ""
    open_sub: Callable[[str], Any] | None = None
    backend_name: str | None = None
    in_process: bool = False
    _example: int = field(default=0, repr=False)
    _isolate: bool = field(default=False, repr=False)
    _guard: Guard | None = field(default=None, repr=False)

    @property
    def max_key_bytes(self) -> int:
        """The longest key (bytes of UTF-8) the kit writes here: the contract's 1,024 less
        what the store's own prefix uses where the storage counts it (object stores), and
        room for the sub-prefixes of :meth:`isolated`."""
        from urllib.parse import urlsplit

        from zarr_vectors.storage import get_registry, url_scheme
        from zarr_vectors.testing.model import MAX_KEY_BYTES

        used = 0
        if url_scheme(self.url) in get_registry().schemes_where("object_store_schemes"):
            prefix = urlsplit(self.url).path.strip("/")
            used = len(prefix.encode()) + 1 if prefix else 0
        if self._isolate:
            used += 16  # '/ex' and the example number
        return MAX_KEY_BYTES - used

    def __getstate__(self) -> dict[str, Any]:
        """Everything but the guard (locks and a call log stay in their process)."""
        state = dict(self.__dict__)
        state["_guard"] = None
        state["_timeout"] = self.guard.timeout
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        timeout = state.pop("_timeout", None)
        self.__dict__.update(state)
        if timeout is not None:
            self.configure(timeout)

    @property
    def guard(self) -> Guard:
        """Time limits and call log of every instance this target opens."""
        if self._guard is None:
            from zarr_vectors.testing.config import KitConfig

            self._guard = Guard(self.description, KitConfig().call_timeout)
        return self._guard

    def configure(self, timeout: float) -> None:
        """Use ``timeout`` seconds as the limit of each backend call from now on."""
        self.guard.timeout = float(timeout)

    def renew_guard(self) -> None:
        """A fresh guard, after the kit stopped waiting for a check stuck on the old one."""
        old = self.guard
        self._guard = Guard(self.description, old.timeout)

    def watched(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (calls of this target) with the time limit on each of its calls."""
        return watch(lambda: self.guard, fn, renew=self.renew_guard)

    def _opened(self, opener: Callable[[], Any], where: str) -> GuardedBackend:
        raw = self.guard.run("open", f"open({where})", opener)
        return GuardedBackend(raw, self.guard)

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
            sub = f"ex{self._example}"
            open_sub = self.open_sub
            return self._opened(lambda: open_sub(sub), f"{self.url}/{sub}")
        return self._opened(self.open, self.url or self.description)

    @classmethod
    def from_name(cls, name: str | None, url: str, **options: Any) -> KitTarget:
        """The installed backend ``name`` (or the one serving ``url``) with ``options``."""
        opener = _Opener(name, url, options)
        sub_opener = _Opener(name, url, options, sub=True)
        shown = f"{name or 'default'} backend at {redact_url(url)}"
        if options:
            shown += f" with options {redact_options(options)}"
        return cls(opener, shown, options, redact_url(url), open_sub=sub_opener, backend_name=name)

    def fresh(self) -> Any:
        """Open the backend and empty it (the kit owns this location).

        An :meth:`isolated` target moves to a new sub-prefix first. The call log
        starts afresh, so that a failure shows the calls of its own example.
        """
        if self.isolating:
            self._example += 1
        backend = self.current()
        if not getattr(backend, "writable", True):
            close_quietly(backend)
            raise ConformanceError(
                f"{self.description} is read-only (writable = False); the kit writes and "
                "deletes objects, so it checks writable backends only. Check a read-only "
                "backend's reads with your own tests against a store written beforehand."
            )
        try:
            backend.delete_prefix("")
            left = list(backend.list_prefix("", recursive=True))
        except BaseException:
            close_quietly(backend)
            raise
        if left:
            close_quietly(backend)
            raise ConformanceError(
                f"delete_prefix('') left {len(left)} object(s) in {self.description} "
                f"(e.g. {show_keys(left[:3])}); the kit needs it to empty the scratch location."
            )
        self.guard.reset_log()
        return backend

    @property
    def example_count(self) -> int:
        """Examples opened so far (an :meth:`isolated` target's next sub-prefix follows it)."""
        return self._example

    @example_count.setter
    def example_count(self, value: int) -> None:
        self._example = max(self._example, int(value))

    @property
    def isolating(self) -> bool:
        """Whether examples run in sub-prefixes of their own (see :meth:`isolated`)."""
        return self._isolate

    def ensure_scratch(self) -> None:
        """Refuse to run on a location that already holds objects (the kit deletes them)."""
        self.watched(self._ensure_scratch)

    def _ensure_scratch(self) -> None:
        backend = self._opened(self.open, self.url or self.description)
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
                f"and it already holds objects (e.g. {show_keys(found)}). Point it at an empty "
                "scratch location (a new bucket, prefix, directory or file) instead."
            )

    def cleanup(self) -> None:
        """Empty the location after the run (best effort, within the time limit)."""
        with contextlib.suppress(Exception):
            self.watched(self._cleanup)

    def _cleanup(self) -> None:
        try:
            backend = self._opened(self.open, self.url or self.description)
        except Exception:
            return
        with contextlib.suppress(Exception):
            backend.delete_prefix("")
        close_quietly(backend)


@dataclass(frozen=True)
class _Opener:
    """Opens backend ``name`` at ``url`` (or a sub-prefix of it); picklable, unlike a closure,
    so that a target made by :meth:`KitTarget.from_name` can be sent to a child process."""

    name: str | None
    url: str
    options: dict[str, Any]
    sub: bool = False

    def __call__(self, *sub: str) -> Any:
        from zarr_vectors.storage import make_backend

        url = f"{self.url.rstrip('/')}/{sub[0]}" if self.sub else self.url
        return make_backend(url, backend=self.name, **self.options)


def close_quietly(backend: Any) -> None:
    """Close ``backend``; a failing close must not hide the failure being reported.

    The close is left out of the call log, which ends at the failure.
    """
    guard = getattr(backend, "guard", None)
    with (
        contextlib.suppress(Exception),
        guard.quiet() if isinstance(guard, Guard) else contextlib.nullcontext(),
    ):
        backend.close()
