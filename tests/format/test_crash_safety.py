"""Writers killed with SIGKILL at any moment leave a store that reads whole (issue 9).

A writer process (``tests/helpers/safety_workers.py``) replaces or appends to a store
and is killed with SIGKILL at a moment spread over the length of a typical
write (measured first, per backend: the kill delays cover 0 .. 1.3 x that
time, stratified, so every phase is hit: taking the lease, writing the staged
store, the commit, moving it into place, the final root). Then:

* the store reads back as exactly the old data or exactly the new data
  (a replace), or exactly the old or the old plus the new (an append), compared
  as sets of rows (id, position, attribute): never an error, never a mix;
* a write that reported it was done before the kill is the one read back;
* the next write succeeds (after the dead writer's lease expires, 3 s in the
  tests) and repairs the store: it then holds exactly what that write wrote,
  with no staged or orphaned objects left beside it.

Also: a reader process reading again and again while a killed writer's
journal (a replace in its "writing" state, or an append) sits in the root and
the next writer repairs and writes, sees only whole committed states; and a
killed *first* write of a store reads as "did not finish", not as an empty or
foreign store.

Locally: 20 replace kills and 6 append kills; on the S3 test server
(SeaweedFS via obstore): 5 and 2. Besides the timed kills, a replace is killed
exactly after its commit point (the root says "moving"), which must read as
the new store: timed kills reach that side of the commit only by chance.

Last, writers that stall (SIGSTOP) past their lease and are then resumed: one
stalled between two batches of cells, or inside a batch of puts or moves, must
stop without writing more (every write checks the lease first:
``Backend.write_fence``).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers.leases import let_lease_run_out
from tests.helpers.safety_workers import (
    BOUNDS,
    Worker,
    batch_ids,
    half_of,
    id_digest,
    positions_of,
    s3_options,
    tagged,
)
from zarr_vectors.exceptions import StoreError
from zarr_vectors.storage import make_backend
from zarr_vectors.types.points import read_points, write_points

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("short_lease")]

#: The old store's points and the ones a killed writer writes (different chunk shapes,
#: so a cell of one is never mistaken for a cell of the other).
OLD_CHUNK = (250.0, 250.0, 250.0)
NEW_CHUNK = (200.0, 200.0, 200.0)
#: Random kill instants, stratified over the write's time. Each phase a kill can land in
#: (writing cells, the journal's pending states, moving, after the commit point) also has a
#: deterministic kill below (kill_when_journal), so these runs sample the instants between
#: phases: 8 slices of a replace's time, each a fresh process, killed once.
LOCAL_REPLACE_RUNS = 8
LOCAL_APPEND_RUNS = 4
S3_REPLACE_RUNS = 3
S3_APPEND_RUNS = 2
#: Kill delays cover this multiple of a typical write's time (some land after it ended).
SPREAD = 1.3
#: A stalled writer's next writer waits out its 15 s lease (short_lease); leave it plenty.
LOCK_TIMEOUT = 300.0


@pytest.fixture(autouse=True)
def _end_workers() -> Iterator[None]:
    """No worker process outlives its test, even one that failed half way."""
    yield
    Worker.end_all()


@dataclass(frozen=True)
class Sizes:
    old: int
    new: int


LOCAL = Sizes(old=4000, new=6000)
S3 = Sizes(old=3000, new=5000)


def old_ids(sizes: Sizes) -> np.ndarray:
    return batch_ids(1, 0, sizes.old)


def new_ids(sizes: Sizes) -> np.ndarray:
    return batch_ids(2, 0, sizes.new)


def next_ids() -> np.ndarray:
    return batch_ids(3, 0, 3000)


def write_old(url: str, options: dict[str, Any], sizes: Sizes, mode: str = "w") -> np.ndarray:
    """The store a killed writer meets. For a killed append it has the small chunks (an
    append takes the store's), so the append writes thousands of objects, not a few."""
    ids = old_ids(sizes)
    pos, attrs = tagged(ids)
    chunk = NEW_CHUNK if mode == "a" else OLD_CHUNK
    write_points(url, pos, vertex_attributes=attrs, chunk_shape=chunk, bounds=BOUNDS, **options)
    return ids


def read_ids(url: str, options: dict[str, Any]) -> np.ndarray:
    """The ids the store holds, after checking every row is whole (position and attribute)."""
    got = read_points(url, **options)
    ids = got.vertex_attributes["id"]
    assert len(ids) == len(got.positions)
    np.testing.assert_array_equal(got.positions, positions_of(ids))
    np.testing.assert_array_equal(got.vertex_attributes["half"], half_of(ids))
    return np.sort(ids)


def which(got: np.ndarray, states: dict[str, np.ndarray]) -> str:
    """The name of the state ``got`` is exactly (ids compared as multisets), or fail."""
    for name, ids in states.items():
        if len(got) == len(ids) and np.array_equal(got, np.sort(ids)):
            return name
    sizes = {name: len(ids) for name, ids in states.items()}
    raise AssertionError(f"the store holds {len(got)} points: none of the states {sizes}")


def job(url: str, options: dict[str, Any], mode: str, ids: np.ndarray) -> dict[str, Any]:
    return {
        "url": url,
        "options": options,
        "mode": mode,
        "start": int(ids[0]),
        "n": len(ids),
        "chunk_shape": list(NEW_CHUNK),
        "lock_timeout": LOCK_TIMEOUT,
    }


def typical_seconds(
    tmp_path: Path, url: str, options: dict[str, Any], sizes: Sizes, mode: str
) -> float:
    """How long one whole write of the killed kind takes, from the worker's "ready" line."""
    write_old(url, options, sizes, mode)
    worker = Worker("write", job(url, options, mode, new_ids(sizes)), tmp_path / "typical.stderr")
    worker.wait_for("ready")
    start = time.monotonic()
    worker.wait_for("done", timeout=900)
    took = time.monotonic() - start
    worker.finish()
    return took


@dataclass(frozen=True)
class Env:
    """One backend's place for the runs: where, options, typical write times, and the
    objects a fresh write of the "next" points makes (what a repaired store must hold)."""

    base: str
    options: dict[str, Any]
    sizes: Sizes
    typical: dict[str, float]
    reference: set[str]


def make_env(base: str, options: dict[str, Any], sizes: Sizes, tmp: Path) -> Env:
    typical = {
        mode: typical_seconds(tmp, f"{base}/typical-{mode}.zarr", options, sizes, mode)
        for mode in "wa"
    }
    write_next(f"{base}/reference.zarr", options, "w")
    reference = format_keys(f"{base}/reference.zarr", options)
    return Env(base, options, sizes, typical, reference)


@pytest.fixture(scope="module")
def local_env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    tmp = tmp_path_factory.mktemp("crash-local")
    return make_env(str(tmp), {}, LOCAL, tmp)


@pytest.fixture(scope="module")
def s3_env(s3_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Env:
    bucket = s3_server.create_bucket()
    return make_env(f"s3://{bucket}", s3_options(s3_server), S3, tmp_path_factory.mktemp("s3"))


def delay_for(run: int, runs: int, typical: float, seed: int) -> float:
    """Stratified: run ``i`` of ``n`` is killed in the i-th of n equal slices of the spread."""
    u = random.Random(seed * 1000 + run).random()
    return SPREAD * typical * (run + u) / runs


def kill_after(worker: Worker, delay: float) -> bool:
    """SIGKILL ``worker`` ``delay`` seconds after it said "ready"; whether it had finished."""
    worker.wait_for("ready")
    time.sleep(delay)
    worker.kill()
    while (event := worker.next_event(timeout=60)) is not None:
        if event.get("event") == "done":
            return True
    return False


def object_keys(url: str, options: dict[str, Any]) -> set[str]:
    opts = dict(options)
    with make_backend(url, backend=opts.pop("backend", None), **opts) as backend:
        return set(backend.list_prefix("", recursive=True))


def format_keys(url: str, options: dict[str, Any]) -> set[str]:
    """The store's objects but its commit records (bookkeeping that differs by history)."""
    return {k for k in object_keys(url, options) if not k.startswith(".zv-log/")}


def assert_repaired(url: str, env: Env) -> None:
    """The store holds exactly the objects a fresh write of the same points made.

    No staged objects, no cells of the killed write, nothing of the old store.
    """
    have = format_keys(url, env.options)
    assert not [k for k in have if k.startswith(".zv-staged")], "staged objects left behind"
    extra, missing = sorted(have - env.reference), sorted(env.reference - have)
    assert not extra and not missing, f"extra: {extra[:5]}, missing: {missing[:5]}"


def write_next(url: str, options: dict[str, Any], mode: str, *, expire: bool = True) -> None:
    """The next write after a killed one; ``expire``: the dead writer's lease has run out.

    Waiting out the lease proves nothing the lease tests do not (tests/format/test_lease*):
    time is moved on explicitly instead. Stalled writers keep their real lease, since
    their own clock must tell them they lost it.
    """
    if expire:
        let_lease_run_out(url, **options)
    pos, attrs = tagged(next_ids())
    write_points(
        url,
        pos,
        vertex_attributes=attrs,
        mode=mode,
        chunk_shape=None if mode == "a" else NEW_CHUNK,
        bounds=None if mode == "a" else BOUNDS,
        lock_timeout=LOCK_TIMEOUT,
        **options,
    )


# -- replace ---------------------------------------------------------------------------------
def replace_killed(tmp_path: Path, env: Env, run: int, runs: int) -> str:
    """One kill of a replacing writer and the checks after it; says which state was read."""
    url = f"{env.base}/run{run}.zarr"
    old = write_old(url, env.options, env.sizes)
    new = new_ids(env.sizes)
    delay = delay_for(run, runs, env.typical["w"], seed=1)
    worker = Worker("write", job(url, env.options, "w", new), tmp_path / f"replace{run}.stderr")
    finished = kill_after(worker, delay)

    state = which(read_ids(url, env.options), {"old": old, "new": new})
    if finished:
        assert state == "new", "a replace that reported success was not read back"
    # The next write waits for the dead writer's lease, repairs, and holds.
    write_next(url, env.options, "w")
    assert which(read_ids(url, env.options), {"next": next_ids()}) == "next"
    assert_repaired(url, env)
    return f"{state} (killed {delay:.2f} s after start, typical write {env.typical['w']:.2f} s)"


@pytest.mark.parametrize("run", range(LOCAL_REPLACE_RUNS))
def test_a_replace_killed_locally_leaves_old_or_new(
    tmp_path: Path, local_env: Env, run: int
) -> None:
    print(replace_killed(tmp_path, local_env, run, LOCAL_REPLACE_RUNS))


# -- append -----------------------------------------------------------------------------------
def append_killed(tmp_path: Path, env: Env, run: int, runs: int) -> str:
    url = f"{env.base}/append{run}.zarr"
    old = write_old(url, env.options, env.sizes, "a")
    new = new_ids(env.sizes)
    delay = delay_for(run, runs, env.typical["a"], seed=2)
    worker = Worker("write", job(url, env.options, "a", new), tmp_path / f"append{run}.stderr")
    finished = kill_after(worker, delay)

    both = np.concatenate([old, new])
    state = which(read_ids(url, env.options), {"old": old, "old+new": both})
    if finished:
        assert state == "old+new", "an append that reported success was not read back"
    write_next(url, env.options, "a")
    before = old if state == "old" else both
    which(read_ids(url, env.options), {"+next": np.concatenate([before, next_ids()])})
    assert not [k for k in object_keys(url, env.options) if k.startswith(".zv-staged")]
    return f"{state} (killed {delay:.2f} s after start, typical append {env.typical['a']:.2f} s)"


@pytest.mark.parametrize("run", range(LOCAL_APPEND_RUNS))
def test_an_append_killed_locally_leaves_old_or_old_plus_new(
    tmp_path: Path, local_env: Env, run: int
) -> None:
    print(append_killed(tmp_path, local_env, run, LOCAL_APPEND_RUNS))


@pytest.mark.servers
@pytest.mark.parametrize("run", range(S3_REPLACE_RUNS))
def test_a_replace_killed_on_s3_leaves_old_or_new(tmp_path: Path, s3_env: Env, run: int) -> None:
    print(replace_killed(tmp_path, s3_env, run, S3_REPLACE_RUNS))


@pytest.mark.servers
@pytest.mark.parametrize("run", range(S3_APPEND_RUNS))
def test_an_append_killed_on_s3_leaves_old_or_old_plus_new(
    tmp_path: Path, s3_env: Env, run: int
) -> None:
    print(append_killed(tmp_path, s3_env, run, S3_APPEND_RUNS))


# -- a reader while a dead writer's journal is repaired ------------------------------------------
def root_journal(url: str, options: dict[str, Any]) -> dict[str, Any]:
    opts = dict(options)
    with make_backend(url, backend=opts.pop("backend", None), **opts) as backend:
        root = json.loads(backend.get_bytes("zarr.json"))
    return dict(root["attributes"].get("zarr_vectors_writer", {}).get("pending") or {})


def kill_when_journal(
    worker: Worker, url: str, options: dict[str, Any], wanted: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """SIGKILL the worker as soon as the root's journal entry satisfies ``wanted``.

    Polls the root; returns the journal entry found in it after the kill.
    """
    worker.wait_for("ready")
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        try:
            pending = root_journal(url, options)
        except (KeyError, ValueError):
            pending = {}  # no root yet, or caught half-written on a backend without renames
        if pending and wanted(pending):
            worker.kill()
            return root_journal(url, options)
        if worker.proc.poll() is not None:
            raise AssertionError(f"the writer ended before its journal was seen: {worker.stderr()}")
        time.sleep(0.005)
    worker.kill()
    raise AssertionError("the writer's journal entry never appeared")


def writing(pending: dict[str, Any]) -> bool:
    return pending.get("mode") == "w" and pending.get("state") == "writing"


def appending(pending: dict[str, Any]) -> bool:
    return pending.get("mode") == "a" and bool(pending.get("cells"))


def moving(pending: dict[str, Any]) -> bool:
    return pending.get("mode") == "w" and pending.get("state") == "moving"


#: Kinds of dead writer: (write mode, journal state to kill it in, what a read shows then).
DEAD = {
    "replace-writing": ("w", writing, "old"),
    "replace-moving": ("w", moving, "new"),
    "append": ("a", appending, "old"),
}


@pytest.mark.parametrize("kind", list(DEAD))
def test_a_reader_sees_whole_states_while_a_dead_writer_is_repaired(
    tmp_path: Path, kind: str
) -> None:
    """Killed exactly in a journal state, then read by another process during the repair.

    A replace killed while writing its staged store reads as the old store; one
    killed after its commit point, while moving the staged store into place,
    reads as the new one (from where it was staged, then from its own keys).
    """
    mode, wanted, first_state = DEAD[kind]
    url = str(tmp_path / "journal.zarr")
    old = write_old(url, {}, LOCAL, mode)
    new = new_ids(LOCAL)
    dead = Worker("write", job(url, {}, mode, new), tmp_path / "dead.stderr")
    pending = kill_when_journal(dead, url, {}, wanted)
    assert wanted(pending), f"the writer got past its journal entry before the kill: {pending}"

    stop = tmp_path / "stop"
    reader = Worker(
        "reader", {"url": url, "stop": str(stop), "min_reads": 3}, tmp_path / "reader.stderr"
    )
    reader.wait_for("ready")
    reader.wait_for("read", timeout=600)  # reading while the dead writer's journal is there
    # The next writer waits out the dead one's lease, repairs, and writes.
    write_next(url, {}, mode)
    after = np.concatenate([old, next_ids()]) if mode == "a" else next_ids()
    stop.touch()
    reads = [e for e in reader.finish() if e.get("event") == "read"]
    states = {id_digest(old): "old", id_digest(new): "new", id_digest(after): "after"}
    seen = []
    for r in reads:
        assert r["ok"], f"a read failed: {r}"
        assert r["whole"], f"a read returned rows torn apart: {r}"
        assert r["ids"] in states, f"a read returned a state that never was: {r['count']} points"
        seen.append(states[r["ids"]])
    assert seen[0] == first_state, seen
    assert seen[-1] == "after", seen
    assert set(seen) == {first_state, "after"}, seen
    assert seen == sorted(seen, key=[first_state, "after"].index), f"went back: {seen}"
    assert which(read_ids(url, {}), {"after": after}) == "after"


@pytest.mark.parametrize("run", range(3))
def test_a_replace_killed_after_its_commit_point_reads_new(
    tmp_path: Path, local_env: Env, run: int
) -> None:
    """Killed while moving the staged store into place: the new store, then repaired."""
    url = f"{local_env.base}/moving{run}.zarr"
    write_old(url, {}, LOCAL)
    new = new_ids(LOCAL)
    worker = Worker("write", job(url, {}, "w", new), tmp_path / "moving.stderr")
    assert moving(kill_when_journal(worker, url, {}, moving))
    assert which(read_ids(url, {}), {"new": new}) == "new"
    write_next(url, {}, "w")
    assert which(read_ids(url, {}), {"next": next_ids()}) == "next"
    assert_repaired(url, local_env)


@pytest.mark.servers
def test_a_reader_sees_whole_states_while_a_dead_replace_is_repaired_on_s3(
    tmp_path: Path, s3_env: Env
) -> None:
    options = s3_env.options
    url = f"{s3_env.base}/journal.zarr"
    old = write_old(url, options, S3)
    dead = Worker("write", job(url, options, "w", new_ids(S3)), tmp_path / "dead.stderr")
    assert writing(kill_when_journal(dead, url, options, writing))
    stop = tmp_path / "stop"
    reader = Worker(
        "reader",
        {"url": url, "options": options, "stop": str(stop), "min_reads": 3},
        tmp_path / "reader.stderr",
    )
    reader.wait_for("ready")
    reader.wait_for("read", timeout=600)
    write_next(url, options, "w")
    stop.touch()
    states = {id_digest(old), id_digest(next_ids())}
    reads = [e for e in reader.finish() if e.get("event") == "read"]
    for r in reads:
        assert r["ok"] and r["whole"] and r["ids"] in states, r
    assert reads[0]["ids"] == id_digest(old) and reads[-1]["ids"] == id_digest(next_ids())


@pytest.mark.servers
def test_a_replace_killed_after_its_commit_point_on_s3_reads_new(
    tmp_path: Path, s3_env: Env
) -> None:
    options = s3_env.options
    url = f"{s3_env.base}/moving.zarr"
    write_old(url, options, S3)
    new = new_ids(S3)
    worker = Worker("write", job(url, options, "w", new), tmp_path / "moving.stderr")
    assert moving(kill_when_journal(worker, url, options, moving))
    assert which(read_ids(url, options), {"new": new}) == "new"
    write_next(url, options, "w")
    assert which(read_ids(url, options), {"next": next_ids()}) == "next"
    assert_repaired(url, s3_env)


# -- a writer that stalls past its lease ---------------------------------------------------------
@pytest.mark.parametrize("mode", ["a", "w"], ids=["append-cells", "replace-move"])
def test_a_writer_stalled_inside_a_batch_past_its_lease_leaves_the_next_commit_alone(
    tmp_path: Path, mode: str
) -> None:
    """A writer stops itself half way through a batch of puts to the store's own keys.

    The next writer takes the store over once the lease has expired, repairs it
    (an append rolled back; a committed replace moved into place) and commits an
    append of its own. The stalled writer, resumed, must fail without changing
    what the other one committed.
    """
    url = str(tmp_path / "stalled.zarr")
    old = write_old(url, {}, LOCAL, mode)
    new = new_ids(LOCAL)
    stalled = Worker(
        "write", {**job(url, {}, mode, new), "stall_in_put": True}, tmp_path / "s.stderr"
    )
    try:
        stalled.wait_for("stalled")
        base = old if mode == "a" else new  # what the take-over's repair leaves
        write_next(url, {}, "a", expire=False)
        committed = np.concatenate([base, next_ids()])
        assert which(read_ids(url, {}), {"committed": committed}) == "committed"
    finally:
        stalled.resume()
    assert stalled.exit_code() != 0, "the stalled writer reported success after losing its lease"
    assert "ConcurrentWriteError" in stalled.stderr_path.read_text()
    assert which(read_ids(url, {}), {"committed": committed}) == "committed"


def test_a_writer_stalled_between_batches_past_its_lease_writes_nothing_more(
    tmp_path: Path,
) -> None:
    """The same stall at a known step: the append stops itself just before a batch of cells.

    Resumed after another writer took the store over and committed, it must
    find out before writing that batch (its own lease has expired: no request
    is needed to know that) and fail, leaving the other writer's commit whole.
    """
    url = str(tmp_path / "stalled.zarr")
    old = write_old(url, {}, LOCAL, "a")
    stalled = Worker(
        "write", {**job(url, {}, "a", new_ids(LOCAL)), "stall_at": 0.0}, tmp_path / "s.stderr"
    )
    try:
        stalled.wait_for("stalled")
        assert appending(root_journal(url, {}))
        write_next(url, {}, "a", expire=False)
        committed = np.concatenate([old, next_ids()])
        assert which(read_ids(url, {}), {"committed": committed}) == "committed"
    finally:
        stalled.resume()
    assert stalled.exit_code() != 0, "the stalled writer reported success after losing its lease"
    assert "ConcurrentWriteError" in stalled.stderr_path.read_text()
    assert which(read_ids(url, {}), {"committed": committed}) == "committed"


# -- a first write killed ---------------------------------------------------------------------
@pytest.mark.parametrize("then", ["w", "a"])
def test_a_killed_first_write_reads_as_unfinished_and_the_next_write_succeeds(
    tmp_path: Path, local_env: Env, then: str
) -> None:
    url = str(tmp_path / "first.zarr")
    worker = Worker("write", job(url, {}, "w", new_ids(LOCAL)), tmp_path / "first.stderr")

    def creating(pending: dict[str, Any]) -> bool:
        # the placeholder root, and some cells of the new store already written
        return pending.get("mode") == "w" and (tmp_path / "first.zarr" / "0").is_dir()

    assert creating(kill_when_journal(worker, url, {}, creating))
    with pytest.raises(StoreError, match="did not finish"):
        read_points(url)
    # An append that brings its chunk shape and bounds may create the store too.
    let_lease_run_out(url)
    pos, attrs = tagged(next_ids())
    write_points(
        url,
        pos,
        vertex_attributes=attrs,
        mode=then,
        chunk_shape=NEW_CHUNK,
        bounds=BOUNDS,
        lock_timeout=LOCK_TIMEOUT,
    )
    assert which(read_ids(url, {}), {"next": next_ids()}) == "next"
    assert_repaired(url, local_env)
