"""CONTRIBUTING.md stays true: the paths and names it sends a newcomer to exist.

Its layer picture is held to ``LAYERS`` by ``tests/test_architecture.py``; here every
backticked path (``<name>`` standing for any name) and dotted name it gives is looked up.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "CONTRIBUTING.md"
#: Where a path in the guide may be written from: the root, the core's src, its package.
_BASES = [
    ROOT,
    ROOT / "packages/zarr-vectors-core/src",
    ROOT / "packages/zarr-vectors-core/src/zarr_vectors",
]


def _quoted() -> list[str]:
    return sorted(set(re.findall(r"`([^`\s]+)`", GUIDE.read_text(encoding="utf-8"))))


def _paths() -> list[str]:
    return [q for q in _quoted() if "/" in q and "://" not in q and not q.startswith("-")]


def _dotted() -> list[str]:
    """Dotted names (``storage.base.Backend`` is read as ``zarr_vectors.storage...``)."""
    names = set()
    for quoted in _quoted():
        if found := re.match(r"(zarr_vectors|tests|storage|store)((\.\w+)+)", quoted):
            root = found.group(1) if found.group(1) in ("zarr_vectors", "tests") else ""
            names.add(f"{root or 'zarr_vectors.' + found.group(1)}{found.group(2)}")
    return sorted(names)


@pytest.mark.parametrize("path", _paths())
def test_every_path_in_the_guide_exists(path: str) -> None:
    pattern = re.sub(r"<[^>]+>", "*", path.rstrip("/"))
    assert any(any(base.glob(pattern)) for base in _BASES), f"CONTRIBUTING.md names {path}"


def test_every_dotted_name_in_the_guide_can_be_imported() -> None:
    missing = []
    for name in _dotted():
        parts = name.split(".")
        for cut in range(len(parts), 0, -1):  # the longest importable module, then attributes
            try:
                found: object = importlib.import_module(".".join(parts[:cut]))
            except ModuleNotFoundError:
                continue
            for attribute in parts[cut:]:
                found = getattr(found, attribute, None)
            if found is None and name != "zarr_vectors.backends":  # an entry-point group
                missing.append(name)
            break
        else:
            missing.append(name)
    assert _dotted() and not missing, f"CONTRIBUTING.md names {missing}"
