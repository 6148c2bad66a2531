"""``zarr-vectors verify``: 0 for a sound store, 1 listing every problem, 2 when none is there."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.cli import run_apart
from zarr_vectors.types.points import write_points


@pytest.fixture
def store(tmp_path: Path) -> Path:
    pos = np.random.default_rng(3).uniform(0, 10, (300, 3))
    write_points(tmp_path / "s", pos, chunk_shape=(5.0,) * 3)
    return tmp_path / "s"


def _cells(store: Path) -> list[Path]:
    return sorted(p for p in (store / "0" / "vertices" / "c").rglob("*") if p.is_file())


def test_a_sound_store_exits_0_with_what_was_checked(store: Path) -> None:
    code, out, err = run_apart("verify", store)
    assert code == 0, out + err
    assert out.strip().endswith("sound; 1 level(s), 8 cell(s), 300 point(s) checked")
    assert err == ""


def test_a_damaged_store_exits_1_and_lists_each_problem_on_stderr(store: Path) -> None:
    os.remove(_cells(store)[0])
    code, out, err = run_apart("verify", store)
    assert code == 1
    assert "DAMAGED (1 problem(s))" in out
    assert "missing" in err and "Traceback" not in out + err


def test_the_json_report(store: Path) -> None:
    os.remove(_cells(store)[0])
    code, out, _ = run_apart("verify", store, "--json")
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False and report["levels"] == 1 and report["repaired"] == []
    assert [p["severity"] for p in report["problems"]] == ["error"]
    assert report["points_checked"] < 300


@pytest.mark.parametrize("repair", [[], ["--repair"]])
def test_no_store_there_is_exit_2_and_one_line_not_damaged(
    tmp_path: Path, repair: list[str]
) -> None:
    # 1 is a damaged store (repair or restore it); nothing there is not damaged
    code, out, err = run_apart("verify", tmp_path / "nope", *repair)
    assert code == 2
    assert err.startswith("Error: no Zarr Vectors store at ") and err.count("\n") == 1
    assert out == "" and "DAMAGED" not in err
    assert not (tmp_path / "nope").exists()


def test_on_a_terminal_a_bar_follows_the_cells(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zarr_vectors.cli._progress as progress
    import zarr_vectors.cli.verify_cmd as verify_cmd

    calls: list[tuple[int, int]] = []

    class Bar:
        def __call__(self, done: int, total: int) -> None:
            calls.append((done, total))

        def close(self) -> None:
            calls.append((-1, -1))

    monkeypatch.setattr(progress, "is_terminal", lambda stream=None: True)
    monkeypatch.setattr(verify_cmd, "_bar", Bar)
    assert run_apart("verify", store)[0] == 0
    assert calls[-1] == (-1, -1)  # closed
    assert calls[-2] == (8, 8)
    calls.clear()
    assert run_apart("verify", store, "--json")[0] == 0
    assert calls == []  # JSON is for programs: no bar
