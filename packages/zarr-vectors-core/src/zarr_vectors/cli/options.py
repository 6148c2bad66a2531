"""Parsing of repeated ``--option KEY=VALUE`` arguments into backend options."""

from __future__ import annotations

import json
from typing import Any

import click

__all__ = ["parse_options"]


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


def parse_options(pairs: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``("region=us-east-1", "allow_http=true")`` -> ``{"region": "us-east-1", ...}``."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(
                f"{pair!r} is not KEY=VALUE (for example --option region=us-east-1)",
                param_hint="--option",
            )
        options[key.strip()] = _value(raw)
    return options
