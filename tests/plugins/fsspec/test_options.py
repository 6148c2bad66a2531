"""zarr_vectors_fsspec.options: option types checked early, URL credentials made options.

Pure functions (aiohttp is imported for the HTTP basic-auth header only).
"""

from __future__ import annotations

from typing import Any

import pytest

from zarr_vectors.exceptions import BackendOptionError, StoreError
from zarr_vectors.storage import make_backend
from zarr_vectors.storage.secrets import split_url_credentials
from zarr_vectors_fsspec.options import (
    apply_url_credentials,
    check_backend_options,
    check_storage_options,
    install_hint,
)

SECRET = "zv-Opt-Secret-5c1a"


@pytest.mark.parametrize(
    ("url", "option", "value", "expected"),
    [
        ("memory://zv/t", "max_concurrency", "8", "an int >= 1"),
        ("memory://zv/t", "max_concurrency", 8.0, "an int >= 1"),
        ("memory://zv/t", "timeout", "30", "a number of seconds"),
        ("memory://zv/t", "verify_prefixes", "yes", "True or False"),
        ("s3://bucket/t", "client_kwargs", "region_name=eu-west-1", "a dict"),
        ("s3://bucket/t", "config_kwargs", [("retries", 3)], "a dict"),
        ("s3://bucket/t", "endpoint_url", 8333, "a URL string"),
        ("s3://bucket/t", "anon", "true", "True or False"),
        ("s3://bucket/t", "secret", 12345678, "a string"),
        ("gs://bucket/t", "session_kwargs", "x", "a dict"),
    ],
)
def test_option_types_are_named(url: str, option: str, value: Any, expected: str) -> None:
    with pytest.raises(BackendOptionError) as info:
        make_backend(url, backend="fsspec", **{option: value})
    message = str(info.value)
    assert "\n" not in message
    assert f"option {option} must be {expected}" in message
    assert f"got {type(value).__name__}" in message
    if option == "secret":
        assert "12345678" not in message  # a credential's value is never echoed
    else:
        assert f"{option}=" in message  # an example of the right type


def test_right_types_pass_and_values_are_shown_only_when_short() -> None:
    check_backend_options(None, 30, True)
    check_backend_options(4, 0.5, False)
    check_storage_options("s3", {"client_kwargs": None, "anon": None, "key": "k"})
    check_storage_options("gs", {"key": 1})  # only s3fs's key/secret/token are strings
    with pytest.raises(BackendOptionError, match=r"got bool True;"):
        check_backend_options(True, 30, True)
    with pytest.raises(BackendOptionError, match=r"got str;"):
        check_backend_options(None, "3" * 70, True)
    with pytest.raises(BackendOptionError, match=r"got dict;"):
        check_storage_options("s3", {"anon": {"x": SECRET}})


def test_install_hint_names_the_extra_or_quotes_fsspec() -> None:
    assert install_hint("gcs", "No module named gcsfs") == (
        'install it with: pip install "zarr-vectors-fsspec[gcs]"'
    )
    assert install_hint("abfs", "") == 'install it with: pip install "zarr-vectors-fsspec[azure]"'
    assert install_hint("sftp", ' Install "paramiko" to access SFTP. ') == (
        'fsspec says: Install "paramiko" to access SFTP'
    )
    assert install_hint("dropbox", " ") == "install fsspec's dropbox implementation"


def _apply(url: str, options: dict[str, Any], protocol: str | None = None) -> list[str]:
    clean, found = split_url_credentials(url)
    return apply_url_credentials(protocol or url.split(":", 1)[0], clean, found, options)


def test_no_credentials_change_nothing() -> None:
    options: dict[str, Any] = {"anon": True}
    assert _apply("s3://bucket/x", options) == [] and options == {"anon": True}


def test_s3_key_and_secret() -> None:
    options: dict[str, Any] = {}
    secrets = _apply(f"s3://AKID:{SECRET}@bucket/x", options)
    assert options == {"key": "AKID", "secret": SECRET} and SECRET in secrets


def test_azure_sas_as_option_or_in_the_connection_string() -> None:
    sas = f"sv=2021&sig={SECRET}"
    options: dict[str, Any] = {"account_name": "a"}
    _apply(f"az://c/x?{sas}", options)
    assert options == {"account_name": "a", "sas_token": sas}
    options = {"connection_string": "AccountName=a;BlobEndpoint=http://h;"}
    _apply(f"az://c/x?{sas}", options)
    assert options["connection_string"] == (
        f"AccountName=a;BlobEndpoint=http://h;SharedAccessSignature={sas}"
    )
    with pytest.raises(BackendOptionError, match="AccountKey/SharedAccessSignature"):
        _apply(f"az://c/x?{sas}", {"connection_string": "AccountName=a;AccountKey=k"})


def test_http_basic_auth_header() -> None:
    options: dict[str, Any] = {"client_kwargs": {"headers": {"Accept": "*/*"}}}
    secrets = _apply(f"http://me:{SECRET}@127.0.0.1:1/x", options)
    headers = options["client_kwargs"]["headers"]
    assert headers["Accept"] == "*/*" and headers["Authorization"].startswith("Basic ")
    assert headers["Authorization"] in secrets and SECRET in secrets
    with pytest.raises(StoreError, match="may not contain ':'"):
        _apply(f"http://a%3Ab:{SECRET}@127.0.0.1:1/x", {})


@pytest.mark.parametrize(
    ("url", "options", "said"),
    [
        (f"s3://AKID:{SECRET}@bucket/x", {"secret": "other"}, "key/secret"),
        (f"s3://AKID:{SECRET}@bucket/x", {"anon": True}, "anon=True"),
        (f"s3://:{SECRET}@bucket/x", {}, "both an access key id and a secret"),
        (f"s3://bucket/x?X-Amz-Signature={SECRET}", {}, "presigned"),
        (f"az://c/x?sig={SECRET}", {"sas_token": "s"}, "sas_token"),
        (f"az://u:{SECRET}@c/x", {}, "no user:password"),
        (f"https://h/x?sig={SECRET}", {}, "signed query"),
        (f"http://u:{SECRET}@h/x", {"client_kwargs": {"auth": "a"}}, "client_kwargs['auth']"),
        (f"gs://u:{SECRET}@b/x", {}, "gcsfs takes no credentials"),
        (f"sftp://u:{SECRET}@h/x", {}, "'username': ..., 'password'"),
        (f"memory://u:{SECRET}@x", {}, "takes none from a URL"),
    ],
)
def test_unusable_or_doubled_credentials_are_refused(
    url: str, options: dict[str, Any], said: str
) -> None:
    with pytest.raises(BackendOptionError) as info:
        _apply(url, options)
    assert said in str(info.value) and SECRET not in str(info.value)
