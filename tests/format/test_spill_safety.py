"""Spill files: a full spill disk is a one-line StoreError; no spill directory outlives its writer.

Real processes and a real full disk (a small tmpfs, where it can be mounted):
a writer killed with SIGKILL leaves its spill directory, and the next spill in
the same parent removes it, while the directory of a live writer is kept.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.tmpfs import small_tmpfs
from zarr_vectors.exceptions import StoreError
from zarr_vectors.format.spill import SPILL_PREFIX, SpillPartitions, remove_abandoned
from zarr_vectors.types.points import read_points, write_points

#: These tests kill writers; the next writer waits out the dead one's lease.
pytestmark = pytest.mark.usefixtures("short_lease")

CS = (100.0, 100.0, 100.0)


def _spill(directory: Path) -> SpillPartitions:
    return SpillPartitions(
        ndim=3,
        dtype=np.dtype(np.float32),
        attributes={},
        cell_size=CS,
        block=1,
        budget=16 << 20,
        directory=directory,
    )


def _spill_dirs(parent: Path) -> list[Path]:
    return sorted(p for p in parent.iterdir() if p.name.startswith(SPILL_PREFIX))


def test_spill_directory_is_removed_on_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), _spill(tmp_path) as spill:
        spill.add(np.zeros((10, 3), np.float32), {})
        assert len(_spill_dirs(tmp_path)) == 1
        raise RuntimeError("the write failed")
    assert _spill_dirs(tmp_path) == []


def test_killed_writers_spill_is_removed_by_the_next(tmp_path: Path) -> None:
    holder = textwrap.dedent(
        f"""
        import sys, numpy as np
        from zarr_vectors.format.spill import SpillPartitions
        s = SpillPartitions(ndim=3, dtype=np.dtype(np.float32), attributes={{}},
                            cell_size=(100.0,) * 3, block=1, budget=16 << 20,
                            directory={str(tmp_path)!r})
        s.add(np.zeros((1000, 3), np.float32), {{}})
        print("ready", flush=True)
        sys.stdin.readline()
        """
    )
    alive = subprocess.Popen(
        [sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    doomed = subprocess.Popen(
        [sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        for proc in (alive, doomed):
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        assert len(_spill_dirs(tmp_path)) == 2
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait()
        assert len(_spill_dirs(tmp_path)) == 2  # a killed writer cannot clean up
        with _spill(tmp_path):
            # The next spill removed the dead writer's directory, not the live one's.
            assert len(_spill_dirs(tmp_path)) == 2
        left = _spill_dirs(tmp_path)
        assert len(left) == 1
        assert remove_abandoned(str(tmp_path)) == []  # its writer still holds it
    finally:
        for proc in (alive, doomed):
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    assert len(remove_abandoned(str(tmp_path))) == 1  # now its writer is gone too


def test_full_spill_disk_is_a_clear_error_and_leaves_nothing(tmp_path: Path) -> None:
    points = np.random.default_rng(3).uniform(0, 1000, (200_000, 3)).astype(np.float32)
    with small_tmpfs(tmp_path / "spill", "256k") as spill_dir:

        def batches():  # type: ignore[no-untyped-def]
            for start in range(0, len(points), 50_000):
                yield points[start : start + 50_000]

        store = tmp_path / "s.zv"
        with pytest.raises(StoreError) as caught:
            write_points(
                store,
                batches(),
                chunk_shape=CS,
                bounds=([0.0] * 3, [1000.0] * 3),
                spill_dir=str(spill_dir),
                memory_limit="16MiB",
            )
        message = str(caught.value)
        assert "\n" not in message
        assert str(spill_dir) in message and "spill_dir=" in message
        assert _spill_dirs(spill_dir) == []
        assert not (store / "zarr.json").exists() or read_points(store) is None
