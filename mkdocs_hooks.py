"""MkDocs hooks for the documentation site (``hooks:`` in mkdocs.yml).

The docstrings are written for readers of the source and use Sphinx roles
(``:func:`write_points```). mkdocstrings renders them as Markdown, where a role
stays as literal text before the code span; this hook drops the role so the
page shows just the name in code.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:func|meth|class|mod|attr|data|exc|obj|const|py:\w+):(?=<code>)")


def on_page_content(html: str, **_: Any) -> str:
    """Remove ``:func:`` and friends in front of the code spans they marked."""
    return _ROLE.sub("", html)
