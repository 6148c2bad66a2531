"""Two backend instances of one URL, working at once: in one thread, in threads, in tasks,
and in two processes.

zarr-vectors opens a store more than once at a time: ``write_points`` holds one
instance while the lease and the journal open their own, ``read_points`` runs
beside a writer, Dask workers and other processes open the same URL. A backend
that keeps a per-instance lock on a shared file, caches what it listed, or
holds an exclusive handle deadlocks or goes stale there, while every check on
a single instance passes. :func:`check_two_instances` interleaves two
instances call by call, then runs them at once in threads and in tasks;
:func:`check_two_processes` does it from two processes (skipped for in-process
stores such as ``memory://``).
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import pickle
import queue
import threading
import time
import zlib
from typing import Any

from zarr_vectors.testing.common import CheckSkipped, close_driver, kit_error
from zarr_vectors.testing.config import KitConfig
from zarr_vectors.testing.drivers import AsyncDriver, Driver, SyncDriver
from zarr_vectors.testing.guard import KitTimeoutError, hung_entries, record_hung, run_coroutine
from zarr_vectors.testing.show import show, show_keys
from zarr_vectors.testing.strategies import value_of
from zarr_vectors.testing.target import KitTarget, close_quietly
from zarr_vectors.testing.ticks import tick

__all__ = ["check_two_instances", "check_two_processes"]

#: Objects each instance (thread, task, process) writes.
_EACH = 24


def _keys(name: str) -> dict[str, bytes]:
    seed = zlib.crc32(name.encode())  # the same in every process (hash() is salted)
    return {f"shared/{name}/{i:03d}": value_of(50 + i, seed + i) for i in range(_EACH)}


def _must_see(target: KitTarget, who: str, found: dict[str, bytes], want: dict[str, bytes]) -> None:
    wrong = [k for k in want if found.get(k) != want[k]]
    if wrong:
        raise kit_error(
            target,
            f"{who} on {target.description} did not read what another instance of the same "
            f"URL wrote: {len(wrong)} of {len(want)} keys missing or different, e.g. "
            f"{show_keys(wrong)}. Two instances of one URL are one store: a write through "
            "one is seen by the next read through the other.",
        )


def _interleaved(target: KitTarget, one: Driver, two: Driver) -> None:
    """Call by call, alternating instances: each sees the other's writes at once."""
    mode = one.name
    one.put("shared/a", b"from one")
    got: Any
    try:
        got = two.get("shared/a")
    except KeyError as exc:
        got = exc
    if got != b"from one":
        raise kit_error(
            target,
            f"[{mode}] get_bytes('shared/a') on a second instance of {target.description} "
            f"returned {show(got)} right after the first instance stored b'from one' there.",
        )
    two.put("shared/b", b"from two")
    found = one.get_many(["shared/b"])
    _must_see(
        target, f"[{mode}] get_many through the first instance", found, {"shared/b": b"from two"}
    )
    one.delete("shared/b")
    if two.exists("shared/b"):
        raise kit_error(
            target,
            f"[{mode}] exists('shared/b') on a second instance of {target.description} is "
            "True after the first instance deleted it.",
        )
    listed = two.ls("shared/", True)
    if listed != ["shared/a"]:
        raise kit_error(
            target,
            f"[{mode}] list_prefix('shared/', recursive=True) on a second instance of "
            f"{target.description} returned {show_keys(listed)}, expected ['shared/a'] "
            "(written by one instance; 'shared/b' was deleted by it).",
        )


def _threads(target: KitTarget, one: Any, two: Any) -> None:
    """Each instance writes its keys on a thread of its own, then reads the other's."""
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    seen: dict[str, dict[str, bytes]] = {}
    names = {"t1": one, "t2": two}

    def work(name: str, backend: Any) -> None:
        try:
            mine = _keys(name)
            for key, value in mine.items():
                backend.put_bytes(key, value)
            barrier.wait(target.guard.timeout)
            other = "t2" if name == "t1" else "t1"
            seen[name] = {k: bytes(v) for k, v in backend.get_many(list(_keys(other))).items()}
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=work, args=item, daemon=True) for item in names.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    _must_see(target, "[threads] get_many through instance t1", seen["t1"], _keys("t2"))
    _must_see(target, "[threads] get_many through instance t2", seen["t2"], _keys("t1"))


async def _tasks(target: KitTarget, one: Any, two: Any) -> None:
    """Both instances write at once in one event loop, then each reads the other's keys."""

    async def write(backend: Any, name: str) -> None:
        await asyncio.gather(*(backend.aput_bytes(k, v) for k, v in _keys(name).items()))

    await asyncio.gather(write(one, "a1"), write(two, "a2"))
    found_one, found_two = await asyncio.gather(
        one.aget_many(list(_keys("a2"))), two.aget_many(list(_keys("a1")))
    )
    _must_see(target, "[async] aget_many through instance a1", dict(found_one), _keys("a2"))
    _must_see(target, "[async] aget_many through instance a2", dict(found_two), _keys("a1"))


def check_two_instances(target: KitTarget, config: KitConfig) -> None:
    """Two instances of one URL: interleaved (sync and async), in threads, in tasks."""
    for driver_class in (SyncDriver, AsyncDriver):
        tick()
        first = target.fresh()
        second = target.current()
        one, two = driver_class(first), driver_class(second)
        try:
            _interleaved(target, one, two)
        finally:
            close_driver(target, two, second)
            close_driver(target, one, first)
    tick()
    first = target.fresh()
    second = target.current()
    try:
        _threads(target, first, second)
        run_coroutine(lambda: _tasks(target, first, second))
    finally:
        close_quietly(second)
        close_quietly(first)


# -- two processes ----------------------------------------------------------------------------
def in_process_store(target: KitTarget) -> bool:
    """Whether the target's objects live in this process only (``memory://``)."""
    from zarr_vectors.storage import url_scheme

    return target.in_process or url_scheme(target.url) == "memory"


def process_context(target: KitTarget) -> Any:
    """forkserver when the target can be sent to a new process, else fork."""
    try:
        pickle.dumps(target)
    except Exception:
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    # the workers run this module: imported once where they are forked from, not in each
    context.set_forkserver_preload([__name__])
    return context


def _process_work(
    target: KitTarget, name: str, other: str, hung: list[tuple[str, str, str]], go: Any, out: Any
) -> None:
    """In a child process: write this process's keys, wait, read the other's; report.

    Its calls have the kit's time limit: one that overruns is reported as a timeout
    when it does (not when the parent gives up), and an operation that overran earlier
    in the run (``hung``) is not attempted again.
    """
    for entry in hung:
        record_hung(*entry)
    try:
        target.watched(lambda: _write_then_read(target, name, other, go, out))
    except KitTimeoutError as exc:
        out.put(("timeout", name, (str(exc), hung_entries())))
    except BaseException as exc:
        out.put(("error", name, show(exc)))


def _write_then_read(target: KitTarget, name: str, other: str, go: Any, out: Any) -> None:
    backend = target.current()
    try:
        for key, value in _keys(name).items():
            backend.put_bytes(key, value)
        out.put(("written", name, None))
        if not go.wait(target.guard.timeout * 4):
            out.put(("error", name, "the other process never finished writing"))
            return
        found = {k: bytes(v) for k, v in backend.get_many(list(_keys(other))).items()}
        out.put(("read", name, found))
    finally:
        close_quietly(backend)


def _await(out: Any, workers: dict[str, Any], waiting: set[str], limit: float) -> list[Any]:
    """One report from each worker named in ``waiting``, until all came, one is a failure,
    or ``limit`` seconds passed; those that sent none are left in ``waiting``. A worker
    that ended without a word is reported as ``("died", name, exit code)`` at once."""
    reports: list[Any] = []
    deadline = time.monotonic() + limit
    while waiting and time.monotonic() < deadline:
        try:
            report = out.get(timeout=0.2)
        except queue.Empty:
            dead = [n for n in sorted(waiting) if workers[n].exitcode is not None]
            if dead and out.empty():
                reports.append(("died", dead[0], workers[dead[0]].exitcode))
                waiting.discard(dead[0])
                break
            continue
        reports.append(report)
        waiting.discard(report[1])
        if report[0] not in ("written", "read"):
            break
    return reports


def check_two_processes(target: KitTarget, config: KitConfig) -> None:
    """Two processes open the URL, write at once, and each reads what the other wrote."""
    if in_process_store(target):
        raise CheckSkipped(
            f"{target.description} keeps its objects in this process (memory); another "
            "process cannot see them"
        )
    tick()
    close_quietly(target.fresh())
    context = process_context(target)
    go, out = context.Event(), context.Queue()
    workers = {
        a: context.Process(
            target=_process_work, args=(target, a, b, hung_entries(), go, out), daemon=True
        )
        for a, b in (("p1", "p2"), ("p2", "p1"))
    }
    # Starting a process may take a while on a loaded machine; the calls then have the
    # kit's time limit in the workers (twice here: a worker's puts, or its get_many, are
    # several calls). These limits only catch what the workers cannot report themselves.
    limits = (target.guard.timeout * 2 + 60, target.guard.timeout * 2 + 5)
    for worker in workers.values():
        worker.start()
    waiting = set(workers)
    phase = "starting and writing"
    reports: list[Any] = []
    try:
        reports = _await(out, workers, waiting, limits[0])
        if not waiting and all(kind == "written" for kind, _, _ in reports):
            go.set()
            waiting, phase = set(workers), "reading"
            reports += _await(out, workers, waiting, limits[1])
    finally:
        # a worker that reported a timeout has a call still stuck: it is killed too
        _end(workers, {name for kind, name, _ in reports if kind in ("read", "error")})
        out.close()
        del go, out
        gc.collect()  # their semaphores are released now, not left to the resource tracker
    _judge(target, reports, waiting, phase, limits[0] if phase != "reading" else limits[1])


def _end(workers: dict[str, Any], done: set[str]) -> None:
    """Let the workers in ``done`` (they sent their last report) exit; kill the others at
    once (they are stuck, or wait for a go that will not come)."""
    for name, worker in workers.items():
        if name in done:
            worker.join(5)
        if worker.is_alive():
            worker.kill()
        worker.join(5)


def _judge(
    target: KitTarget, reports: list[Any], silent: set[str], phase: str, limit: float
) -> None:
    """Raise for the first failure the workers reported (or for their silence)."""
    for kind, name, detail in reports:
        if kind == "timeout":
            message, hung = detail
            for entry in hung:
                record_hung(*entry)
            error = KitTimeoutError(
                f"Process {name}, one of two using {target.description} at once: {message}"
            )
            raise target.guard.attach(error)
        if kind == "error":
            raise kit_error(
                target,
                f"Process {name}, one of two using {target.description} at once, failed: {detail}.",
            )
        if kind == "died":
            raise kit_error(
                target,
                f"Process {name}, one of two using {target.description} at once, ended "
                f"(exit code {detail}) without reporting: a crash in the backend's native code?",
            )
    if silent:
        raise target.guard.attach(
            KitTimeoutError(
                f"Two processes using {target.description} at once did not finish: "
                f"{' and '.join(sorted(silent))} sent nothing for {limit:g} s while {phase} "
                "(a call that never returned and holds Python's GIL, or a lock one process "
                "holds blocks the other); the kit ended them."
            )
        )
    for kind, name, found in reports:
        if kind == "read":
            other = "p2" if name == "p1" else "p1"
            _must_see(target, f"[processes] get_many in process {name}", found, _keys(other))
    backend = target.current()
    try:
        both = {**_keys("p1"), **_keys("p2")}
        found = {k: bytes(v) for k, v in backend.get_many(list(both)).items()}
        _must_see(target, "[processes] get_many in the kit's process", found, both)
    finally:
        close_quietly(backend)
