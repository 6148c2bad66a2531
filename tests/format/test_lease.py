"""One writer at a time on storage without conditional writes: claims (issue 9).

A backend with ``conditional_writes = False`` (fsspec on a local disk, in
memory, over SFTP, GCS or Azure through fsspec; a zarr store passed in) cannot
take the root lease with a conditional put. There each writer puts a claim of
its own under ``.zv-claims/`` and then lists them; it goes on only if no other
live claim is there (``zarr_vectors.format.lease``). These tests show:

* two writers that claim at the same moment (a barrier holds both between
  their claim and their listing) cannot both go on: with no time to wait both
  are refused with ``ConcurrentWriteError``, and with time one of them wins;
  the plain "write the lease, then read it back" it replaced let both through
  on exactly this interleaving;
* a writer arriving while the store is held is refused and leaves no claim;
* a dead writer's claim expires, the next writer takes over and clears it;
* 4 processes x 10 appends through the fsspec backend on a local disk (no
  conditional writes) leave exactly the union of the successful appends;
* a holder whose claim was taken over stops before its next root write;
* the lease check (run before every file of a batch) judges by the last renewal.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.format.test_concurrent_writers import (
    APPENDS,
    POINTS,
    WORKERS,
    assert_holds_exactly,
    check_failures,
    race_appends,
)
from zarr_vectors.exceptions import ConcurrentWriteError
from zarr_vectors.format.journal import CLAIMS_PREFIX, ROOT_KEY
from zarr_vectors.format.lease import RootLease, claim_key, lease_of
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.types.points import read_points, write_points

#: These tests kill writers; the next writer waits out the dead one's lease.
pytestmark = pytest.mark.usefixtures("short_lease")


class NoConditionalLocal(LocalBackend):
    """The local backend as a plugin without conditional writes would be."""

    conditional_writes = False


class ClaimBarrier(NoConditionalLocal):
    """On a writer's first try, both writers claim, then both look, then both go on.

    A writer waits after putting its claim until the other has put its own,
    and (if it steps back) waits before deleting its claim until the other has
    looked at the claims too: so each looks while the other's claim is there.
    """

    claimed: threading.Barrier
    looked: threading.Barrier

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.first_list = self.first_delete = True

    def list_prefix(self, prefix: str, recursive: bool = False) -> Iterator[str]:
        if self.first_list and prefix.startswith(CLAIMS_PREFIX):
            self.first_list = False
            self.claimed.wait(timeout=30)
        return super().list_prefix(prefix, recursive)

    def delete(self, key: str) -> None:
        if self.first_delete and key.startswith(CLAIMS_PREFIX):
            self.first_delete = False
            self.looked.wait(timeout=30)
        super().delete(key)


def claims_in(root: Path) -> list[str]:
    with LocalBackend(str(root)) as backend:
        return sorted(backend.list_prefix(f"{CLAIMS_PREFIX}/"))


def take_together(root: Path, wait: float) -> list[str]:
    """Two writers claim at once; return what each got ("held" or the error)."""
    ClaimBarrier.claimed = threading.Barrier(2)
    ClaimBarrier.looked = threading.Barrier(2)
    outcome: list[str] = []
    release = threading.Event()

    def writer() -> None:
        backend = ClaimBarrier(str(root))
        try:
            with RootLease(backend, wait=wait) as lease:
                outcome.append("held")
                release.wait(5)
                lease.release({"zarr_format": 3, "node_type": "group", "attributes": {}})
        except ConcurrentWriteError as exc:
            outcome.append(f"refused: {exc}")
        except threading.BrokenBarrierError:
            outcome.append("barrier")
        finally:
            backend.close()

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    release.set()
    for t in threads:
        t.join(30)
    return outcome


def test_two_writers_claiming_at_once_cannot_both_go_on(tmp_path: Path) -> None:
    outcome = take_together(tmp_path / "store", wait=0.0)
    assert len(outcome) == 2
    assert outcome.count("held") == 0, outcome  # each saw the other's claim
    assert all("being written by another process" in o or "Retry" in o for o in outcome)
    assert claims_in(tmp_path / "store") == []  # both took their claims back


def test_with_time_to_wait_one_of_two_racing_writers_wins_then_the_other(
    tmp_path: Path,
) -> None:
    outcome = take_together(tmp_path / "store", wait=20.0)
    assert outcome == ["held", "held"], outcome
    assert claims_in(tmp_path / "store") == []


def test_a_writer_arriving_while_the_store_is_held_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "store"
    holder = NoConditionalLocal(str(root))
    late = NoConditionalLocal(str(root))
    try:
        with RootLease(holder, wait=30) as lease:
            assert claims_in(root) == [claim_key(lease.owner)]
            # Even with the root's own lease taken out, the claim alone refuses.
            holder.put_bytes(ROOT_KEY, b'{"zarr_format": 3, "node_type": "group"}')
            with pytest.raises(ConcurrentWriteError, match="another"), RootLease(late, wait=0.3):
                pass
            assert claims_in(root) == [claim_key(lease.owner)]
            lease.release({"zarr_format": 3, "node_type": "group", "attributes": {}})
        assert claims_in(root) == []
        with RootLease(late, wait=0.3) as second:  # free again
            assert second.doc is not None
    finally:
        holder.close()
        late.close()


def test_a_dead_writers_claim_expires_and_is_cleared(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with NoConditionalLocal(str(root)) as backend:
        dead = {"owner": "dead", "host": "gone", "pid": 1, "expires": time.time() + 1.5}
        backend.put_bytes(claim_key("dead"), json.dumps(dead).encode())
        with pytest.raises(ConcurrentWriteError, match="another"), RootLease(backend, wait=0.3):
            pass
        time.sleep(1.6)
        with RootLease(backend, wait=5) as lease:
            assert claims_in(root) == [claim_key(lease.owner)]  # the dead claim is gone
            lease.release({"zarr_format": 3, "node_type": "group", "attributes": {}})


def test_a_holder_whose_claim_was_taken_over_stops(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with NoConditionalLocal(str(root)) as backend:
        lease = RootLease(backend, wait=5)
        with pytest.raises(ConcurrentWriteError, match="lost its write lease"), lease:
            backend.delete(claim_key(lease.owner))  # as a writer that took over does
            lease.put({"zarr_format": 3, "node_type": "group", "attributes": {}})
        root_doc = json.loads((root / "zarr.json").read_bytes())
        assert lease_of(root_doc) is None or lease_of(root_doc)["owner"] == lease.owner


def test_the_claim_is_renewed_with_the_lease(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with NoConditionalLocal(str(root)) as backend, RootLease(backend, seconds=30) as lease:
        first = json.loads(backend.get_bytes(claim_key(lease.owner)))
        time.sleep(0.05)
        lease.put({"zarr_format": 3, "node_type": "group", "attributes": {}})
        renewed = json.loads(backend.get_bytes(claim_key(lease.owner)))
        assert renewed["owner"] == lease.owner
        assert renewed["expires"] > first["expires"]
        lease.release({"zarr_format": 3, "node_type": "group", "attributes": {}})


def test_a_replace_keeps_the_writers_claim(tmp_path: Path) -> None:
    """A replace deletes everything of the old store, but not the claims."""
    url = f"file://{tmp_path / 'store'}"
    pos = np.random.default_rng(0).random((500, 3)).astype(np.float32)
    write_points(url, pos, chunk_shape=(0.25,) * 3, bounds=[[0] * 3, [1] * 3], backend="fsspec")
    write_points(
        url,
        pos[:100],
        mode="w",
        chunk_shape=(0.5,) * 3,
        bounds=[[0] * 3, [1] * 3],
        backend="fsspec",
    )
    assert len(read_points(url, backend="fsspec").positions) == 100
    assert claims_in(tmp_path / "store") == []


@pytest.mark.slow
def test_four_processes_appending_through_fsspec_without_conditional_writes(
    tmp_path: Path,
) -> None:
    from zarr_vectors.storage import make_backend

    url = f"file://{tmp_path / 'race.zarr'}"
    options: dict[str, Any] = {"backend": "fsspec"}
    with make_backend(url, **options) as backend:
        assert not backend.conditional_writes
    ids, results = race_appends(url, options, tmp_path)
    check_failures(results, allowed=False)
    assert len(ids) == (WORKERS * APPENDS + 1) * POINTS
    assert_holds_exactly(url, options, ids)
    assert claims_in(tmp_path / "race.zarr") == []


class RootPutFails(NoConditionalLocal):
    """Storage that takes the claim but fails the root write that follows it."""

    def put_bytes(self, key: str, data: bytes) -> None:
        if key == ROOT_KEY:
            raise OSError("disk full")
        super().put_bytes(key, data)


def test_a_claim_is_taken_back_when_taking_the_store_fails(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with (
        RootPutFails(str(root)) as backend,
        pytest.raises(OSError, match="disk full"),
        RootLease(backend, wait=1),
    ):
        pass
    assert claims_in(root) == []


class CountingDeletes(NoConditionalLocal):
    deleted: list[str]

    def delete(self, key: str) -> None:
        self.deleted.append(key)
        super().delete(key)


def test_a_released_claim_is_deleted_once(tmp_path: Path) -> None:
    with CountingDeletes(str(tmp_path / "store")) as backend:
        backend.deleted = []
        with RootLease(backend, wait=1) as lease:
            lease.release({"zarr_format": 3, "node_type": "group", "attributes": {}})
        assert backend.deleted == [claim_key(lease.owner)]


class StoppedClock:
    """Time moves only when the test moves it; the renewer waits until the lease ends."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        return stop.wait()


def test_the_lease_check_follows_each_renewal(tmp_path: Path) -> None:
    """check() runs before every file of a batch, so it keeps the expiry it parsed, until
    the next root (a renewal) is written: then it judges by the new one."""
    clock = StoppedClock(1_000.0)
    root = {"zarr_format": 3, "node_type": "group", "attributes": {}}
    with LocalBackend(str(tmp_path / "s")) as backend:
        lease = RootLease(backend, seconds=30, clock=clock)
        with lease:
            lease.check()
            clock.now += 25
            lease.put(dict(root))  # renewed: now + 30
            clock.now += 20  # past the first expiry, inside the renewed one
            lease.check()
            clock.now += 20
            with pytest.raises(ConcurrentWriteError, match="lost its write lease"):
                lease.check()
