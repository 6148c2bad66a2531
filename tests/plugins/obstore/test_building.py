"""zarr_vectors_obstore.building: checking option types, making the store, naming refusals.

No network: obstore stores are made but never asked anything.
"""

from __future__ import annotations

import pytest
from obstore.exceptions import GenericError, UnknownConfigurationKeyError
from obstore.store import MemoryStore, S3Store

from zarr_vectors.exceptions import BackendOptionError, StoreError
from zarr_vectors_obstore.building import (
    bad_config,
    build_store,
    cannot_serve,
    check_types,
    describe_store,
    unknown_keys,
)
from zarr_vectors_obstore.options import StoreOptions, split_options


def _never(exc: BaseException) -> StoreError:
    raise AssertionError(f"obstore refused: {exc}")


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("8", 1.0, 0, True), "max_concurrency"),
        ((True, 1.0, 0, True), "max_concurrency"),
        ((0, 1.0, 0, True), "max_concurrency"),
        ((None, 0, 0, True), "timeout"),
        ((None, float("inf"), 0, True), "timeout"),
        ((None, True, 0, True), "timeout"),
        ((None, 1.0, -1, True), "max_retries"),
        ((None, 1.0, 2.0, True), "max_retries"),
        ((None, 1.0, 0, "yes"), "verify_prefixes"),
    ],
)
def test_wrong_option_values_are_named(args: tuple[object, ...], named: str) -> None:
    with pytest.raises(BackendOptionError, match=f"option {named} must be"):
        check_types(*args)


def test_right_option_values_pass() -> None:
    check_types(None, 30, 0, False)
    check_types(4, 0.5, 3, True)


def test_memory_stores_are_one_per_url() -> None:
    opts = StoreOptions()
    one = build_store("memory://zv-building/", "memory", "memory", opts, _never).store
    assert build_store("memory://zv-building", "memory", "memory", opts, _never).store is one
    assert build_store("memory://zv-other", "memory", "memory", opts, _never).store is not one


def test_an_http_endpoint_allows_plain_http() -> None:
    opts = split_options(
        "s3", {"endpoint": "http://127.0.0.1:1", "region": "r"}, timeout=5, max_retries=0
    )
    built = build_store("s3://bucket/p", "s3", "s3", opts, _never)
    assert opts.client_options["allow_http"] is True
    assert built.no_credentials  # region and endpoint only: obstore would ask instance metadata
    opts = split_options("s3", {"region": "r", "skip_signature": True}, timeout=5, max_retries=0)
    built = build_store("s3://bucket/p", "s3", "s3", opts, _never)
    assert "allow_http" not in opts.client_options and not built.no_credentials


def test_a_refused_configuration_goes_to_fail() -> None:
    opts = split_options("s3", {"regoin": "r"}, timeout=5, max_retries=0)

    def fail(exc: BaseException) -> StoreError:
        assert isinstance(exc, UnknownConfigurationKeyError)
        return StoreError("refused")

    with pytest.raises(StoreError, match="refused"):
        build_store("s3://bucket/p", "s3", "s3", opts, fail)


def test_bad_config_names_the_unknown_keys() -> None:
    opts = split_options("s3", {"regoin": "r", "region": "r", "bogus": 1}, timeout=5, max_retries=0)
    assert unknown_keys(opts, "s3") == ["bogus", "regoin"]
    err = bad_config(UnknownConfigurationKeyError("x"), opts, "s3", "s3://b", lambda s: s)
    assert isinstance(err, BackendOptionError) and "'bogus', 'regoin'" in str(err)
    other = bad_config(GenericError("bad\nmore"), opts, "s3", "s3://b", lambda s: s)
    assert type(other) is StoreError
    assert str(other) == "The 'obstore' backend could not be configured for s3://b: bad."


def test_a_scheme_it_cannot_serve_is_explained() -> None:
    line = cannot_serve("zvnone://u:PW-zv@host/x", "zvnone")
    assert "PW-zv" not in line and "the scheme zvnone://" in line and "s3://" in line
    assert "no installed backend serves the scheme zvnone://" in line
    assert "a local path" in cannot_serve("/data/x", "")


def test_a_callers_store_is_described_without_its_secrets() -> None:
    s3 = S3Store(
        "bucket",
        prefix="a/b/",
        region="r",
        access_key_id="K",
        secret_access_key="S3-SECRET-zv-0001",
    )
    family, url, secrets = describe_store(s3)
    assert (family, url) == ("s3", "s3://bucket/a/b") and "S3-SECRET-zv-0001" in secrets
    family, url, _ = describe_store(MemoryStore())
    assert family == "memory" and url.startswith("memory://obstore-")
    with pytest.raises(StoreError, match="cannot be used as a zarr-vectors store"):
        describe_store(object())
