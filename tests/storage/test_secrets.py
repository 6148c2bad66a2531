"""Credentials never reach messages: URL and option redaction."""

from __future__ import annotations

import pytest

from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.storage.secrets import (
    redact_options,
    redact_text,
    redact_url,
    split_url_credentials,
)

SECRET = "SECRETzv-12345"


@pytest.mark.parametrize(
    "url",
    [
        f"https://user:{SECRET}@example.test/store",
        f"https://acct.blob.example.test/c/store?sv=2024&sig={SECRET}&se=2030",
        f"https://bucket.example.test/k?X-Amz-Signature={SECRET}&X-Amz-Credential={SECRET}",
        f"s3://bucket/store?token={SECRET}",
    ],
)
def test_redact_url_removes_credentials(url: str) -> None:
    redacted = redact_url(url)
    assert SECRET not in redacted
    assert "***" in redacted
    assert redacted.split("://")[0] == url.split("://")[0]


def test_redact_url_keeps_plain_urls_and_paths() -> None:
    for url in ("s3://bucket/a/b", "/data/x", "C:\\data\\x", "https://host:8080/p?x=1"):
        assert redact_url(url) == url


class _Registry:
    """A registry whose backends say which schemes name a container in the user part."""

    def __init__(self, *schemes: str) -> None:
        self.schemes = frozenset(schemes)

    def schemes_where(self, attribute: str) -> frozenset[str]:
        return self.schemes if attribute == "container_user_schemes" else frozenset()


AZURE_URL = "abfs://container@account.dfs.core.windows.net/stores/a.zv"


def test_a_user_part_naming_a_container_is_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("zarr_vectors.storage.registry.get_registry", lambda: _Registry("abfs"))
    assert redact_url(AZURE_URL) == AZURE_URL
    assert redact_url("ABFS://c@account.dfs.core.windows.net/a").startswith("ABFS://c@")
    secret = redact_url(f"abfs://container:{SECRET}@account.dfs.core.windows.net/a")
    assert secret == "abfs://container:***@account.dfs.core.windows.net/a"
    # A scheme that does not say so keeps its bare user part hidden: it may be a token.
    assert redact_url(f"https://{SECRET}@example.test/a") == "https://***@example.test/a"


def test_a_user_part_is_hidden_where_no_backend_says_it_names_a_container(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("zarr_vectors.storage.registry.get_registry", lambda: _Registry())
    assert redact_url(AZURE_URL) == "abfs://***@account.dfs.core.windows.net/stores/a.zv"


def test_the_installed_azure_backends_name_containers_in_the_user_part() -> None:
    pytest.importorskip("zarr_vectors_fsspec")
    assert redact_url(AZURE_URL) == AZURE_URL


def test_redact_options_nested() -> None:
    options = {
        "aws_secret_access_key": SECRET,
        "access_key_id": "AKIAEXAMPLE",
        "region": "eu-west-1",
        "client_options": {"allow_http": True, "token": SECRET},
        "connection_string": f"AccountKey={SECRET}",
        "sas_token": SECRET,
    }
    redacted = redact_options(options)
    assert SECRET not in repr(redacted)
    assert redacted["region"] == "eu-west-1"
    assert redacted["client_options"]["allow_http"] is True


def test_redact_text_replaces_known_values() -> None:
    assert redact_text(f"denied for key {SECRET}", [SECRET]) == "denied for key ***"


def test_backend_repr_and_url_hide_credentials(tmp_path) -> None:
    backend = LocalBackend(tmp_path)
    assert repr(backend).startswith("LocalBackend(url='file://")

    from zarr_vectors.storage.base import Backend

    remote = Backend(f"https://user:{SECRET}@host/p?sig={SECRET}")
    assert SECRET not in repr(remote) and SECRET not in remote.url


@pytest.mark.parametrize(
    ("url", "clean", "password", "query"),
    [
        (f"s3://AKID:{SECRET}@bucket/a.zarr", "s3://bucket/a.zarr", SECRET, ""),
        (f"https://u:{SECRET}@host:8080/x?page=2", "https://host:8080/x?page=2", SECRET, ""),
        (
            f"https://acct.blob.example.test/c/p?sv=2024&sig={SECRET}",
            "https://acct.blob.example.test/c/p",
            None,
            f"sv=2024&sig={SECRET}",
        ),
    ],
)
def test_split_url_credentials_takes_them_out(
    url: str, clean: str, password: str | None, query: str
) -> None:
    got, creds = split_url_credentials(url)
    assert got == clean and SECRET not in got
    assert creds and creds.password == password and creds.query == query
    assert SECRET in creds.values()
    assert SECRET not in repr(creds)


@pytest.mark.parametrize(
    "url", ["abfs://container@acct.dfs.core.windows.net/p", "/data/x", "http://h/x?page=2"]
)
def test_split_url_credentials_leaves_plain_urls(url: str) -> None:
    got, creds = split_url_credentials(url)
    assert got == url and not creds


def test_split_url_credentials_decodes_and_keeps_both_forms_secret() -> None:
    got, creds = split_url_credentials("s3://AKIDzv:abc%2Fdef%2Bxyz@bucket/a.zarr")
    assert got == "s3://bucket/a.zarr"
    assert creds.username == "AKIDzv" and creds.password == "abc/def+xyz"
    assert {"abc/def+xyz", "abc%2Fdef%2Bxyz", "AKIDzv"} <= set(creds.values())
    _, sas = split_url_credentials(f"https://a.example.test/c?sv=2024-01-01&se=2030&sig={SECRET}")
    assert SECRET in sas.values() and "2024-01-01" not in sas.values()
