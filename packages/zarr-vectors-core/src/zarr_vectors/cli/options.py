"""Parsing of repeated ``--option KEY=VALUE`` arguments into backend options."""

from __future__ import annotations

from typing import Any

import click

from zarr_vectors.exceptions import BackendOptionError
from zarr_vectors.storage.option_text import parse_option_pairs

__all__ = ["parse_options"]


def parse_options(pairs: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``--option`` pairs as backend options; a malformed pair is a usage error of the command."""
    try:
        return parse_option_pairs(pairs)
    except BackendOptionError as exc:
        raise click.BadParameter(str(exc), param_hint="--option") from None
