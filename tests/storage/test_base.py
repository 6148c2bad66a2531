"""The base class (zarr_vectors.storage.base): `Backend.write_fence` checks every object write.

The end-to-end case (a writer stopped with SIGSTOP half way through a batch,
resumed after another writer took the store over) is in test_crash_safety.py;
here the fence itself: checked before each object of a batch, on the local
backend and through the base class's defaults, and gone after its block.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.kit_faulty import DictBackend
from zarr_vectors.exceptions import ConcurrentWriteError
from zarr_vectors.format.lease import RootLease
from zarr_vectors.storage.async_base import AsyncBackend
from zarr_vectors.storage.base import Backend
from zarr_vectors.storage.local import LocalBackend


def fence_after(allowed: int) -> Callable[[], None]:
    """A fence that lets ``allowed`` checks pass, then refuses every one."""
    counter = itertools.count()

    def check() -> None:
        if next(counter) >= allowed:
            raise ConcurrentWriteError("the write lease expired")

    return check


def backends(tmp_path: Path) -> list[Backend]:
    return [
        LocalBackend(str(tmp_path / "store")),
        DictBackend(f"dict://fence-{uuid.uuid4().hex}"),
    ]


@pytest.mark.parametrize("kind", [0, 1], ids=["local", "base-class-defaults"])
def test_a_batch_stops_at_the_first_refused_object(tmp_path: Path, kind: int) -> None:
    backend = backends(tmp_path)[kind]
    items = [(f"c/{i}", b"x" * 10) for i in range(40)]
    with backend.write_fence(fence_after(11)), pytest.raises(ConcurrentWriteError):
        backend.put_many(items)
    # One check for the call, then one per object: at most 10 objects landed.
    assert 0 < len(list(backend.list_prefix("c/", recursive=True))) <= 10
    keys = [f"c/{i}" for i in range(40)]
    with backend.write_fence(fence_after(1)), pytest.raises(ConcurrentWriteError):
        backend.delete_many(keys)
    with backend.write_fence(fence_after(1)), pytest.raises(ConcurrentWriteError):
        backend.move_many([(k, f"d/{k}") for k in keys])
    assert not list(backend.list_prefix("d/", recursive=True))
    # Outside the block nothing is fenced.
    backend.put_many(items)
    backend.move_many([(k, f"d/{k}") for k in keys])
    assert len(list(backend.list_prefix("d/", recursive=True))) == 40
    backend.close()


def test_reads_are_never_fenced(tmp_path: Path) -> None:
    backend = LocalBackend(str(tmp_path / "store"))
    backend.put_bytes("a", b"1")
    with backend.write_fence(fence_after(0)):
        assert backend.get_bytes("a") == b"1"
        assert backend.get_many(["a"]) == {"a": b"1"}
        with pytest.raises(ConcurrentWriteError):
            backend.put_bytes("b", b"2")
    backend.close()


def test_the_lease_fences_the_backend_while_it_is_held(tmp_path: Path) -> None:
    backend = LocalBackend(str(tmp_path / "store"))
    with RootLease(backend, seconds=30) as lease:
        assert backend._fence == lease.check
        backend.put_bytes("0/zarr.json", b"{}")  # the lease is live: writes pass
        lease._current = {**(lease._current or {})}
        lease._current.setdefault("attributes", {}).setdefault("zarr_vectors_writer", {})
        lease._current["attributes"]["zarr_vectors_writer"]["lease"] = {
            "owner": lease.owner,
            "expires": 1.0,  # long past: as after a stall
        }
        with pytest.raises(ConcurrentWriteError, match="lost its write lease"):
            backend.put_bytes("0/c/0", b"late")
    assert backend._fence is None
    assert not backend.exists("0/c/0")
    backend.put_bytes("0/c/0", b"after the lease")
    backend.close()


def test_native_async_is_false_unless_the_coroutines_are_the_backends_own() -> None:
    """The base's ``a``-methods are its blocking ones on a thread; an AsyncBackend's are its own."""
    assert not Backend.native_async and not LocalBackend.native_async
    assert AsyncBackend.native_async
