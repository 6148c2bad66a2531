"""Local-disk failures are one-line StoreErrors that say what to do, before anything is written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.tmpfs import small_tmpfs
from zarr_vectors.exceptions import StoreError
from zarr_vectors.types.points import write_points

CLI = str(Path(sys.executable).with_name("zarr-vectors"))


def test_new_store_on_a_read_only_mount(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "ro", "1m", read_only=True) as mount:
        with pytest.raises(StoreError) as caught:
            write_points(mount / "new.zv", np.zeros((5, 3), np.float32), chunk_shape=(1.0,) * 3)
        message = str(caught.value)
        assert "\n" not in message and "Read-only file system" in message
        assert "write to a location" in message
        cli = subprocess.run(
            [CLI, "demo", "--points", "100", "--dir", str(mount / "demo.zv")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert cli.returncode != 0
        assert "Traceback" not in cli.stderr
        assert len(cli.stderr.strip().splitlines()) <= 2, cli.stderr
        assert "Read-only file system" in cli.stderr
