"""The obstore backend meeting what users bring: credentials in URLs, their own obstore
stores, the AWS environment variables, and options of the wrong type.

Against real servers on 127.0.0.1 (SeaweedFS for S3, Azurite for Azure, the
read-only HTTP server with basic auth); nothing is mocked. Every secret used
here is a marker string that is then looked for in the messages, the chained
exceptions, the reprs and the log.
"""

from __future__ import annotations

import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers.servers import procs
from zarr_vectors.exceptions import (
    BackendOptionError,
    ReadOnlyBackendError,
    StoreError,
    StoreExistsError,
)
from zarr_vectors.lazy import open_zv
from zarr_vectors.storage.resolve import make_backend
from zarr_vectors.types.points import read_points, write_points
from zarr_vectors_obstore.backend import ObstoreBackend

BOUNDS = ((0.0, 0.0, 0.0), (100.0, 100.0, 100.0))
CS = (50.0, 50.0, 50.0)


def points(n: int = 300, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 100, (n, 3)).astype(np.float32)


def same_points(got: np.ndarray, want: np.ndarray) -> bool:
    def ordered(a: np.ndarray) -> np.ndarray:
        return a[np.lexsort(a.T[::-1])]

    return got.shape == want.shape and bool(np.array_equal(ordered(got), ordered(want)))


def everything_said(err: BaseException) -> str:
    """The message, the whole printed traceback (chained exceptions too) and the repr."""
    return "".join(traceback.format_exception(err)) + repr(err) + str(err)


def assert_hidden(err: BaseException, *secrets: str) -> None:
    text = everything_said(err)
    for secret in secrets:
        assert secret not in text, f"a secret leaked: {text}"
    assert err.__cause__ is None and err.__context__ is None
    assert "\n" not in str(err)


def s3_options(server: procs.S3Server) -> dict[str, Any]:
    """Endpoint and region only: the credentials travel in the URL."""
    return {"endpoint": server.endpoint, "region": server.region}


# --------------------------------------------------------------------------- credentials in URLs
@pytest.mark.servers
def test_azure_bad_sas_in_the_url_never_shows_it(
    azure_server: procs.AzureServer, azure_container: str
) -> None:
    bad = "sv=2019-12-12&ss=b&srt=sco&sp=rl&se=2099-01-01&sig=BADSIGzv0042doNotPrint%3D"
    url = f"az://{azure_container}/scan?{bad}"
    options = {"account_name": azure_server.account, "endpoint": azure_server.endpoint}
    for call in (
        lambda: read_points(url, **options),
        lambda: make_backend(url, **options).put_bytes("k", b"v"),
    ):
        with pytest.raises(StoreError) as info:
            call()
        assert f"az://{azure_container}/scan" in str(info.value)
        assert_hidden(info.value, "BADSIGzv0042doNotPrint")


def test_https_azure_url_with_sas_is_an_azure_store() -> None:
    """No network: the SAS becomes obstore's sas_key, and the account comes from the host."""
    sas = "sv=2021-08-06&sp=rl&se=2030-01-01&sig=HOSTSIGzv77secret"
    backend = ObstoreBackend(f"https://acct.blob.core.windows.net/cont/pre?{sas}")
    assert backend.family == "azure" and backend.writable
    assert backend.url == "https://acct.blob.core.windows.net/cont/pre"
    assert backend.store.config["sas_key"] == sas
    assert backend.store.config["account_name"] == "acct"
    assert "HOSTSIGzv77secret" not in repr(backend) and "HOSTSIGzv77secret" in backend.secrets


@pytest.mark.parametrize(
    ("url", "options", "where"),
    [
        ("gs://someone:GCS-SECRET-zv-1@bucket/x", {}, "storage_options={'service_account'"),
        ("memory://someone:MEM-SECRET-zv-1@x", {}, "a memory:// store needs none"),
        ("s3://:S3-SECRET-zv-1@bucket/x", {"region": "us-east-1"}, "storage_options={'access"),
        ("s3://bucket/x?X-Amz-Signature=S3-SECRET-zv-1", {"region": "us-east-1"}, "presigned"),
        ("https://example.org/x?sig=HTTP-SECRET-zv-1", {}, "presigned"),
        ("az://c/x?sig=AZ-SECRET-zv-1", {"account_name": "a", "account_key": "k"}, "once"),
        ("s3://AKID:S3-SECRET-zv-1@bucket/x", {"key": "AKID", "region": "x"}, "once"),
    ],
)
def test_url_credentials_that_cannot_be_used_are_refused(
    url: str, options: dict[str, Any], where: str
) -> None:
    with pytest.raises(BackendOptionError) as info:
        ObstoreBackend(url, **options)
    message = str(info.value)
    assert where in message and "\n" not in message
    assert_hidden(info.value, "SECRET-zv-1")


# ---------------------------------------------------------------------- adopting obstore stores
@pytest.mark.servers
def test_adopt_an_s3store(s3_server: procs.S3Server, s3_bucket: str) -> None:
    import obstore
    from obstore.store import S3Store

    store = S3Store(
        s3_bucket,
        prefix="mine",
        endpoint=s3_server.endpoint,
        region=s3_server.region,
        access_key_id=s3_server.access_key,
        secret_access_key=s3_server.secret_key,
        client_options={"allow_http": True},
    )
    pts = points(seed=5)
    write_points(store, pts, chunk_shape=CS, bounds=BOUNDS)
    with pytest.raises(StoreExistsError):
        write_points(store, pts, chunk_shape=CS)
    assert same_points(read_points(store).positions, pts)
    with open_zv(store) as zv:
        assert zv[0].vertex_count == len(pts)
    # Written where the store points (its prefix), readable by URL; the store still works.
    by_url = read_points(
        f"s3://{s3_bucket}/mine",
        access_key_id=s3_server.access_key,
        secret_access_key=s3_server.secret_key,
        **s3_options(s3_server),
    )
    assert same_points(by_url.positions, pts)
    assert bytes(obstore.get(store, "zarr.json").bytes()).startswith(b"{")
    # The adopted backend knows the store's secret and never shows it.
    from zarr_vectors_obstore.adopt import adopt_store

    backend = adopt_store(store, max_concurrency=4)
    assert isinstance(backend, ObstoreBackend) and backend.max_concurrency == 4
    assert backend.url == f"s3://{s3_bucket}/mine"
    assert s3_server.secret_key in backend.secrets and s3_server.secret_key not in repr(backend)


@pytest.mark.servers
def test_adopted_s3store_with_a_wrong_secret_never_shows_it(
    s3_server: procs.S3Server, s3_bucket: str
) -> None:
    from obstore.store import S3Store

    secret = "ADOPTED-SECRET-zv-8086-do-not-print"
    store = S3Store(
        s3_bucket,
        endpoint=s3_server.endpoint,
        region=s3_server.region,
        access_key_id=s3_server.access_key,
        secret_access_key=secret,
        client_options={"allow_http": True},
    )
    with pytest.raises(StoreError) as info:
        write_points(store, points(), chunk_shape=CS, bounds=BOUNDS)
    assert f"s3://{s3_bucket}" in str(info.value)
    assert_hidden(info.value, secret)


def test_adopt_a_memory_store() -> None:
    from obstore.store import MemoryStore

    store = MemoryStore()
    pts = points(seed=6)
    write_points(store, pts, chunk_shape=CS, bounds=BOUNDS)
    assert same_points(read_points(store).positions, pts)
    with open_zv(store) as zv:
        assert zv[0].vertex_count == len(pts)
    write_points(store, points(seed=7), mode="w", chunk_shape=CS, bounds=BOUNDS)
    assert same_points(read_points(store).positions, points(seed=7))
    # Another MemoryStore is another store.
    with pytest.raises(StoreError):
        read_points(MemoryStore())


def test_adopt_a_local_store(tmp_path: Path) -> None:
    from obstore.store import LocalStore

    root = tmp_path / "scan"
    root.mkdir()
    pts = points(seed=8)
    write_points(LocalStore(root), pts, chunk_shape=CS, bounds=BOUNDS)
    assert (root / "zarr.json").is_file()
    assert same_points(read_points(root).positions, pts)  # the same directory, by path
    assert same_points(read_points(LocalStore(root)).positions, pts)


@pytest.mark.servers
def test_adopt_an_http_store_reads_only(http_server: procs.HttpServer, tmp_path: Path) -> None:
    import shutil

    from obstore.store import HTTPStore

    pts = points(seed=9)
    write_points(tmp_path / "scan", pts, chunk_shape=CS, bounds=BOUNDS)
    shutil.copytree(tmp_path / "scan", http_server.root / tmp_path.name)
    store = HTTPStore.from_url(
        f"{http_server.url}/{tmp_path.name}", client_options={"allow_http": True}
    )
    assert same_points(read_points(store).positions, pts)
    with pytest.raises(ReadOnlyBackendError):
        write_points(store, pts, mode="w", chunk_shape=CS, bounds=BOUNDS)


def test_entry_point_stays_light() -> None:
    """Loading the plugin's description imports neither obstore nor the adopter."""
    code = (
        "import sys; from zarr_vectors_obstore.info import OBSTORE; "
        "assert OBSTORE.adopts == ('obstore',); "
        "assert 'obstore' not in sys.modules, sorted(m for m in sys.modules if 'obstore' in m); "
        "assert callable(OBSTORE.load_adopter())"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------- messages that say what to do
@pytest.mark.servers
def test_s3_without_any_credentials_says_where_they_go(
    s3_server: procs.S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_SKIP_SIGNATURE",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    # Where obstore looks last (instance metadata): nothing listens there, on any machine.
    monkeypatch.setenv("AWS_METADATA_ENDPOINT", f"http://127.0.0.1:{procs.free_port()}")
    url = f"s3://{s3_bucket}/scan"
    for call in (
        lambda: write_points(url, points(), chunk_shape=CS, bounds=BOUNDS, **s3_options(s3_server)),
        lambda: read_points(url, **s3_options(s3_server)),
    ):
        with pytest.raises(StoreError) as info:
            call()
        message = str(info.value)
        assert "\n" not in message and url in message
        for needed in ("access_key_id", "secret_access_key", "AWS_ACCESS_KEY_ID"):
            assert needed in message
        assert "AWS_SECRET_ACCESS_KEY" in message and "storage_options" in message


@pytest.mark.servers
def test_s3_reached_with_environment_variables_only(
    s3_server: procs.S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_REGION", s3_server.region)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)  # plain http://, no option
    url = f"s3://{s3_bucket}/env"
    pts = points(seed=10)
    write_points(url, pts, chunk_shape=CS, bounds=BOUNDS)
    assert same_points(read_points(url).positions, pts)
    # The S3-specific variable wins over the general one (here: a port nothing listens on).
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{procs.free_port()}")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint)
    assert same_points(read_points(url).positions, pts)
    # An endpoint option wins over both.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{procs.free_port()}")
    assert same_points(read_points(url, endpoint=s3_server.endpoint).positions, pts)
    with pytest.raises(StoreError):
        read_points(url, timeout=5, max_retries=0)


@pytest.mark.parametrize(
    ("options", "named", "given", "expected"),
    [
        ({"max_concurrency": "8"}, "max_concurrency", "str", "an int"),
        ({"max_concurrency": 2.5}, "max_concurrency", "float", "an int"),
        ({"timeout": "abc"}, "timeout", "str", "a number of seconds"),
        ({"timeout": None}, "timeout", "NoneType", "a number of seconds"),
        ({"max_retries": "3"}, "max_retries", "str", "an int"),
        ({"verify_prefixes": "yes"}, "verify_prefixes", "str", "a bool"),
        ({"client_options": ["allow_http"]}, "client_options", "list", "a dict"),
        ({"retry_config": 3}, "retry_config", "int", "a dict"),
    ],
)
def test_option_types_are_named(
    options: dict[str, Any], named: str, given: str, expected: str
) -> None:
    with pytest.raises(BackendOptionError) as info:
        make_backend("s3://bucket/x", region="us-east-1", **options)
    message = str(info.value)
    assert f"option {named} must be {expected}" in message
    assert f"got {given}" in message and "\n" not in message
    # The same through a public function's storage_options.
    with pytest.raises(BackendOptionError, match=named):
        read_points("s3://bucket/x", storage_options={"region": "us-east-1", **options})


@pytest.mark.parametrize(
    ("where", "scheme_said", "served_by"),
    [
        ("local", "a local path", "'local'"),
        ("sftp://host/data/scan", "the scheme sftp://", "'fsspec'"),
    ],
)
def test_forced_obstore_on_a_url_it_cannot_serve(
    where: str, scheme_said: str, served_by: str, tmp_path: Path
) -> None:
    from zarr_vectors.storage.registry import get_registry

    url = str(tmp_path / "scan") if where == "local" else where
    scheme = "" if where == "local" else "sftp"
    if served_by.strip("'") not in get_registry().scheme_table.get(scheme, ()):
        pytest.skip(f"{served_by} is not installed")
    # The plugin's own message, for a backend made directly.
    with pytest.raises(StoreError) as info:
        ObstoreBackend(url)
    message = str(info.value)
    assert "\n" not in message
    assert scheme_said in message and "s3://" in message and "memory://" in message
    assert f"is served by {served_by}: pass backend={served_by}" in message
    # Through the public functions (the core may say it first, in its own words).
    for call in (
        lambda: make_backend(url, backend="obstore"),
        lambda: read_points(url, backend="obstore"),
    ):
        with pytest.raises(StoreError) as info:
            call()
        message = str(info.value)
        assert "\n" not in message and "'obstore'" in message and "s3://" in message
        assert f"backend={served_by}" in message
    assert not (tmp_path / "scan").exists()
