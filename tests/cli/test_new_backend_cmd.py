"""``zarr-vectors new-backend NAME`` writes a plugin distribution whose own tests run the kit.

The skeleton is installed, with the core, into a throwaway virtual environment
(``uv venv`` + ``uv pip install -e``; nothing touches the workspace's own
environment), listed by ``zarr-vectors backends``, and its test suite (the
conformance kit) passes. Breaking its listing makes that suite fail, so the
tests really run the kit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from zarr_vectors.cli.new_backend_cmd import write_skeleton
from zarr_vectors.exceptions import StoreExistsError, ValidationError
from zarr_vectors.testing import CHECK_NAMES

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "packages" / "zarr-vectors-core"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the skeleton's folder, the python of a throwaway venv where it is installed)."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is needed to make the throwaway environment")
    where = tmp_path_factory.mktemp("skeleton")
    root = write_skeleton("kit_demo", where)
    venv = where / "venv"
    subprocess.run([uv, "venv", "-q", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(python),
         "-e", f"{CORE}[testing]", "-e", str(root)],
        check=True,
    )  # fmt: skip
    return root, python


def _run(python: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The skeleton's own pytest run takes none of this suite's PYTEST_ADDOPTS.
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    return subprocess.run(
        [str(python), *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=env
    )


def _basetemp(root: Path) -> str:
    """The skeleton's pytest keeps its temporary folders beside it: one made in the
    machine's shared ``pytest-of-<user>`` deletes older runs' folders as it ends (30 to
    90 s when other runs had left gigabytes; see ``tests/helpers/kit_routes.run_pytest``)."""
    return f"--basetemp={root.with_name(root.name + '-basetemp')}"


def test_the_skeleton_is_a_listed_plugin_whose_tests_pass(installed: tuple[Path, Path]) -> None:
    root, python = installed
    code = "from zarr_vectors.cli import main; main()"
    listed = _run(python, root, "-c", code, "backends", "--json")
    assert '"name": "kit_demo"' in listed.stdout and '"status": "ok"' in listed.stdout
    run = _run(python, root, "-m", "pytest", "-q", "-p", "no:cacheprovider", _basetemp(root),
               "--zv-max-examples", "3", "--zv-steps", "10")  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    # every check but two-processes: the skeleton keeps objects in the test process
    assert f"{len(CHECK_NAMES) - 1} passed, 1 skipped" in run.stdout


def test_the_skeletons_tests_catch_a_broken_backend(installed: tuple[Path, Path]) -> None:
    root, python = installed
    backend = root / "src" / "zarr_vectors_kit_demo" / "backend.py"
    original = backend.read_text(encoding="utf-8")
    broken = original.replace(
        "return children_of(prefix, keys, recursive)", "return children_of(prefix, keys, True)"
    )
    assert broken != original
    backend.write_text(broken, encoding="utf-8")
    try:
        run = _run(python, root, "-m", "pytest", "-q", "-p", "no:cacheprovider", _basetemp(root),
                   "--zv-max-examples", "5", "-k", "key_contract")  # fmt: skip
    finally:
        backend.write_text(original, encoding="utf-8")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "recursive=False" in run.stdout and "replay: pytest" in run.stdout


def test_bad_names_and_existing_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not a backend name"):
        write_skeleton("My-Store", tmp_path)
    with pytest.raises(ValidationError, match="not a URL scheme"):
        write_skeleton("good", tmp_path, scheme="no_underscores")
    write_skeleton("good", tmp_path)
    with pytest.raises(StoreExistsError, match="already exists"):
        write_skeleton("good", tmp_path)
    text = (tmp_path / "zarr-vectors-good" / "pyproject.toml").read_text(encoding="utf-8")
    assert 'good = "zarr_vectors_good.info:INFO"' in text


def test_the_command_writes_the_skeleton_and_says_what_next(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from zarr_vectors.cli import main

    result = CliRunner().invoke(main, ["new-backend", "my_store", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    root = tmp_path / "zarr-vectors-my-store"
    assert f"Created {root}" in result.output and "pytest" in result.output
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "pyproject.toml",
        "src/zarr_vectors_my_store/__init__.py",
        "src/zarr_vectors_my_store/backend.py",
        "src/zarr_vectors_my_store/info.py",
        "src/zarr_vectors_my_store/py.typed",
        "tests/test_conformance.py",
    ]
    for path in root.rglob("*.py"):  # every template became valid Python
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    assert "class MyStoreBackend(Backend)" in (root / files[3]).read_text(encoding="utf-8")
    assert "my-store://" in (root / "README.md").read_text(encoding="utf-8")
    again = CliRunner().invoke(main, ["new-backend", "my_store", "--dir", str(tmp_path)])
    assert again.exit_code == 1 and "already exists" in again.output


def test_the_skeletons_backend_keeps_objects_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its storage calls work before any is replaced (the kit runs them in test_..._pass)."""
    root = write_skeleton("in_mem", tmp_path, scheme="inmem")
    monkeypatch.syspath_prepend(str(root / "src"))
    from zarr_vectors_in_mem.backend import InMemBackend  # type: ignore[import-not-found]

    with InMemBackend("inmem://one") as backend:
        backend.put_bytes("a/b", b"hello")
        assert backend.get_bytes("a/b") == b"hello"
        assert list(backend.list_prefix("a/", recursive=True)) == ["a/b"]
    with InMemBackend("inmem://one") as again:  # the same URL sees the same objects
        assert again.exists("a/b")


def test_a_failure_half_way_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zarr_vectors.cli.new_backend_cmd as cmd

    # backend.py comes after pyproject.toml, README.md, __init__.py, py.typed and info.py
    monkeypatch.setattr(cmd, "_BACKEND", cmd._BACKEND + "{not_a_field}")
    with pytest.raises(KeyError, match="not_a_field"):
        write_skeleton("half", tmp_path)
    assert list(tmp_path.iterdir()) == []  # no zarr-vectors-half, no temporary folder


def test_an_existing_folder_is_refused_before_anything_is_written_unless_empty(
    tmp_path: Path,
) -> None:
    root = tmp_path / "zarr-vectors-taken"
    root.mkdir()
    (root / "notes.txt").write_text("mine")
    with pytest.raises(StoreExistsError, match="already exists"):
        write_skeleton("taken", tmp_path)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["notes.txt", "zarr-vectors-taken"]
    (tmp_path / "zarr-vectors-empty").mkdir()
    assert write_skeleton("empty", tmp_path) == tmp_path / "zarr-vectors-empty"
    assert (tmp_path / "zarr-vectors-empty" / "pyproject.toml").is_file()


def test_a_bad_name_is_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    from tests.helpers.cli import run

    code, out = run("new-backend", "My-Store", "--dir", tmp_path)
    assert code == 2 and out.startswith("Error: 'My-Store' is not a backend name")
    code, out = run("new-backend", "good", "--scheme", "no_underscores", "--dir", tmp_path)
    assert code == 2 and "not a URL scheme" in out
    assert list(tmp_path.iterdir()) == []
