"""A PLY file whose header holds a non-ASCII byte is a one-line ValidationError."""

from __future__ import annotations

from pathlib import Path

import pytest

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.io.ply import PlyReader

pytest.importorskip("plyfile")


def test_non_ascii_header_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "scan.ply"
    path.write_bytes(
        b"ply\nformat ascii 1.0\ncomment scann\xc3\xa9 \xff\nelement vertex 1\n"
        b"property float x\nproperty float y\nproperty float z\nend_header\n1 2 3\n"
    )
    with pytest.raises(ValidationError) as caught:
        PlyReader(path)
    message = str(caught.value)
    assert "\n" not in message and "non-ASCII" in message and "0xc3" in message
