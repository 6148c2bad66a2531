"""The documentation site builds with ``mkdocs build --strict``: no broken link, no bad reference.

Strict mode turns every warning (a link to a page that does not exist, an
anchor that is not there, a ``:::`` reference mkdocstrings cannot resolve, a
page missing from the navigation) into a failure, so this test fails when a
page or a docstring breaks the site.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    points = (site / "api" / "points" / "index.html").read_text(encoding="utf-8")
    # the reference is generated from the docstrings, with their Sphinx roles stripped
    assert "Write a point cloud to" in points and "read_points" in points
    assert ":func:" not in points
    changelog = (site / "changelog" / "index.html").read_text(encoding="utf-8")
    assert "Unreleased" in changelog  # CHANGELOG.md is included, not copied
    for page in ("quickstart", "cli", "store-api", "plugin-authors", "performance"):
        assert (site / page / "index.html").is_file(), page
