"""Repeated ``--option KEY=VALUE`` arguments as backend options, or a usage error of --option."""

from __future__ import annotations

import click
import pytest

from zarr_vectors.cli.options import parse_options


def test_pairs_become_typed_backend_options() -> None:
    got = parse_options(("region=us-east-1", "allow_http=true", "max_retries=3", "timeout=2.5"))
    assert got == {"region": "us-east-1", "allow_http": True, "max_retries": 3, "timeout": 2.5}
    assert parse_options([]) == {}


def test_a_pair_without_a_value_is_a_usage_error_of_the_option() -> None:
    with pytest.raises(click.BadParameter) as caught:
        parse_options(["novalue"])
    assert caught.value.param_hint == "--option"
    assert "KEY=VALUE" in caught.value.format_message()
