"""Output files land whole or not at all: a failing writer leaves the target as it was."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zarr_vectors.io.landing import landing
from zarr_vectors.io.tck import write_tck


def test_a_finished_write_replaces_the_target_and_leaves_nothing_beside(tmp_path: Path) -> None:
    target = tmp_path / "out.trx"
    target.write_text("old")
    with landing(target) as part:
        assert part.parent == tmp_path and part.suffix == ".trx" and part != target
        part.write_text("new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.trx"]


def test_a_failing_write_keeps_the_old_file_and_removes_its_part(tmp_path: Path) -> None:
    target = tmp_path / "out.tck"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="half way"), landing(target) as part:
        part.write_text("half")
        raise RuntimeError("half way")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.tck"]


def test_a_library_writer_goes_through_it(tmp_path: Path) -> None:
    pytest.importorskip("nibabel")
    write_tck(tmp_path / "a.tck", [np.arange(9, dtype=np.float32).reshape(3, 3)])
    assert [p.name for p in tmp_path.iterdir()] == ["a.tck"]
    assert (tmp_path / "a.tck").read_bytes().startswith(b"mrtrix tracks")


def test_a_folder_lands_whole_onto_nothing_or_an_empty_folder_and_never_merges(
    tmp_path: Path,
) -> None:
    target = tmp_path / "pkg"
    with pytest.raises(RuntimeError), landing(target) as part:
        (part / "src").mkdir(parents=True)
        (part / "src" / "a.py").write_text("half")
        raise RuntimeError("half way")
    assert list(tmp_path.iterdir()) == []  # the half-made folder is gone
    target.mkdir()
    with landing(target) as part:
        part.mkdir()
        (part / "a.py").write_text("whole")
    assert [p.name for p in tmp_path.iterdir()] == ["pkg"]
    assert (target / "a.py").read_text() == "whole"
    with pytest.raises(OSError), landing(target) as part:  # not onto a folder with files
        part.mkdir()
        (part / "b.py").write_text("other")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.py", "pkg"]
