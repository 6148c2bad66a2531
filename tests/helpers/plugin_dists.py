"""Build tiny installed distributions (dist-info + modules) for registry tests.

A directory holding ``NAME-VERSION.dist-info/{METADATA,entry_points.txt,RECORD}``
next to the plugin's modules is exactly what an installer leaves in
site-packages, so importlib-metadata discovers these as real distributions
with real entry points once the directory is on ``sys.path``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path


def write_dist(
    site: Path,
    name: str,
    version: str,
    entry_points: dict[str, dict[str, str]],
    modules: dict[str, str],
) -> Path:
    """Create distribution ``name`` in ``site`` and return its dist-info directory."""
    site.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    dist_info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines: list[str] = []
    for group, items in entry_points.items():
        lines.append(f"[{group}]")
        lines.extend(f"{key} = {value}" for key, value in items.items())
        lines.append("")
    (dist_info / "entry_points.txt").write_text("\n".join(lines), encoding="utf-8")
    (dist_info / "RECORD").write_text("", encoding="utf-8")
    return dist_info
