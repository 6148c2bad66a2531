"""zarr_vectors_obstore.credentials: credentials taken out of URLs, and S3 credentials in sight.

Pure functions; the environment is set per test with ``monkeypatch`` (cleared
first, so the machine's own AWS variables do not count).
"""

from __future__ import annotations

import base64

import pytest

from zarr_vectors.exceptions import BackendOptionError
from zarr_vectors_obstore.credentials import (
    _S3_CREDENTIAL_ENV,
    S3_ENDPOINT_ENV,
    is_azure_host,
    metadata_failure,
    missing_s3_credentials,
    options_from_url,
    pin_s3_endpoint,
    s3_endpoint_from_env,
    s3_has_credentials,
)

#: Every variable the module reads (its own lists), cleared for each test that reads them.
_AWS_ENV = (*S3_ENDPOINT_ENV, *_S3_CREDENTIAL_ENV, "AWS_SKIP_SIGNATURE", "AWS_METADATA_ENDPOINT")


@pytest.fixture
def no_aws_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in _AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_a_url_without_credentials_is_kept() -> None:
    got = options_from_url("s3://bucket/p", "s3", {"region": "r"})
    assert (got.url, got.family, got.options, got.secrets) == (
        "s3://bucket/p",
        "s3",
        {"region": "r"},
        [],
    )


def test_s3_key_and_secret_become_options() -> None:
    got = options_from_url("s3://AKID:S3-SECRET-zv-1@bucket/p", "s3", {"region": "r"})
    assert got.url == "s3://bucket/p"
    assert got.options == {
        "region": "r",
        "access_key_id": "AKID",
        "secret_access_key": "S3-SECRET-zv-1",
    }
    assert "S3-SECRET-zv-1" in got.secrets
    assert "S3-SECRET-zv-1" not in repr(got) and "'access_key_id'" in repr(got)


def test_azure_sas_query_becomes_the_sas_key() -> None:
    sas = "sv=2021-08-06&sig=AZ-SIG-zv-2"
    got = options_from_url(f"az://cont/p?{sas}", "azure", {"account_name": "a"})
    assert got.url == "az://cont/p" and got.options["sas_key"] == sas
    # On an Azure Blob host an https URL with a SAS is an Azure store.
    host = options_from_url(f"https://acct.blob.core.windows.net/cont?{sas}", "http", {})
    assert host.family == "azure" and host.options == {"sas_key": sas}


def test_http_user_and_password_become_a_basic_header() -> None:
    got = options_from_url(
        "http://me:PW-zv-3@127.0.0.1:1/x", "http", {"client_options": {"user_agent": "zv"}}
    )
    token = base64.b64encode(b"me:PW-zv-3").decode()
    assert got.url == "http://127.0.0.1:1/x"
    assert got.options["client_options"] == {
        "user_agent": "zv",
        "default_headers": {"Authorization": f"Basic {token}"},
    }
    assert token in got.secrets and "me:PW-zv-3" in got.secrets


@pytest.mark.parametrize(
    ("url", "family", "options", "said"),
    [
        ("gs://u:GCS-SECRET-zv@b/x", "gcs", {}, "GOOGLE_APPLICATION_CREDENTIALS"),
        ("memory://u:MEM-SECRET-zv@x", "memory", {}, "a memory:// store needs none"),
        ("s3://:S3-SECRET-zv@b/x", "s3", {}, "without an access key id"),
        ("s3://b/x?X-Amz-Signature=S3-SECRET-zv", "s3", {}, "presigned"),
        ("s3://K:S3-SECRET-zv@b/x", "s3", {"AWS_ACCESS_KEY_ID": "K"}, "AWS_ACCESS_KEY_ID"),
        ("az://u:AZ-SECRET-zv@c/x", "azure", {}, "a password"),
        ("az://c/x?sig=AZ-SECRET-zv", "azure", {"account_key": "k"}, "give them once"),
        ("https://example.org/x?sig=HTTP-SECRET-zv", "http", {}, "presigned"),
        (
            "http://u:HTTP-SECRET-zv@h/x",
            "http",
            {"client_options": {"default_headers": {"authorization": "Basic x"}}},
            "give them once",
        ),
    ],
)
def test_credentials_that_cannot_be_used_are_refused_unshown(
    url: str, family: str, options: dict[str, object], said: str
) -> None:
    with pytest.raises(BackendOptionError) as info:
        options_from_url(url, family, options)
    assert said in str(info.value) and "SECRET-zv" not in str(info.value)


def test_azure_hosts() -> None:
    assert is_azure_host("https://acct.blob.core.windows.net/c")
    assert is_azure_host("https://ACCT.dfs.core.windows.net:443/c")
    assert not is_azure_host("http://acct.blob.core.windows.net/c")  # https only
    assert not is_azure_host("https://acct.blob.core.windows.net.evil.org/c")
    assert not is_azure_host("https://[::1/x")  # not a URL at all


def test_endpoint_from_the_environment_service_specific_first(
    no_aws_env: pytest.MonkeyPatch,
) -> None:
    assert s3_endpoint_from_env({}) is None
    no_aws_env.setenv("AWS_ENDPOINT", "http://c")
    no_aws_env.setenv("AWS_ENDPOINT_URL", "http://b")
    assert s3_endpoint_from_env({}) == "http://b"
    no_aws_env.setenv("AWS_ENDPOINT_URL_S3", " http://a ")
    assert s3_endpoint_from_env({}) == "http://a"
    assert s3_endpoint_from_env({"Endpoint": "http://given"}) is None  # an option wins


def test_an_endpoint_option_is_pinned_against_the_s3_variable(
    no_aws_env: pytest.MonkeyPatch,
) -> None:
    config: dict[str, object] = {"endpoint": "http://mine"}
    assert not pin_s3_endpoint(config) and config == {"endpoint": "http://mine"}
    no_aws_env.setenv("AWS_ENDPOINT_URL_S3", "http://theirs")
    assert pin_s3_endpoint(config)
    assert config == {"endpoint": "http://mine", "aws_endpoint_url_s3": "http://mine"}
    assert not pin_s3_endpoint({"region": "r"})  # no endpoint to pin
    assert pin_s3_endpoint({"endpoint_url_s3": "http://x"})  # already pinned by the caller


def test_s3_credentials_in_sight(no_aws_env: pytest.MonkeyPatch) -> None:
    assert not s3_has_credentials({"region": "r"}, None)
    assert s3_has_credentials({}, object())
    assert s3_has_credentials({"Skip_Signature": True}, None)
    no_aws_env.setenv("AWS_SKIP_SIGNATURE", "true")
    assert s3_has_credentials({}, None)
    no_aws_env.delenv("AWS_SKIP_SIGNATURE")
    no_aws_env.setenv("AWS_ACCESS_KEY_ID", " ")  # blank is none
    assert not s3_has_credentials({}, None)
    no_aws_env.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/t")
    assert s3_has_credentials({}, None)


def test_a_failed_metadata_request_is_recognised(no_aws_env: pytest.MonkeyPatch) -> None:
    assert metadata_failure("error sending request to http://169.254.169.254/x", {})
    assert metadata_failure("GET /latest/api/token timed out", {})
    assert not metadata_failure("connection refused by 127.0.0.1:8333", {})
    assert metadata_failure("refused by 10.0.0.9", {"metadata_endpoint": "http://10.0.0.9"})
    no_aws_env.setenv("AWS_METADATA_ENDPOINT", "http://10.0.0.7")
    assert metadata_failure("refused by 10.0.0.7", {})


def test_missing_credentials_say_where_they_go() -> None:
    line = missing_s3_credentials("Reading 'k' in s3://b/p")
    assert line.startswith("Reading 'k' in s3://b/p failed: no S3 credentials")
    assert "AWS_ACCESS_KEY_ID" in line and "anon=True" in line and "\n" not in line
