"""The ways an author runs the kit, as child processes: ``check-backend`` and ``pytest --zv-...``.

A faulty backend of ``kit_faulty.py`` is installed as a plugin named ``faulty``
(served for ``dict://``) in a throwaway site directory; the command line and
pytest then run in a child process with that directory on their path. Used by
the tests of the pytest plugin, the collected suite, the time limits and the
``check-backend`` command.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.kit_faulty import FAULTY, DictBackend
from tests.helpers.plugin_dists import write_dist

REPO = Path(__file__).resolve().parents[2]


def faulty_dist(site: Path, fault: str | None, local: bool = False) -> dict[str, str]:
    """Install a backend plugin named 'faulty' (served for dict://) and return an environment."""
    cls = FAULTY[fault] if fault else DictBackend
    write_dist(
        site,
        "zv-faulty-plugin",
        "1.0",
        {"zarr_vectors.backends": {"faulty": "zv_faulty_info:INFO"}},
        {
            "zv_faulty_info": f"""
                from zarr_vectors.storage.info import BackendInfo
                INFO = BackendInfo(name="faulty", schemes=("dict",),
                                   local_schemes={("dict",) if local else ()},
                                   factory="tests.helpers.kit_faulty:{cls.__name__}")
            """
        },
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(REPO)])
    return env


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``zarr-vectors ARGS`` in a child process."""
    code = "from zarr_vectors.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def run_pytest(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``pytest -q ARGS`` in a child process (the kit's pytest11 plugin loads as installed).

    The child is an author's own pytest run: options given to this suite's run through
    ``PYTEST_ADDOPTS`` (a junit file, a plugin) are not passed down to it. Its temporary
    directories go beside ``cwd`` (``--basetemp``), not to the machine's shared
    ``pytest-of-<user>``: a run that makes one there deletes older runs' directories as
    it ends, which took a kit-route test 30 to 90 s when other runs had left gigabytes.
    """
    basetemp = f"--basetemp={cwd.with_name(f'{cwd.name}-basetemp')}"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", basetemp, *args],
        env={k: v for k, v in env.items() if k != "PYTEST_ADDOPTS"},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def own_suite(path: Path) -> Path:
    """An author's own test suite of one test, checking the kit stays out of it unless asked."""
    path.mkdir()
    (path / "test_own.py").write_text(
        "import sys\n"
        "def test_own():\n"
        "    # the kit plugin is loaded (as installed), and imports nothing of the kit\n"
        "    # unless --zv-backend is given\n"
        "    kit = [m for m in sys.modules if m.startswith('zarr_vectors.testing.')]\n"
        "    if '--zv-backend' not in sys.argv:\n"
        "        assert kit == ['zarr_vectors.testing.pytest_plugin'], kit\n",
        encoding="utf-8",
    )
    return path
