"""zarr_vectors_obstore.options: one flat set of options sorted into obstore's three places.

Pure functions, no store is made: friendly names are translated per family, HTTP
client settings and retry settings go to their own dicts, an Azure connection
string is read field by field, and the secrets to scrub include their pieces.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from zarr_vectors.exceptions import BackendOptionError
from zarr_vectors_obstore.backend import ObstoreBackend
from zarr_vectors_obstore.options import family_of, secrets_of, split_options


def test_family_of_maps_schemes_case_blind() -> None:
    assert family_of("S3A") == "s3"
    assert family_of("gs") == "gcs"
    assert family_of("abfss") == "azure"
    assert family_of("https") == "http"
    assert family_of("ftp") is None


def test_friendly_names_are_translated_per_family() -> None:
    s3 = split_options(
        "s3", {"endpoint_url": "http://h", "key": "K", "anon": True}, timeout=5, max_retries=1
    )
    assert s3.config == {"endpoint": "http://h", "access_key_id": "K", "skip_signature": True}
    gcs = split_options("gcs", {"endpoint_url": "http://g", "token": "T"}, timeout=5, max_retries=1)
    assert gcs.config == {"base_url": "http://g", "bearer_token": "T"}
    # An unknown name is left for obstore to judge.
    az = split_options("azure", {"account": "a", "regoin": "x"}, timeout=5, max_retries=1)
    assert az.config == {"account_name": "a", "regoin": "x"}


def test_client_and_retry_settings_go_to_their_places_with_defaults() -> None:
    sorted_ = split_options(
        "s3",
        {"allow_http": True, "client_options": {"user_agent": "zv"}, "retry_config": {"a": 1}},
        timeout=30,
        max_retries=4,
    )
    assert sorted_.config == {}
    assert sorted_.client_options == {
        "allow_http": True,
        "user_agent": "zv",
        "timeout": timedelta(seconds=30),
        "connect_timeout": timedelta(seconds=10),  # at most 10 s to connect
    }
    assert sorted_.retry_config == {
        "a": 1,
        "max_retries": 4,
        "retry_timeout": timedelta(seconds=30),
    }
    given = split_options("s3", {"connect_timeout": "1s"}, timeout=3, max_retries=0)
    assert given.client_options["connect_timeout"] == "1s"  # a given value is kept
    assert split_options("s3", {}, timeout=3, max_retries=0).client_options[
        "connect_timeout"
    ] == timedelta(seconds=3)


@pytest.mark.parametrize("name", ["client_options", "retry_config"])
def test_client_and_retry_options_must_be_dicts(name: str) -> None:
    with pytest.raises(BackendOptionError, match=f"{name} must be a dict.*got list"):
        split_options("s3", {name: ["x"]}, timeout=5, max_retries=1)


@pytest.mark.parametrize("family", ["http", "memory"])
def test_http_and_memory_take_no_store_config(family: str) -> None:
    with pytest.raises(BackendOptionError, match="'region'"):
        split_options(family, {"region": "x"}, timeout=5, max_retries=1)
    assert split_options(family, {"allow_http": True}, timeout=5, max_retries=1).config == {}


def test_memory_refuses_store_config() -> None:
    with pytest.raises(BackendOptionError, match="region"):
        ObstoreBackend("memory://x", region="us-east-1")


def test_http_refuses_store_config() -> None:
    with pytest.raises(BackendOptionError, match="'access_key_id'"):
        ObstoreBackend("http://127.0.0.1:1/x", access_key_id="a")


def test_azure_connection_string_is_read_field_by_field() -> None:
    conn = (
        "DefaultEndpointsProtocol=http; AccountName=acct;AccountKey=KEY-zv-0123456789;"
        "BlobEndpoint=http://127.0.0.1:1/acct;SharedAccessSignature=sv=1&sig=SIG-zv-98765"
    )
    got = split_options("azure", {"connection_string": conn}, timeout=5, max_retries=1)
    assert got.config == {
        "account_name": "acct",
        "account_key": "KEY-zv-0123456789",
        "endpoint": "http://127.0.0.1:1/acct",
        "sas_key": "sv=1&sig=SIG-zv-98765",
    }
    dev = split_options(
        "azure", {"connection_string": "UseDevelopmentStorage=true"}, timeout=5, max_retries=1
    )
    assert dev.config == {"use_emulator": "true"}
    with pytest.raises(BackendOptionError, match="no AccountName"):
        split_options("azure", {"connection_string": "AccountKey=k"}, timeout=5, max_retries=1)


def test_secrets_include_the_pieces_they_leak_in() -> None:
    sas = "sv=2021-08-06&sig=SIGNATURE-zv-42"
    found = secrets_of({"sas_token": sas, "region": "us-east-1"})
    assert sas in found and "SIGNATURE-zv-42" in found
    assert "2021-08-06" in found  # long enough to be worth scrubbing
    assert "us-east-1" not in found
    conn = "AccountName=a;AccountKey=ACCOUNTKEY-zv-1"
    assert "ACCOUNTKEY-zv-1" in secrets_of({"connection_string": conn})
    assert "a" not in secrets_of({"connection_string": conn})  # short pieces are not


def test_the_repr_shows_no_credential() -> None:
    sorted_ = split_options(
        "azure",
        {"connection_string": "AccountName=acct;AccountKey=ACCOUNTKEY-zv-7", "sas_key": "SIG-zv-8"},
        timeout=30.0,
        max_retries=2,
    )
    shown = repr(sorted_)
    assert "ACCOUNTKEY-zv-7" not in shown and "SIG-zv-8" not in shown
    assert "StoreOptions(config=" in shown and "'account_key': '***'" in shown
