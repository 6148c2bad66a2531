"""Backend options written as ``KEY=VALUE`` (zarr_vectors.storage.option_text)."""

from __future__ import annotations

import pytest

from zarr_vectors.exceptions import BackendOptionError
from zarr_vectors.storage.option_text import parse_option_pairs


def test_values_are_read_as_booleans_numbers_json_or_text() -> None:
    options = parse_option_pairs(
        [
            "region=us-east-1",
            "allow_http=true",
            "virtual_hosted_style_request=Off",
            "max_retries=3",
            "timeout=2.5",
            ' headers = {"x-a": "1"}',
            "token=a=b",  # only the first '=' splits
            "empty=",
        ]
    )
    assert options == {
        "region": "us-east-1",
        "allow_http": True,
        "virtual_hosted_style_request": False,
        "max_retries": 3,
        "timeout": 2.5,
        "headers": {"x-a": "1"},
        "token": "a=b",
        "empty": "",
    }
    assert parse_option_pairs(["a=1", "a=2"]) == {"a": 2}  # the last one wins


@pytest.mark.parametrize("pair", ["region", "=us-east-1", "  =x"])
def test_what_is_not_key_equals_value_is_refused_with_an_example(pair: str) -> None:
    with pytest.raises(BackendOptionError, match=r"is not KEY=VALUE.*--option region=us-east-1"):
        parse_option_pairs([pair])
