"""Every backend call the kit makes ends: a time limit per call, and a log of the calls made.

A backend whose ``get`` never returns used to hang the kit until something
outside killed it. Now each check runs on a thread of its own (:func:`watch`)
while the calling thread keeps time. Every backend call goes through a
:class:`GuardedBackend`, which writes it in the :class:`Guard`'s log when it
starts and when it ends; the watching thread looks at the log a few times a
second, and a call that has been running longer than
:attr:`KitConfig.call_timeout` fails the check with :class:`KitTimeoutError`,
naming the call, its key and the backend.

Python cannot stop a thread, so the stuck call is left behind on its (daemon)
thread and the guard it belongs to is abandoned: any later call through it
ends that thread at once. Later calls of the same operation on the same
backend fail at once instead of waiting again, so the other checks and the run
end on their own; :func:`outstanding_calls` tells the command line and the
pytest plugin that the process must not wait for the stuck thread at exit.

The calls themselves are made directly by the checking thread (no hand-off per
call), so the guard costs a log entry per call. The log also serves failure
reports: the calls the minimal example made.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
import time
from collections import deque
from collections.abc import (
    Callable,
    Coroutine,
    Iterator,
)
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar, cast

from zarr_vectors.exceptions import ConformanceError
from zarr_vectors.testing.show import show

__all__ = [
    "Guard",
    "KitTimeoutError",
    "hung_calls",
    "hung_entries",
    "outstanding_calls",
    "record_hung",
    "run_coroutine",
    "set_call_hook",
    "watch",
]

T = TypeVar("T")

#: How often the watching thread looks at the log, in seconds.
POLL = 0.05


class KitTimeoutError(ConformanceError):
    """A backend call did not return within the kit's time limit."""


class _Abandoned(BaseException):
    """Ends a check thread the kit stopped waiting for (not an ``Exception``, so that
    hypothesis does not take it for a failure to shrink)."""


# -- a pool of daemon threads for event loops ---------------------------------------------------
class _Pool:
    """Reusable daemon worker threads, started on demand.

    The kit's event loops run their ``asyncio.to_thread`` work here: daemon, so
    that a blocking call that never returns cannot keep the process alive at exit.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._count = 0

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._idle == 0:
                self._count += 1
                threading.Thread(
                    target=self._work, name=f"zv-kit-{self._count}", daemon=True
                ).start()
            else:
                self._idle -= 1
        self._jobs.put((future, fn))
        return future

    def _work(self) -> None:
        while True:
            future, fn = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            result: Any = None
            error: BaseException | None = None
            try:
                result = fn()
            except BaseException as exc:
                error = exc
            # Idle again before the caller wakes up, so that its next call reuses this thread.
            with self._lock:
                self._idle += 1
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)
            del future, fn, result, error


POOL = _Pool()


def _after_fork_in_child() -> None:
    """A forked child has none of its parent's threads: start with an empty pool and
    fresh locks (a lock held by a parent's thread at the fork would never be released)."""
    global POOL, _registry_lock
    POOL = _Pool()
    _registry_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _PoolExecutor(ThreadPoolExecutor):
    """The daemon pool in the shape asyncio accepts as a loop's default executor."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return POOL.submit(lambda: fn(*args, **kwargs))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Nothing to stop: the pool outlives every loop."""


def run_coroutine(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``make()`` to completion on a new event loop in this thread.

    Like :func:`asyncio.run`, but the loop's worker threads are daemon threads,
    and closing does not wait for them: a stuck call must not block the kit.
    """
    loop = asyncio.new_event_loop()
    loop.set_default_executor(_PoolExecutor())
    try:
        return loop.run_until_complete(make())
    finally:
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


# -- the call log and the registry of calls that overran ------------------------------------
@dataclass(eq=False)
class Call:
    """One backend call: what was asked, and how it ended (``None`` while running)."""

    text: str
    op: str
    started: float = field(default_factory=time.monotonic)
    outcome: str | None = None

    def render(self) -> str:
        return f"{self.text} -> {self.outcome if self.outcome is not None else '(still running)'}"


_registry_lock = threading.Lock()
#: (backend description, operation) -> the first call of it that overran
_HUNG: dict[tuple[str, str], Call] = {}
#: calls that overran and have not returned since (their threads are still busy)
_OUTSTANDING: set[Call] = set()


#: Told of every call as it starts (``description``, operation, call text): the child
#: process of an isolated check keeps the latest in memory its parent can read, so that
#: a call that freezes the whole process can still be named (see :mod:`~.isolation`).
_call_hook: Callable[[str, str, str], None] | None = None


def set_call_hook(hook: Callable[[str, str, str], None] | None) -> None:
    """Install (or remove, with ``None``) the hook told of every call as it starts."""
    global _call_hook
    _call_hook = hook


def record_hung(description: str, op: str, text: str) -> None:
    """Remember that ``op`` overran on ``description`` (in another process of this run)."""
    with _registry_lock:
        _HUNG.setdefault((description, op), Call(text, op))


def hung_entries() -> list[tuple[str, str, str]]:
    """(description, operation, call text) of every call that overran in this process."""
    with _registry_lock:
        return [(where, op, call.text) for (where, op), call in _HUNG.items()]


def hung_calls() -> list[str]:
    """Every call that overran its time limit in this process (``call on backend``)."""
    with _registry_lock:
        return [f"{call.text} on {where}" for (where, _), call in _HUNG.items()]


def outstanding_calls() -> list[str]:
    """Calls that overran and are still running: the process must not wait for them at exit."""
    with _registry_lock:
        return [call.text for call in _OUTSTANDING]


_ASYNC_NAMES = frozenset(
    {
        "aget_bytes",
        "aget_range",
        "aput_bytes",
        "aexists",
        "aput_if",
        "ahead",
        "adelete",
        "adelete_many",
        "amove_many",
        "adelete_prefix",
        "alist_prefix",
        "aget_many",
        "aput_many",
        "aclose",
    }
)


def _op(name: str) -> str:
    """The operation a method belongs to: ``aget_bytes`` and ``get_bytes`` are one."""
    return name[1:] if name in _ASYNC_NAMES else name


_HINT = (
    "Every backend call must return or raise; if the store is only slow, raise the limit "
    "(check-backend --timeout SECONDS, pytest --zv-timeout SECONDS, or "
    "KitConfig(call_timeout=...))."
)


class Guard:
    """The call log and time limit of one backend under test (shared by its instances)."""

    def __init__(self, description: str, timeout: float) -> None:
        self.description = description
        self.timeout = float(timeout)
        self._log: deque[Call] = deque(maxlen=400)
        self._running: set[Call] = set()
        self._lock = threading.Lock()
        self._quiet = 0
        #: set when the kit stopped waiting for a check using this guard
        self.abandoned = False

    # -- the log ------------------------------------------------------------------------
    def reset_log(self) -> None:
        """Forget the calls so far (a new example starts with a fresh store)."""
        with self._lock:
            self._log.clear()

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        """Leave the calls made inside out of the log (cleanup after a failure)."""
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    def attach(self, exc: BaseException) -> BaseException:
        """Keep the log as it is now on ``exc``: the calls up to the failure, not the cleanup."""
        exc.kit_calls = self.calls()  # type: ignore[attr-defined]
        return exc

    def calls(self, last: int = 30) -> list[str]:
        """The last ``last`` calls since :meth:`reset_log`, oldest first."""
        with self._lock:
            recent = list(self._log)[-last:]
        return [c.render() for c in recent]

    def overdue(self) -> Call | None:
        """The oldest call running for longer than the limit, if any."""
        now = time.monotonic()
        with self._lock:
            late = [c for c in self._running if now - c.started > self.timeout]
        return min(late, key=lambda c: c.started) if late else None

    # -- calls --------------------------------------------------------------------------
    def start(self, name: str, text: str) -> Call:
        """Log the start of a call; refuse it if its operation overran before on this backend."""
        if self.abandoned:
            raise _Abandoned()
        op = _op(name)
        first = _HUNG.get((self.description, op))
        if first is not None:
            self.fail(
                f"{text} on {self.description} was not attempted: {first.text} did not return "
                f"within {self.timeout:g} s earlier in this run, and the kit does not wait "
                f"for {op} on this backend again. " + _HINT
            )
        call = Call(text, op)
        hook = _call_hook
        if hook is not None:
            hook(self.description, op, text)
        with self._lock:
            self._running.add(call)
            if not self._quiet:
                self._log.append(call)
        return call

    def end(self, call: Call, result: Any = None, error: BaseException | None = None) -> None:
        """Log the end of a call."""
        call.outcome = show(error) if error is not None else show(result)
        with self._lock:
            self._running.discard(call)
        with _registry_lock:
            _OUTSTANDING.discard(call)

    def run(self, name: str, text: str, fn: Callable[[], T]) -> T:
        """Call ``fn`` (a blocking backend call) in this thread, logged as ``text``."""
        call = self.start(name, text)
        try:
            result = fn()
        except BaseException as exc:
            self.end(call, error=exc)
            raise
        self.end(call, result)
        return result

    def fail(self, message: str) -> NoReturn:
        """Raise the :class:`KitTimeoutError` for ``message``.

        Every timeout is raised here, outside any ``except`` block: hypothesis tells
        failures apart by where they were raised (and what they were raised while
        handling), and a call refused because of an earlier hang must always count as
        the same failure, or shrinking would report a flaky test.
        """
        raise self.attach(KitTimeoutError(message))

    def trip(self, call: Call) -> KitTimeoutError:
        """``call`` overran: remember it, abandon this guard, and make the error to report."""
        with _registry_lock:
            _HUNG.setdefault((self.description, call.op), call)
            _OUTSTANDING.add(call)
        self.abandoned = True
        error = KitTimeoutError(
            f"{call.text} on {self.description} did not return within {self.timeout:g} s. " + _HINT
        )
        self.attach(error)
        return error


# -- running a check on a thread of its own ---------------------------------------------------
def watch(guard_of: Callable[[], Guard], fn: Callable[[], T], *, renew: Callable[[], None]) -> T:
    """Run ``fn`` on a daemon thread and return its result, failing a call that overruns.

    ``guard_of()`` is the guard the calls of ``fn`` go through. When one of them
    runs longer than its limit, the guard is abandoned, ``renew()`` gives the
    target a fresh one, and :class:`KitTimeoutError` is raised here while ``fn``
    is left behind.
    """
    guard = guard_of()
    done = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = fn()
        except _Abandoned:
            pass
        except BaseException as exc:
            box["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=run, name="zv-kit-check", daemon=True)
    thread.start()
    try:
        while not done.wait(POLL):
            late = guard.overdue()
            if late is not None:
                error = guard.trip(late)
                renew()
                raise error
    except BaseException:  # interrupted (Ctrl-C): the check stops at its next call
        if not done.is_set() and not guard.abandoned:
            guard.abandoned = True
            renew()
        raise
    if "error" in box:
        raise box["error"]
    return cast(T, box.get("result"))
