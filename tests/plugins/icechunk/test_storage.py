"""zarr_vectors_icechunk.storage: a URL and options made an ``icechunk.Storage``.

Storages are made, never opened: no repository is read and no request is sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from zarr_vectors.exceptions import BackendOptionError, StoreError
from zarr_vectors_icechunk.storage import _client_config, _scheme, make_location


def test_schemes_and_bare_paths() -> None:
    assert _scheme("S3://b/p") == "s3" and _scheme("file:///x") == "file"
    assert _scheme("/data/x") == "" and _scheme("C:/data") == "" and _scheme("C://data") == ""
    assert _scheme("a b://x") == ""  # not a scheme


def test_an_unserved_scheme_is_named() -> None:
    with pytest.raises(StoreError, match=r"cannot open ftp://u:\*\*\*@h/x: it serves local"):
        make_location("ftp://u:pw@h/x", {})


def test_unknown_and_doubled_options_are_refused() -> None:
    with pytest.raises(BackendOptionError, match=r"option\(s\) bucket_region, zz for s3.*region"):
        make_location("s3://b/p", {"zz": 1, "bucket_region": "x", "region": "r"})
    with pytest.raises(BackendOptionError, match=r"does not accept the option\(s\) region.*none"):
        make_location("memory://x", {"region": "r"})
    with pytest.raises(BackendOptionError, match="secret_access_key twice"):
        make_location("s3://b/p", {"secret": "a", "secret_access_key": "b"})
    make_location("s3://b/p", {"region": "r", "region_name": "r"})  # the same value twice


def test_s3_with_an_endpoint_and_its_secrets() -> None:
    location = make_location(
        "s3a://b/p", {"endpoint": "http://127.0.0.1:9", "key": "AK", "secret": "SEC-zv-1"}
    )
    assert (location.url, location.family, location.secrets) == ("s3a://b/p", "s3", ("SEC-zv-1",))
    shown = repr(location.storage)
    assert "allow_http=true" in shown and "region=us-east-1" in shown


def test_local_and_memory(tmp_path: Path) -> None:
    local = make_location((tmp_path / "r").as_uri(), {})
    assert local.family == "local" and local.secrets == ()
    one = make_location("memory://zv-storage-unit", {})
    assert make_location("memory://zv-storage-unit", {}).storage is one.storage
    assert make_location("memory://zv-storage-other", {}).storage is not one.storage


def test_a_bucket_and_an_azure_account_are_needed() -> None:
    with pytest.raises(StoreError, match="names no bucket or container"):
        make_location("gs:///p", {})
    with pytest.raises(BackendOptionError, match="needs the storage account"):
        make_location("az://cont/p", {})
    from_host = make_location("abfs://cont@acct.dfs.core.windows.net/p", {"account_key": "K-zv"})
    assert "account=acct" in repr(from_host.storage) and "container=cont" in repr(from_host.storage)
    assert from_host.secrets == ("K-zv",)


@pytest.mark.parametrize(
    ("args", "config", "left"),
    [
        (
            {"azure_storage_endpoint": "http://h", "x": 1},
            {"azure_storage_endpoint": "http://h", "allow_http": "true"},
            {"x": 1},
        ),
        (
            {"azure_storage_endpoint": "https://h", "allow_http": False},
            {"azure_storage_endpoint": "https://h", "allow_http": "false"},
            {},
        ),
        ({"azure_storage_use_emulator": True}, {"azure_storage_use_emulator": "true"}, {}),
        ({"x": 1}, None, {"x": 1}),
    ],
)
def test_client_config_is_text_taken_out_of_the_args(
    args: dict[str, Any], config: dict[str, str] | None, left: dict[str, Any]
) -> None:
    assert _client_config(args, "azure_storage_endpoint", "azure_storage_use_emulator") == config
    assert args == left
