"""Every ```python block in docs/*.md runs (blocks preceded by <!-- no-run --> are skipped).

Blocks of one page run in order in one namespace, inside a temporary working
directory, so a page can build on its earlier examples.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"(<!--\s*no-run\s*-->\s*)?```python\n(.*?)```", re.DOTALL)


def _pages() -> list[Path]:
    return sorted(p for p in DOCS.glob("*.md") if BLOCK.search(p.read_text(encoding="utf-8")))


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name)
def test_doc_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    ran = 0
    for match in BLOCK.finditer(page.read_text(encoding="utf-8")):
        if match.group(1):
            continue
        code = compile(match.group(2), f"{page.name}:block{ran}", "exec")
        exec(code, namespace)
        ran += 1
    assert ran > 0
