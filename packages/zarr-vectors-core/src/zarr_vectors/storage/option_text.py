"""Backend options written as text, ``KEY=VALUE``: the command line's and the kit's ``--option``."""

from __future__ import annotations

import json
from typing import Any

from zarr_vectors.exceptions import BackendOptionError

__all__ = ["parse_option_pairs"]


def _value(text: str) -> Any:
    """Interpret ``true``/``false``/numbers/JSON; anything else stays a string."""
    lowered = text.lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_option_pairs(pairs: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``("region=us-east-1", "allow_http=true")`` -> ``{"region": "us-east-1", ...}``."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise BackendOptionError(
                f"{pair!r} is not KEY=VALUE (for example --option region=us-east-1)"
            )
        options[key.strip()] = _value(raw)
    return options
