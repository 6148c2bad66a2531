"""Worker processes for the data-safety tests (concurrent writers, crashes, snapshots).

The tests in ``test_concurrent_writers.py``, ``test_crash_safety.py`` and the
snapshot tests need *real* processes: a lease held by a thread of the test
process proves nothing about two interpreters racing for one store, and only a
separate process can be killed with SIGKILL at an arbitrary instant. Each
command here is run as ``python -m tests.helpers.safety_workers COMMAND JOB_JSON`` from
the repository root and talks to its parent in JSON lines on stdout (flushed
line by line, so a parent can react to ``ready`` before the work starts).

Points are tagged so that any loss, duplication or misalignment shows: every
point has a unique int64 ``id``; its position and its second attribute
``half`` (= id * 0.5) are functions of the id (:func:`positions_of`,
:func:`half_of`), so a row whose position, id and ``half`` disagree was torn
apart by a write.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

#: Every store in these tests has these bounds and this chunk shape.
BOUNDS = ((0.0, 0.0, 0.0), (1000.0, 1000.0, 1000.0))
CHUNK = (250.0, 250.0, 250.0)
#: Ids of one (worker, batch) pair occupy a block of this many.
BLOCK = 100_000


def batch_ids(worker: int, batch: int, n: int) -> npt.NDArray[np.int64]:
    """The ids of batch ``batch`` of ``worker``: unique across every (worker, batch)."""
    if n > BLOCK:
        raise ValueError(f"at most {BLOCK} points per batch")
    start = (worker * 1000 + batch) * BLOCK
    return np.arange(start, start + n, dtype=np.int64)


def positions_of(ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
    """A position per id, spread over the cube, exact in float32 (so it can be recomputed)."""
    ids = np.asarray(ids, dtype=np.int64)
    cols = [(ids * k + ids // 7) % 1000 for k in (37, 101, 211)]
    return (np.stack(cols, axis=1) + 0.25).astype(np.float32)


def half_of(ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """The second attribute of each point: id / 2 (exact in float64)."""
    return np.asarray(ids, dtype=np.int64).astype(np.float64) * 0.5


def tagged(ids: npt.NDArray[np.int64]) -> tuple[npt.NDArray[Any], dict[str, npt.NDArray[Any]]]:
    """Positions and attributes of the points with these ids."""
    ids = np.asarray(ids, dtype=np.int64)
    return positions_of(ids), {"id": ids, "half": half_of(ids)}


def id_digest(ids: npt.NDArray[Any]) -> str:
    """A digest of a multiset of ids (order-free): equal digests, equal point sets."""
    return hashlib.sha1(np.sort(np.asarray(ids, dtype=np.int64)).tobytes()).hexdigest()


def emit(**fields: Any) -> None:
    """One JSON line to the parent, flushed at once."""
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def _error(exc: BaseException) -> dict[str, Any]:
    return {"error": type(exc).__module__ + "." + type(exc).__qualname__, "message": str(exc)}


def cmd_appends(job: dict[str, Any]) -> int:
    """``count`` appends of ``points`` tagged points each, reported one line per append."""
    from zarr_vectors.types.points import write_points

    worker, count, n = int(job["worker"]), int(job["count"]), int(job["points"])
    options = dict(job.get("options") or {})
    batches = [tagged(batch_ids(worker, b, n)) for b in range(count)]
    emit(event="ready", pid=os.getpid())
    go = job.get("go")
    while go and not Path(go).exists():  # start together with the other workers
        time.sleep(0.01)
    for b, (pos, attrs) in enumerate(batches):
        try:
            write_points(
                job["url"],
                pos,
                vertex_attributes=attrs,
                mode="a",
                chunk_shape=job.get("chunk_shape"),
                bounds=job.get("bounds"),
                lock_timeout=float(job.get("lock_timeout", 300)),
                **options,
            )
        except Exception as exc:
            emit(event="append", worker=worker, batch=b, ok=False, **_error(exc))
        else:
            emit(event="append", worker=worker, batch=b, ok=True)
    emit(event="done")
    return 0


def cmd_write(job: dict[str, Any]) -> int:
    """One write (``mode`` "w" or "a") of the ids ``start .. start + n``.

    Prints ``ready`` once imports and data are done (the parent times the kill
    from there), ``phase`` lines as chunk objects are written, and ``done`` with
    the time the write took.
    """
    from zarr_vectors.types.points import write_points

    ids = np.arange(int(job["start"]), int(job["start"]) + int(job["n"]), dtype=np.int64)
    pos, attrs = tagged(ids)
    if not job.get("attributes", True):
        attrs = {}
    options = dict(job.get("options") or {})
    if "consolidate" in job:
        options["consolidate"] = bool(job["consolidate"])
    cs = job.get("chunk_shape") or CHUNK
    emit(event="ready", pid=os.getpid())
    t0 = time.perf_counter()
    last = [-1.0]

    stall = job.get("stall_at")

    def progress(done: int, total: int) -> None:
        # A line per tenth of the chunk objects: the parent can kill at a phase too.
        nonlocal stall
        frac = done / total if total else 1.0
        if frac - last[0] >= 0.1 or done == total:
            last[0] = frac
            emit(event="phase", done=done, total=total, t=time.perf_counter() - t0)
        if stall is not None and frac >= float(stall):
            # Stop this whole process here, between two batches of cell objects (the
            # parent resumes it with SIGCONT): a stall at a known step.
            stall = None
            emit(event="stalled", done=done, total=total)
            os.kill(os.getpid(), signal.SIGSTOP)

    store: Any = job["url"]
    if job.get("stall_in_put"):
        store = stalling_local_backend(job["url"])
    write_points(
        store,
        pos,
        vertex_attributes=attrs,
        mode=job["mode"],
        chunk_shape=None if job["mode"] == "a" else cs,
        bounds=None if job["mode"] == "a" else BOUNDS,
        progress=progress,
        lock_timeout=float(job.get("lock_timeout", 300)),
        **options,
    )
    emit(event="done", seconds=time.perf_counter() - t0)
    return 0


def stalling_local_backend(url: str) -> Any:
    """The local backend, except that the process stops itself (SIGSTOP) half way through
    the first batch of puts or moves to the store's own objects (cells and node documents;
    not the root, not ``.zv-`` bookkeeping such as a staged copy).

    For an append that is its first batch of cells; for a replace, the first batch
    moved into place after its commit. A stall *inside* a batch, at a known point:
    the parent takes the store over meanwhile, then lets the rest of the batch run.
    """
    from zarr_vectors.storage.local import LocalBackend

    class StallingLocalBackend(LocalBackend):
        armed = True

        def _stall_half_way(self, batch: list[Any], live: bool, run: Any) -> None:
            """``run`` the batch, stopping the process after its first half (once)."""
            if not (self.armed and live):
                run(batch)
                return
            self.armed = False
            half = len(batch) // 2
            run(batch[:half])
            emit(event="stalled", written=half, of=len(batch))
            os.kill(os.getpid(), signal.SIGSTOP)
            run(batch[half:])

        def _put_many(self, items: list[tuple[str, bytes]]) -> None:
            live = any(k != "zarr.json" and not k.startswith(".zv-") for k, _ in items)
            self._stall_half_way(items, live, super()._put_many)

        def _move_many(self, pairs: list[tuple[str, str]]) -> None:
            # A replace's move into place (a rename per object since move_many).
            live = any(d != "zarr.json" and not d.startswith(".zv-") for _, d in pairs)
            self._stall_half_way(pairs, live, super()._move_many)

    return StallingLocalBackend(url)


def cmd_reader(job: dict[str, Any]) -> int:
    """``read_points`` again and again until the file ``stop`` exists, then once more.

    Each line has the point count, whether every row is whole (position and
    ``half`` agree with the id) and :func:`id_digest` of the ids, or the error a
    read raised.
    """
    from zarr_vectors.types.points import read_points

    options = dict(job.get("options") or {})
    stop = Path(job["stop"])
    emit(event="ready", pid=os.getpid())
    reads = after_stop = 0
    while True:
        # The last read starts after ``stop`` appeared: it sees what was committed by then.
        stopping = stop.exists()
        if stopping and after_stop and reads >= int(job.get("min_reads", 1)):
            break
        reads += 1
        after_stop += stopping
        try:
            pc = read_points(job["url"], **options)
        except Exception as exc:
            emit(event="read", ok=False, **_error(exc))
            continue
        ids = pc.vertex_attributes.get("id", np.empty(0, np.int64))
        whole = bool(
            len(ids) == len(pc.positions)
            and np.array_equal(pc.positions, positions_of(ids))
            and np.array_equal(pc.vertex_attributes.get("half"), half_of(ids))
        )
        emit(event="read", ok=True, count=len(pc.positions), whole=whole, ids=id_digest(ids))
    emit(event="done", reads=reads)
    return 0


COMMANDS = {"appends": cmd_appends, "write": cmd_write, "reader": cmd_reader}


# -- the parent's side ---------------------------------------------------------------------
REPO = Path(__file__).resolve().parents[2]


def s3_options(server: Any) -> dict[str, Any]:
    """Options reaching the S3 test server through the obstore backend (named explicitly)."""
    return {
        "backend": "obstore",
        "endpoint": server.endpoint,
        "access_key_id": server.access_key,
        "secret_access_key": server.secret_key,
        "region": server.region,
    }


class Worker:
    """A worker process and the JSON lines it printed (read by a thread, so never blocking).

    stderr goes to a file beside the test's other files, shown when the worker failed.
    """

    #: Every worker started in this process, so a failed test can end the ones it left.
    started: ClassVar[list[Worker]] = []

    @classmethod
    def end_all(cls) -> None:
        """SIGKILL every worker still running (after a test, whatever its outcome)."""
        while cls.started:
            worker = cls.started.pop()
            if worker.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.proc.send_signal(signal.SIGCONT)  # a stopped one, too
                worker.kill()
            worker._stderr.close()

    def __init__(self, command: str, job: dict[str, Any], stderr: Path) -> None:
        env = {**os.environ, "PYTHONFAULTHANDLER": "1"}
        self.stderr_path = stderr
        self._stderr = open(stderr, "w")  # noqa: SIM115  (closed in finish/kill)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.safety_workers", command, json.dumps(job)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self.events: list[dict[str, Any]] = []
        self._ended = False
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()
        Worker.started.append(self)

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip():
                self._queue.put(json.loads(line))
        self._queue.put(None)

    def next_event(self, timeout: float = 300.0) -> dict[str, Any] | None:
        """The next line (``None`` once the worker's stdout closed)."""
        if self._ended:
            return None
        try:
            event = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"worker {self.proc.pid} said nothing for {timeout:g} s") from None
        if event is None:
            self._ended = True
        else:
            self.events.append(event)
        return event

    def wait_for(self, event: str, timeout: float = 300.0) -> dict[str, Any]:
        """Read lines until one of kind ``event`` arrives."""
        while True:
            got = self.next_event(timeout)
            if got is None:
                raise AssertionError(
                    f"worker ended before {event!r}: {self.events[-3:]}\n{self.stderr()}"
                )
            if got.get("event") == event:
                return got

    def finish(self, timeout: float = 900.0) -> list[dict[str, Any]]:
        """Wait for the worker to exit 0; every line it printed."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"worker did not finish in {timeout:g} s") from None
        self._thread.join(timeout=60)
        while self.next_event(timeout=1) is not None:
            pass
        self._stderr.close()
        assert code == 0, f"worker exited with {code}:\n{self.stderr()}"
        return self.events

    def pause(self) -> None:
        """SIGSTOP: every thread of the worker stands still (a VM pause, a swap storm)."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def exit_code(self, timeout: float = 900.0) -> int:
        """Wait for the worker to end however it ends; its exit code."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"worker did not finish in {timeout:g} s") from None
        self._thread.join(timeout=60)
        while self.next_event(timeout=1) is not None:
            pass
        self._stderr.close()
        return code

    def kill(self) -> None:
        """SIGKILL: no handler, no clean-up, no flush; the store is left as it was."""
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)
        self._thread.join(timeout=60)
        self._stderr.close()

    def stderr(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text()[-4000:]


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in COMMANDS:
        sys.stderr.write(
            f"usage: python -m tests.helpers.safety_workers {{{','.join(COMMANDS)}}} JOB\n"
        )
        return 2
    return COMMANDS[argv[0]](json.loads(argv[1]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
