"""Each distribution builds on its own, and the core works with no cloud library installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHECK = r"""
import importlib.util, sys
import zarr_vectors
from zarr_vectors.storage import list_backends, make_backend, resolve_backend_name
from zarr_vectors.exceptions import StoreError
for lib in ("obstore", "fsspec", "s3fs", "gcsfs", "adlfs", "zarr_vectors_obstore"):
    assert importlib.util.find_spec(lib) is None, lib + " should not be installed"
assert [r.name for r in list_backends()] == ["local"], list_backends()
assert resolve_backend_name(sys.argv[1]) == "local"
backend = make_backend(sys.argv[1])
backend.put_bytes("a/b", b"ok")
assert backend.get_bytes("a/b") == b"ok"
try:
    resolve_backend_name("s3://bucket/key")
except StoreError as exc:
    print(exc)
else:
    raise SystemExit("s3:// resolved with no cloud plugin installed")
"""


@pytest.mark.slow
def test_core_wheel_installs_and_works_without_cloud_libraries(tmp_path: Path) -> None:
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    dist = tmp_path / "dist"
    subprocess.run(
        [uv, "build", "--package", "zarr-vectors-core", "--wheel", "--out-dir", str(dist)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    wheels = list(dist.glob("zarr_vectors_core-*.whl"))
    assert len(wheels) == 1, wheels
    venv = tmp_path / "venv"
    subprocess.run(
        [uv, "venv", "--python", sys.executable, str(venv)], check=True, capture_output=True
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [uv, "pip", "install", "--python", str(python), str(wheels[0])],
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        [str(python), "-c", CHECK, str(tmp_path / "store")], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "'s3://'" in out.stdout
    assert 'pip install "zarr-vectors-core[obstore]"' in out.stdout
    cli = subprocess.run(
        [str(venv / "bin" / "zarr-vectors"), "backends", "--json"], capture_output=True, text=True
    )
    assert cli.returncode == 0 and '"local"' in cli.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    "package", ["zarr-vectors-obstore", "zarr-vectors-fsspec", "zarr-vectors-icechunk"]
)
def test_plugin_distributions_build(tmp_path: Path, package: str) -> None:
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    subprocess.run(
        [uv, "build", "--package", package, "--out-dir", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    names = sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".whl", ".gz"))
    assert len(names) == 2, names
