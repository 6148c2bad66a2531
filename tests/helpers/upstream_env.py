"""A separate virtual environment holding the published zarr-vectors 0.9.2.

The published package shares the import name ``zarr_vectors`` with this
project, so it can never be installed next to it. Tests and benchmarks that
compare against it build (once, cached under ``.cache/zv092`` in the repo,
which is git-ignored) a venv of its own with ``uv`` and run scripts there.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("ZV092_VENV", REPO / ".cache" / "zv092"))
PUBLISHED = "zarr-vectors==0.9.2"


def venv_python() -> Path:
    """Python of the venv with the published package, creating the venv if needed."""
    py = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if py.exists() and _has_published(py):
        return py
    VENV.parent.mkdir(parents=True, exist_ok=True)
    # Test workers (pytest-xdist) build it one at a time: the first builds, the rest reuse.
    with open(VENV.parent / f"{VENV.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if py.exists() and _has_published(py):
            return py
        return _build(py)


def _build(py: Path) -> Path:
    uv = shutil.which("uv")
    if uv is None:
        raise RuntimeError("uv is needed to build the venv holding zarr-vectors 0.9.2")
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    subprocess.run(
        [uv, "venv", "--quiet", "--allow-existing", "--python", sys.executable, str(VENV)],
        check=True,
        env=env,
    )
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(py), PUBLISHED],
        check=True,
        env=env,
    )
    if not _has_published(py):
        raise RuntimeError(f"{PUBLISHED} did not install into {VENV}")
    return py


def with_library(distribution: str, module: str) -> Path:
    """Python of the venv, with ``distribution`` (importable as ``module``) installed in it too.

    For optional parts of the published package, e.g. its Draco encoding
    (``with_library("DracoPy", "DracoPy")``); installed once, under the build lock.
    """
    py = venv_python()
    probe = [str(py), "-c", f"import {module}"]
    if subprocess.run(probe, capture_output=True).returncode == 0:
        return py
    with open(VENV.parent / f"{VENV.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if subprocess.run(probe, capture_output=True).returncode != 0:
            env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
            uv = shutil.which("uv") or "uv"
            subprocess.run(
                [uv, "pip", "install", "--quiet", "--python", str(py), distribution],
                check=True,
                env=env,
            )
    return py


def _has_published(py: Path) -> bool:
    probe = "import importlib.metadata as m; print(m.version('zarr-vectors'))"
    out = subprocess.run([str(py), "-c", probe], capture_output=True, text=True)
    return out.returncode == 0 and out.stdout.strip() == "0.9.2"


def run_published(
    script: str, *args: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` (source text) with the published package; raise on failure."""
    py = venv_python()
    proc = subprocess.run(
        [str(py), "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(VENV),  # never the repo: its packages must not shadow the published one
    )
    if proc.returncode != 0:
        raise AssertionError(f"published zarr-vectors script failed:\n{proc.stderr[-4000:]}")
    return proc
