"""Many processes writing one store, and handles that read one committed state (issue 9).

Real processes (``tests/helpers/safety_workers.py``), real storage: the local backend
and the S3 test server (SeaweedFS) through the obstore backend, whose
conditional writes the write lease is built on.

* **Concurrent appends**: 4 processes x 10 appends of 500 uniquely tagged
  points each. Afterwards the store holds exactly the union of the appends
  that reported success, every id exactly once, each point's position and
  attributes still its own; an append that failed failed with
  ``ConcurrentWriteError`` (with a generous ``lock_timeout`` none may fail).
  The same with a tiny ``lock_timeout`` (failures expected, the union must
  still be exact), and with processes that race to *create* the store by
  appending to nothing.
* **Snapshots**: an ``open_zv`` handle kept open across another process's
  appends reads exactly the state it opened, and raises
  ``StaleSnapshotError`` after another process replaced the store;
  ``read_points`` while another process appends returns one of the committed
  states, whole.

A point is identified by its ``id``; its position and its ``half`` attribute
are functions of the id, so a torn store cannot hide (see
``tests/helpers/safety_workers.py``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers.safety_workers import (
    BOUNDS,
    CHUNK,
    Worker,
    batch_ids,
    half_of,
    positions_of,
    s3_options,
    tagged,
)
from zarr_vectors.exceptions import StaleSnapshotError
from zarr_vectors.lazy import open_zv
from zarr_vectors.types.points import read_points, write_points

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("short_lease")]

WORKERS = 4
APPENDS = 10
POINTS = 500
#: Ids of the points a store starts with (a worker number no worker uses).
INITIAL = 900
CONCURRENT_WRITE_ERROR = "zarr_vectors.exceptions.ConcurrentWriteError"


@pytest.fixture(autouse=True)
def _end_workers() -> Iterator[None]:
    """No worker process outlives its test, even one that failed half way."""
    yield
    Worker.end_all()


def assert_holds_exactly(url: str, options: dict[str, Any], ids: np.ndarray) -> None:
    """The store holds each of ``ids`` once and nothing else, every row whole."""
    got = read_points(url, **options)
    stored = got.vertex_attributes["id"]
    assert stored.dtype == np.int64
    counts = Counter(stored.tolist())
    extra = sorted(set(counts) - set(ids.tolist()))
    lost = sorted(set(ids.tolist()) - set(counts))
    twice = sorted(k for k, c in counts.items() if c > 1)
    assert not lost, f"{len(lost)} points lost, e.g. ids {lost[:5]}"
    assert not extra, f"{len(extra)} points never successfully appended, e.g. {extra[:5]}"
    assert not twice, f"{len(twice)} points stored more than once, e.g. {twice[:5]}"
    assert len(stored) == len(ids)
    # Alignment: each row's position and second attribute belong to its id.
    np.testing.assert_array_equal(got.positions, positions_of(stored))
    np.testing.assert_array_equal(got.vertex_attributes["half"], half_of(stored))
    with open_zv(url, **options) as zv:
        assert zv[0].vertex_count == len(ids)


def race_appends(
    url: str,
    options: dict[str, Any],
    tmp_path: Path,
    *,
    workers: int = WORKERS,
    appends: int = APPENDS,
    lock_timeout: float = 600.0,
    create: bool = False,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Run ``workers`` processes appending at once; return the ids that should be there.

    Without ``create`` the store is made first with points of its own; with it,
    the workers append to nothing (with chunk shape and bounds), so one of them
    creates the store and the others append to it.
    """
    expected = [] if create else [batch_ids(INITIAL, 0, POINTS)]
    if not create:
        pos, attrs = tagged(expected[0])
        write_points(url, pos, vertex_attributes=attrs, chunk_shape=CHUNK, bounds=BOUNDS, **options)
    go = tmp_path / "go"
    job: dict[str, Any] = {
        "url": url,
        "options": options,
        "count": appends,
        "points": POINTS,
        "go": str(go),
        "lock_timeout": lock_timeout,
    }
    if create:
        job.update(chunk_shape=list(CHUNK), bounds=[list(b) for b in BOUNDS])
    procs = [
        Worker("appends", {**job, "worker": w}, tmp_path / f"worker{w}.stderr")
        for w in range(workers)
    ]
    for proc in procs:
        proc.wait_for("ready")
    go.touch()  # all at once
    results = [e for proc in procs for e in proc.finish(timeout=1800) if e.get("event") == "append"]
    assert len(results) == workers * appends
    for r in results:
        if r["ok"]:
            expected.append(batch_ids(r["worker"], r["batch"], POINTS))
    return np.concatenate(expected) if expected else np.empty(0, np.int64), results


def check_failures(results: list[dict[str, Any]], *, allowed: bool) -> None:
    failed = [r for r in results if not r["ok"]]
    wrong = [r for r in failed if r["error"] != CONCURRENT_WRITE_ERROR]
    assert not wrong, "appends failed with something else than ConcurrentWriteError:\n" + "\n".join(
        json.dumps(r) for r in wrong[:5]
    )
    if not allowed:
        assert not failed, f"{len(failed)} appends failed although lock_timeout was generous"


# -- concurrent appends ------------------------------------------------------------------
def test_four_processes_appending_to_a_local_store(tmp_path: Path) -> None:
    url = str(tmp_path / "race.zarr")
    ids, results = race_appends(url, {}, tmp_path)
    check_failures(results, allowed=False)
    assert len(ids) == (WORKERS * APPENDS + 1) * POINTS
    assert_holds_exactly(url, {}, ids)


@pytest.mark.servers
def test_four_processes_appending_to_a_store_on_s3(
    s3_server: Any, s3_bucket: str, tmp_path: Path
) -> None:
    from zarr_vectors.storage import make_backend

    options = s3_options(s3_server)
    url = f"s3://{s3_bucket}/race.zarr"
    with make_backend(url, **options) as backend:
        assert backend.conditional_writes, "the obstore S3 backend must offer conditional writes"
    ids, results = race_appends(url, options, tmp_path)
    check_failures(results, allowed=False)
    assert len(ids) == (WORKERS * APPENDS + 1) * POINTS
    assert_holds_exactly(url, options, ids)


def test_appends_that_give_up_waiting_fail_whole_and_clearly(tmp_path: Path) -> None:
    """A tiny lock_timeout: some appends give up; the store is still exactly the rest."""
    url = str(tmp_path / "impatient.zarr")
    ids, results = race_appends(url, {}, tmp_path, workers=3, appends=6, lock_timeout=0.05)
    check_failures(results, allowed=True)
    assert_holds_exactly(url, {}, ids)
    for r in results:
        if not r["ok"]:
            says = ("lock_timeout", "Retry", "Write again")
            assert any(w in r["message"] for w in says), r["message"]


def test_processes_racing_to_create_a_store_by_appending(tmp_path: Path) -> None:
    url = str(tmp_path / "created.zarr")
    ids, results = race_appends(url, {}, tmp_path, appends=3, create=True)
    check_failures(results, allowed=False)
    assert len(ids) == WORKERS * 3 * POINTS
    assert_holds_exactly(url, {}, ids)


@pytest.mark.servers
def test_processes_racing_to_create_a_store_on_s3_by_appending(
    s3_server: Any, s3_bucket: str, tmp_path: Path
) -> None:
    options = s3_options(s3_server)
    url = f"s3://{s3_bucket}/created.zarr"
    ids, results = race_appends(url, options, tmp_path, appends=3, create=True)
    check_failures(results, allowed=False)
    assert_holds_exactly(url, options, ids)


# -- snapshots -----------------------------------------------------------------------------
def initial_store(url: str, *, consolidate: bool = True, n: int = 3000) -> np.ndarray:
    ids = batch_ids(INITIAL, 0, n)
    pos, attrs = tagged(ids)
    write_points(
        url,
        pos,
        vertex_attributes=attrs,
        chunk_shape=CHUNK,
        bounds=BOUNDS,
        consolidate=consolidate,
    )
    return ids


def append_in_another_process(url: str, tmp_path: Path, *, count: int, worker: int = 0) -> None:
    job = {"url": url, "worker": worker, "count": count, "points": POINTS, "lock_timeout": 600}
    events = Worker("appends", job, tmp_path / f"appender{worker}.stderr").finish()
    assert all(e["ok"] for e in events if e.get("event") == "append"), events


def same_ids(got: np.ndarray, want: np.ndarray) -> None:
    np.testing.assert_array_equal(np.sort(got), np.sort(want))


@pytest.mark.parametrize(
    ("consolidate", "looked"),
    [
        (True, True),
        (True, False),
        (False, True),
        (False, False),
    ],
    ids=["consolidated-looked", "consolidated-untouched", "loose-looked", "loose-untouched"],
)
def test_a_handle_reads_the_state_it_opened_across_appends(
    tmp_path: Path, consolidate: bool, looked: bool, read_path: str
) -> None:
    """``looked``: the handle read its level metadata before the appends, or only after."""
    url = str(tmp_path / "snap.zarr")
    ids = initial_store(url, consolidate=consolidate)
    with open_zv(url) as zv:
        if looked:
            assert zv[0].vertex_count == len(ids)
        append_in_another_process(url, tmp_path, count=2)
        got = zv.read_points()
        same_ids(got.vertex_attributes["id"], ids)
        np.testing.assert_array_equal(got.positions, positions_of(got.vertex_attributes["id"]))
        assert zv[0].vertex_count == got.vertex_count == len(ids)
        box = ((0.0, 0.0, 0.0), (400.0, 600.0, 1000.0))
        inside = np.all((positions_of(ids) >= box[0]) & (positions_of(ids) <= box[1]), axis=1)
        same_ids(zv.read_points(bbox=box).vertex_attributes["id"], ids[inside])
        # One more append while the handle stays open: still the state it opened.
        append_in_another_process(url, tmp_path, count=1, worker=1)
        same_ids(zv.read_points().vertex_attributes["id"], ids)
        # refresh() moves it to the current state.
        zv.refresh()
        now = zv.read_points().vertex_attributes["id"]
        assert len(now) == len(ids) + 3 * POINTS == zv[0].vertex_count


@pytest.mark.parametrize("consolidate", [True, False], ids=["consolidated", "loose"])
@pytest.mark.parametrize("attributes", [True, False], ids=["same-layout", "no-attributes"])
def test_a_handle_is_stale_after_another_process_replaced_the_store(
    tmp_path: Path, consolidate: bool, attributes: bool
) -> None:
    url = str(tmp_path / "replaced.zarr")
    initial_store(url, consolidate=consolidate)
    with open_zv(url) as zv:
        job = {
            "url": url,
            "mode": "w",
            "start": int(batch_ids(7, 0, 1)[0]),
            "n": 2500,
            "attributes": attributes,
            "consolidate": consolidate,
        }
        Worker("write", job, tmp_path / "replacer.stderr").finish()
        with pytest.raises(StaleSnapshotError, match="refresh"):
            zv.read_points()
        zv.refresh()
        assert zv.read_points().vertex_count == 2500


@pytest.mark.parametrize("consolidate", [True, False], ids=["consolidated", "loose"])
def test_read_points_during_appends_returns_a_committed_state(
    tmp_path: Path, consolidate: bool, read_path: str
) -> None:
    url = str(tmp_path / "busy.zarr")
    ids = initial_store(url, consolidate=consolidate, n=POINTS)
    job = {"url": url, "worker": 0, "count": APPENDS, "points": POINTS, "lock_timeout": 600}
    appender = Worker("appends", job, tmp_path / "appender.stderr")
    committed = [
        np.concatenate([ids, *(batch_ids(0, b, POINTS) for b in range(k))])
        for k in range(APPENDS + 1)
    ]
    seen: Counter[int] = Counter()
    reads = 0
    while appender.proc.poll() is None or reads < 3:
        got = read_points(url)
        stored = got.vertex_attributes["id"]
        k, rest = divmod(len(stored) - len(ids), POINTS)
        assert rest == 0 and 0 <= k <= APPENDS, f"{len(stored)} points: no commit had that many"
        same_ids(stored, committed[k])
        np.testing.assert_array_equal(got.positions, positions_of(stored))
        np.testing.assert_array_equal(got.vertex_attributes["half"], half_of(stored))
        seen[k] += 1
        reads += 1
    appender.finish()
    same_ids(read_points(url).vertex_attributes["id"], committed[-1])
    assert reads >= 3
