"""Temporary files of local puts (storage/localtemp.py)."""

from __future__ import annotations

import os
from pathlib import Path

from zarr_vectors.storage import localtemp
from zarr_vectors.storage.localtemp import TEMP_PREFIX, remove_temporary_files, stamp, temporary


def test_temporary_names_are_new_and_skip_one_a_dead_writer_left(tmp_path: Path) -> None:
    fd, first = temporary(str(tmp_path))
    assert isinstance(fd, int)
    os.close(fd)
    assert os.path.basename(first).startswith(f"{TEMP_PREFIX}{os.getpid()}-")
    # A leftover with the next name (a dead process of the same pid): the one after is used.
    count = int(first.rsplit("-", 1)[1])
    taken = tmp_path / f"{TEMP_PREFIX}{os.getpid()}-{count + 1}"
    taken.write_bytes(b"left behind")
    fd, second = temporary(str(tmp_path))
    assert isinstance(fd, int)
    os.close(fd)
    assert second not in (first, str(taken)) and taken.read_bytes() == b"left behind"
    err, _ = temporary(str(tmp_path / "missing"))
    assert isinstance(err, FileNotFoundError)


def test_stamp_takes_a_path_or_a_descriptor_and_the_sweep_removes_only_temporaries(
    tmp_path: Path,
) -> None:
    keep = tmp_path / "a" / "cell"
    keep.parent.mkdir()
    keep.write_bytes(b"x")
    os.utime(keep, ns=(0, 0))
    fd = os.open(keep, os.O_RDONLY)
    try:
        stamp(fd)
    finally:
        os.close(fd)
    by_fd = keep.stat().st_mtime_ns
    os.utime(keep, ns=(0, 0))
    stamp(str(keep))
    assert by_fd > 0 and keep.stat().st_mtime_ns > 0
    for name in (f"{TEMP_PREFIX}1", f"a/{TEMP_PREFIX}2"):
        (tmp_path / name).write_bytes(b"half")
    assert remove_temporary_files(tmp_path) == 2
    assert keep.exists() and localtemp.TEMP_PREFIX == TEMP_PREFIX
