"""The fsspec backend among the rest of the ecosystem: URLs with credentials, the caller's
own file systems and mappers, the AWS environment, and messages that say what to do.

Storage is real: fsspec's memory file system, and (marked ``servers``) SeaweedFS
through s3fs, Azurite through adlfs and an HTTP server requiring basic auth, all on
127.0.0.1 through the fixtures of ``tests/helpers/servers``.
"""

from __future__ import annotations

import asyncio
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest

from zarr_vectors.exceptions import BackendOptionError, StoreError
from zarr_vectors.lazy import open_zv
from zarr_vectors.storage import make_backend
from zarr_vectors.types.points import read_points, write_points
from zarr_vectors_fsspec.backend import FsspecBackend

SECRET = "zv-Url-Secret-9d2e4b"
CS = (250.0, 250.0, 250.0)


def _points(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1000, (n, 3)).astype(np.float32)


def _rows(a: np.ndarray) -> np.ndarray:
    return a[np.lexsort(a.T[::-1])]


def _same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape
    np.testing.assert_array_equal(_rows(got), _rows(want))


def _everything_about(error: BaseException) -> str:
    """The error as a user or a log could ever see it: message, repr and chained traceback."""
    return "\n".join([str(error), repr(error), "".join(traceback.format_exception(error))])


def _s3_plain(server: Any) -> dict[str, Any]:
    """Endpoint and region of the S3 test server, without credentials."""
    return {"endpoint_url": server.endpoint, "client_kwargs": {"region_name": server.region}}


# -- 1. credentials written into the URL ----------------------------------------------------------


def test_s3_url_credentials_become_key_and_secret_and_are_never_shown() -> None:
    secret = f"{SECRET}/with+slash"
    url = f"s3://AKIDURL:{quote(secret, safe='')}@bucket/root"
    backend = FsspecBackend(url, endpoint_url="http://127.0.0.1:1")
    assert (backend.fs.key, backend.fs.secret) == ("AKIDURL", secret)  # percent-decoded
    assert backend.url == "s3://bucket/root"
    assert backend._root == "bucket/root"
    assert SECRET not in repr(backend) and "AKIDURL" not in repr(backend)
    assert backend.redact(f"x {secret} y {quote(secret, safe='')}") == "x *** y ***"
    backend.close()


@pytest.mark.parametrize(
    ("url", "options", "names"),
    [
        (f"s3://AKID:{SECRET}@bucket/x", {"secret": "other-secret"}, "key/secret"),
        (f"s3://AKID:{SECRET}@bucket/x", {"anon": True}, "anon=True"),
        (f"az://c/x?sv=2021-08-06&sig={SECRET}", {"sas_token": "sv=1&sig=2"}, "sas_token"),
        (
            f"http://user:{SECRET}@127.0.0.1:1/x",
            {"client_kwargs": {"headers": {"Authorization": "Bearer t0ken-value"}}},
            "Authorization",
        ),
    ],
)
def test_url_credentials_given_twice_are_refused(
    url: str, options: dict[str, Any], names: str
) -> None:
    with pytest.raises(BackendOptionError) as info:
        FsspecBackend(url, **options)
    text = _everything_about(info.value)
    assert names in str(info.value) and "\n" not in str(info.value)
    assert SECRET not in text and "other-secret" not in text and "t0ken-value" not in text


@pytest.mark.parametrize(
    ("url", "instead"),
    [
        (f"gs://user:{SECRET}@bucket/x", "'token'"),
        (f"memory://user:{SECRET}@zv/x", "storage_options={...}"),
        (f"ftp://user:{SECRET}@127.0.0.1:1/x", "'username': ..., 'password'"),
        (f"s3://bucket/x?X-Amz-Signature={SECRET}&X-Amz-Credential=AKID", "'key'"),
        (f"s3://:{SECRET}@bucket/x", "'key'"),
        (f"az://user:{SECRET}@container/x", "'account_key'"),
        (f"https://acct.blob.core.windows.net/c/x?sv=2021&sig={SECRET}", "'sas_token'"),
    ],
)
def test_url_credentials_are_refused_where_not_usable(url: str, instead: str) -> None:
    with pytest.raises(BackendOptionError) as info:
        make_backend(url, backend="fsspec")
    message = str(info.value)
    assert "\n" not in message and "storage_options" in message and instead in message
    assert "not used" in message
    assert SECRET not in _everything_about(info.value)


# -- 2. the caller's own file system: (fs, path) and FSMap -----------------------------------------


def _round_trip(make: Callable[[], Any], pts: np.ndarray) -> None:
    """write_points, read_points (whole and a box) and open_zv on what ``make`` returns."""
    summary = write_points(make(), pts, chunk_shape=CS)
    assert summary.vertex_count == len(pts)
    _same(read_points(make()).positions, pts)
    box = ((0.0, 0.0, 0.0), (500.0, 500.0, 500.0))
    inside = pts[np.all((pts >= 0) & (pts <= 500), axis=1)]
    _same(read_points(make(), bbox=box).positions, inside)
    with open_zv(make()) as zv:
        _same(zv.read_points().positions, pts)


def test_adopt_a_memory_file_system_and_its_mapper() -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    path = f"zv-adopt/{uuid.uuid4().hex}"
    pts = _points(700, 4)
    _round_trip(lambda: (fs, path), pts)
    _round_trip(lambda: fs.get_mapper(f"{path}-map"), pts)
    assert fs.exists(f"{path}/zarr.json") and fs.exists(f"{path}-map/zarr.json")
    # The mapper and the tuple name the same store.
    _same(read_points(fs.get_mapper(path)).positions, pts)
    with FsspecBackend.from_filesystem(fs, path) as backend:
        assert backend.url == f"memory:///{path}"
        assert backend.exists("zarr.json")
    fs.rm(path, recursive=True)
    fs.rm(f"{path}-map", recursive=True)


@pytest.mark.servers
@pytest.mark.parametrize("asynchronous", [False, True])
def test_adopt_an_s3fs_file_system_and_its_mapper(
    s3_server: Any, s3_bucket: str, asynchronous: bool
) -> None:
    import s3fs

    options = s3_server.backend_options("fsspec")

    async def made_in_a_loop() -> Any:  # as a caller of the async API makes one
        return s3fs.S3FileSystem(skip_instance_cache=True, asynchronous=True, **options)

    if asynchronous:
        fs = asyncio.run(made_in_a_loop())
    else:
        fs = s3fs.S3FileSystem(skip_instance_cache=True, **options)
    pts = _points(900, 5)
    _round_trip(lambda: (fs, f"{s3_bucket}/tuple.zv"), pts)
    _round_trip(lambda: fs.get_mapper(f"s3://{s3_bucket}/mapper.zv"), pts)
    with FsspecBackend.from_filesystem(fs, f"{s3_bucket}/tuple.zv") as backend:
        assert backend.url == f"s3://{s3_bucket}/tuple.zv"
        assert backend.exists("zarr.json")
        assert backend.fs is not fs
        assert s3_server.secret_key in backend.secrets  # scrubbed from its messages
    # Every adopted backend was closed; the caller's file system is still open and works.
    if asynchronous:

        async def used_by_its_owner() -> tuple[list[str], bytes]:
            names = await fs._ls(s3_bucket, detail=False)
            data = await fs._cat_file(f"{s3_bucket}/tuple.zv/zarr.json")
            await fs._s3.close()  # the caller closes their own client
            return list(names), data

        names, data = asyncio.run(used_by_its_owner())
    else:
        names = fs.ls(s3_bucket, detail=False)
        data = fs.cat(f"{s3_bucket}/tuple.zv/zarr.json")
    assert data.startswith(b"{")
    assert sorted(n.rsplit("/", 1)[-1] for n in names) == ["mapper.zv", "tuple.zv"]


@pytest.mark.servers
def test_adopted_file_system_with_a_wrong_secret(s3_server: Any, s3_bucket: str) -> None:
    import s3fs

    options = {**s3_server.backend_options("fsspec"), "secret": SECRET}
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **options)
    with pytest.raises(StoreError, match="check the credentials") as info:
        write_points(
            (fs, f"{s3_bucket}/x.zv"), _points(50), chunk_shape=CS, storage_options={"timeout": 20}
        )
    assert SECRET not in _everything_about(info.value)


# -- 3. messages that say what to do --------------------------------------------------------------

_AWS_CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


@pytest.fixture
def no_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials anywhere botocore looks (variables, files, instance metadata)."""
    for name in _AWS_CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.servers
@pytest.mark.usefixtures("no_aws_credentials")
def test_s3_without_credentials_says_where_they_go(s3_server: Any, s3_bucket: str) -> None:
    backend = FsspecBackend(f"s3://{s3_bucket}/nocreds", timeout=20, **_s3_plain(s3_server))
    for call in (lambda: backend.put_bytes("k", b"1"), lambda: backend.get_bytes("k")):
        with pytest.raises(StoreError) as info:
            call()
        message = str(info.value)
        assert "\n" not in message and "no S3 credentials were found" in message
        for hint in ("'key'", "'secret'", "anon=True", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS"):
            assert hint in message
    backend.close()
    # The hint is right: anon=True reads what anonymous users may read on this server.
    with FsspecBackend(
        f"s3://{s3_bucket}/nocreds", anon=True, endpoint_url=s3_server.endpoint
    ) as anonymous:
        assert list(anonymous.list_prefix("")) == []


@pytest.mark.servers
@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"])
def test_s3_endpoint_from_the_environment(
    s3_server: Any, s3_bucket: str, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.setenv(variable, s3_server.endpoint)
    options = {
        "key": s3_server.access_key,
        "secret": s3_server.secret_key,
        "client_kwargs": {"region_name": s3_server.region},
        "timeout": 20,
    }
    url = f"s3://{s3_bucket}/env-endpoint.zv"
    pts = _points(300, 6)
    write_points(url, pts, chunk_shape=CS, backend="fsspec", storage_options=options)
    _same(read_points(url, backend="fsspec", storage_options=options).positions, pts)
    # An explicit endpoint_url still wins over the variable.
    monkeypatch.setenv(variable, "http://127.0.0.1:1")
    with FsspecBackend(url, endpoint_url=s3_server.endpoint, **options) as backend:
        assert backend.exists("zarr.json")


def test_forced_fsspec_on_a_scheme_nothing_serves() -> None:
    """Refused in one line naming the scheme and what to install (by the core's check of a
    forced backend, or by the plugin when it is constructed directly)."""
    for make in (
        lambda: make_backend("nosuchproto://x/y", backend="fsspec"),
        lambda: FsspecBackend("nosuchproto://x/y"),
    ):
        with pytest.raises(StoreError) as info:
            make()
        message = str(info.value)
        assert "\n" not in message and "'nosuchproto" in message and "install" in message


@pytest.mark.parametrize(
    ("scheme", "options"),
    [("s3a", {"anon": True}), ("abfss", {"anon": True, "account_name": "zvaccount"})],
)
def test_forced_fsspec_serves_the_scheme_aliases(scheme: str, options: dict[str, Any]) -> None:
    with make_backend(f"{scheme}://bucket/x", backend="fsspec", **options) as backend:
        assert isinstance(backend, FsspecBackend) and backend._bucket == "bucket"
