"""``zarr-vectors backends``: every discovered plugin, working or broken, as a table or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.helpers.plugin_dists import write_dist
from tests.helpers.registry import rediscover
from tests.storage.conftest import fresh_registry  # noqa: F401  (the fixture, used by name)
from zarr_vectors.cli import main as cli


@pytest.mark.usefixtures("fresh_registry")
def test_backends_command_lists_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    write_dist(
        site,
        "zv-broken-cli",
        "2.1",
        {"zarr_vectors.backends": {"brokencli": "zv_broken_cli:INFO"}},
        {"zv_broken_cli": "raise RuntimeError('boom at import')\n"},
    )
    monkeypatch.syspath_prepend(str(site))
    rediscover()
    result = CliRunner().invoke(cli, ["backends", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["local"]["status"] == "ok"
    assert rows["local"]["distribution"] == "zarr-vectors-core"
    assert rows["obstore"]["priority"] > rows["fsspec"]["priority"]
    assert "s3" in rows["obstore"]["schemes"]
    assert rows["brokencli"]["status"] == "broken"
    assert "boom at import" in rows["brokencli"]["reason"]
    assert rows["brokencli"]["version"] == "2.1"

    table = CliRunner().invoke(cli, ["backends"], terminal_width=200)
    assert table.exit_code == 0
    for text in ("local", "obstore", "fsspec", "brokencli", "broken", "zarr-vectors-core"):
        assert text in table.output


def test_a_piped_table_is_not_wrapped_at_80_columns() -> None:
    result = CliRunner().invoke(cli, ["backends"])  # CliRunner's stdout is no terminal
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if "zarr-vectors-fsspec" in line]
    if not rows:
        pytest.skip("the fsspec plugin (the longest list of schemes) is not installed")
    assert "s3" in rows[0] and "smb" in rows[0] and "ok" in rows[0]  # one record, one line
