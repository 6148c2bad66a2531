"""Each check in a child process the kit can end: stuck C code, crashes, and shrinking time.

The time limit of :mod:`~.guard` watches calls from a thread of the checking
process. That fails when a backend call blocks inside C code while holding
Python's GIL (a native library waiting on a lock without releasing it): no
other thread of the process runs again, the watcher included, and the run
froze until something outside killed it. A crash of native code (a segfault)
ended the whole run.

So a check runs in a child process (:func:`run_in_child`). The child sends a
heartbeat every :data:`BEAT` seconds from a thread of its own, and writes each
backend call it starts into memory shared with the parent. When the heartbeats
stop for longer than the call time limit, the GIL is held: the parent kills the
child and fails the check naming the call it was making. A child that dies
without reporting fails the check with its exit status. A child can also be
given a deadline of its own, which bounds the search for a minimal example
(see :func:`~.runner.run_check`).

The child is started with ``forkserver`` when the target can be pickled
(:meth:`KitTarget.from_name` targets can), so that it does not inherit threads
of native libraries (obstore's runtime does not survive a fork), and forked
otherwise. Where neither exists (Windows), checks run in the kit's process.
Either way the modules the checks import are imported before the fork, in the
forkserver or in the kit's process (:func:`~.checks.preload`): importing them in
every child cost about a second of CPU per check, more than most checks take.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import multiprocessing
import os
import pickle
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any

from zarr_vectors.exceptions import ConformanceError
from zarr_vectors.testing.config import KitConfig
from zarr_vectors.testing.guard import KitTimeoutError, hung_entries, record_hung, set_call_hook
from zarr_vectors.testing.target import KitTarget

__all__ = ["BEAT", "Attempt", "can_isolate", "run_here", "run_in_child"]

#: Seconds between the child's heartbeats.
BEAT = 0.2
#: Seconds of silence beyond the call time limit before a child counts as frozen (a
#: loaded machine can delay a heartbeat thread for a moment).
GRACE = 5.0
#: Seconds a child may take to start and send its first heartbeat.
STARTUP = 120.0
#: Bytes of shared memory naming the call a child started last.
_CALL_BYTES = 2048
_HINT = (
    "If the storage is only slow, raise the limit (check-backend --timeout SECONDS, pytest "
    "--zv-timeout SECONDS, or KitConfig(call_timeout=...))."
)


@dataclass
class Attempt:
    """How one run of a check ended (in this process or in a child)."""

    status: str  # "passed", "failed", "skipped", "deadline"
    error: BaseException | None = None
    message: str = ""
    printed: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    #: the target's example counter afterwards (isolated targets move on to new prefixes)
    example: int = 0


def can_isolate() -> bool:
    """Whether child processes can be started the way the kit needs (fork or forkserver)."""
    return "fork" in multiprocessing.get_all_start_methods()


def run_here(
    name: str, target: KitTarget, config: KitConfig, progress: Callable[[], None]
) -> Attempt:
    """Run check ``name`` in this process (the guard's watcher keeps the time limit)."""
    from hypothesis.reporting import with_reporter

    from zarr_vectors.testing.checks import check_function
    from zarr_vectors.testing.common import CheckSkipped
    from zarr_vectors.testing.ticks import counting_examples

    printed: list[str] = []

    def body() -> None:
        with with_reporter(lambda value: printed.append(str(value))), counting_examples(progress):
            check_function(name)(target, config)

    try:
        target.watched(body)
    except CheckSkipped as exc:
        return Attempt("skipped", message=str(exc), example=target.example_count)
    except Exception as exc:
        calls = list(getattr(exc, "kit_calls", None) or target.guard.calls())
        return Attempt("failed", exc, printed=printed, calls=calls, example=target.example_count)
    return Attempt("passed", printed=printed, example=target.example_count)


# -- the child ------------------------------------------------------------------------------
def _child(
    name: str,
    target: KitTarget,
    config: KitConfig,
    hung: list[tuple[str, str, str]],
    conn: Any,
    shared: Any,
) -> None:
    """Entry point of the child: run the check, heartbeat meanwhile, send the outcome."""
    lock = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        with lock:
            conn.send(message)

    def record(description: str, op: str, text: str) -> None:
        data = "\t".join((description, op, text)).encode("utf-8", "replace")[: _CALL_BYTES - 1]
        shared[: len(data) + 1] = data + b"\0"

    def beat() -> None:
        while True:
            time.sleep(BEAT)
            send(("beat",))

    status = 0
    try:
        for entry in hung:
            record_hung(*entry)
        set_call_hook(record)
        threading.Thread(target=beat, name="zv-kit-heartbeat", daemon=True).start()
        count = 0

        def progress() -> None:
            nonlocal count
            count += 1
            send(("tick", count))

        attempt = run_here(name, target, config, progress)
        attempt.error = _portable(attempt.error)
        send(("done", attempt, hung_entries()))
    except BaseException:
        status = 1
        import traceback

        sys.stderr.write(f"zarr-vectors kit: the child running {name} failed:\n")
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)  # stuck threads of the check must not keep the child alive


def _portable(error: BaseException | None) -> BaseException | None:
    """``error`` if it survives pickling (its type and message kept), else a stand-in."""
    if error is None:
        return None
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        stand_in = ConformanceError(f"{type(error).__name__}: {error}")
        stand_in.__notes__ = [str(n) for n in getattr(error, "__notes__", [])]
        return stand_in
    return error


# -- the parent -----------------------------------------------------------------------------
def _context(target: KitTarget, name: str) -> Any:
    """How to start the child of check ``name``; what it imports is imported beforehand
    in the process it is started from (once, instead of in every child)."""
    from zarr_vectors.testing.checks import check_modules, preload

    try:
        pickle.dumps(target)
    except Exception:
        preload([name])
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["zarr_vectors.testing.runner", "hypothesis", *check_modules()])
    return context


@contextlib.contextmanager
def _main_not_rerun() -> Iterator[None]:
    """Keep a new ``forkserver`` child from running the main script again.

    multiprocessing prepares such a child by importing the parent's main module
    from its path (a script without an ``if __name__ == "__main__"`` guard would
    start the kit once more). A main module whose spec is named ``__main__`` is
    left alone; the kit's child needs nothing from it (its target is pickled).
    """
    main = sys.modules.get("__main__")
    if main is None or getattr(getattr(main, "__spec__", None), "name", None) is not None:
        yield
        return
    saved = main.__spec__
    main.__spec__ = importlib.machinery.ModuleSpec("__main__", None)
    try:
        yield
    finally:
        main.__spec__ = saved


def _last_call(shared: Any) -> tuple[str, str, str] | None:
    raw = bytes(shared[:]).split(b"\0", 1)[0].decode("utf-8", "replace")
    parts = raw.split("\t", 2)
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else None


def run_in_child(
    name: str,
    target: KitTarget,
    config: KitConfig,
    progress: Callable[[], None],
    deadline: float | None = None,
) -> Attempt:
    """Run check ``name`` in a child process and return how it ended.

    ``deadline`` (seconds): stop the child after that long and return a
    ``"deadline"`` attempt. The GIL watchdog fails the check when the child
    sends nothing for :attr:`KitConfig.call_timeout` (plus :data:`GRACE`) seconds.
    """
    context = _context(target, name)
    reader, writer = context.Pipe(duplex=False)
    shared = context.RawArray("c", _CALL_BYTES)
    sys.stdout.flush()
    sys.stderr.flush()
    child = context.Process(
        target=_child,
        args=(name, target, config, hung_entries(), writer, shared),
        name=f"zv-kit-{name}",
        daemon=False,  # it may start processes of its own (two-processes); killed below
    )
    with _main_not_rerun():
        child.start()
    writer.close()
    started = last = time.monotonic()
    heard = False  # the first heartbeat arrived (the child is up)
    try:
        while True:
            ready = wait([reader, child.sentinel], timeout=BEAT)
            now = time.monotonic()
            if reader in ready:
                try:
                    message = reader.recv()
                except EOFError:
                    return _died(child, target, shared)
                last, heard = now, True
                if message[0] == "tick":
                    progress()
                elif message[0] == "done":
                    attempt: Attempt = message[1]
                    for entry in message[2]:
                        record_hung(*entry)
                    target.example_count = attempt.example
                    return attempt
            elif child.sentinel in ready and not reader.poll():
                return _died(child, target, shared)
            elif now - last > (config.call_timeout + GRACE if heard else STARTUP):
                return _frozen(child, target, config, shared, now - last)
            # Checked whether or not a message came: a busy child sends one (a heartbeat
            # or a tick) more often than every BEAT seconds.
            if deadline is not None and now - started > deadline:
                return Attempt("deadline", message=f"stopped after {deadline:.0f} s")
    finally:
        if child.is_alive():
            child.kill()
        child.join(10)
        reader.close()


def _frozen(
    child: Any, target: KitTarget, config: KitConfig, shared: Any, silent: float
) -> Attempt:
    """The child stopped answering: a call holds the GIL. End it; name the call."""
    child.kill()
    last = _last_call(shared)
    if last is not None:
        where, op, text = last
        record_hung(where, op, text)
        what = f"{text} on {where}"
    else:
        what = "a backend call"
    error = KitTimeoutError(
        f"{what} did not return within {config.call_timeout:g} s, and the check's whole "
        f"process stopped answering ({silent:.0f} s without a heartbeat): the call holds "
        "Python's GIL, stuck in C code that does not release it while it waits. The kit "
        f"ended that process. Release the GIL around blocking calls of the storage. {_HINT}"
    )
    return Attempt("failed", error, calls=[f"{what} -> (never returned)"])


def _died(child: Any, target: KitTarget, shared: Any) -> Attempt:
    """The child ended without reporting: a crash of native code, or killed from outside."""
    child.join(10)
    code = child.exitcode
    how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited ({code})"
    last = _last_call(shared)
    during = f" during {last[2]} on {last[0]}" if last is not None else ""
    error = ConformanceError(
        f"The process running this check {how}{during} before it reported: a crash in "
        f"the backend's native code, or the process ran out of memory ({target.description})."
    )
    return Attempt("failed", error, calls=[f"{last[2]} -> (process ended)"] if last else [])
