"""The obstore backend: the shared backend suite, and what is obstore's own.

:class:`TestObstoreSuite` runs :mod:`tests.plugins.backend_suite` (the protocol on
obstore's MemoryStore, SeaweedFS and Azurite, reads from fake-gcs-server and the
read-only HTTP server, credentials right, wrong and absent, missing buckets, endpoints
that refuse or never answer). Below it: obstore's own options and their defaults, its
option spellings and ambient credentials, Azure's batch deletes and SAS, GCS through
its XML API, bounded concurrent HTTP reads, a paused server; then the conformance kit.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
import uuid
from typing import Any

import pytest

from tests.helpers.backend_checks import SECRET, refusal
from tests.helpers.servers import procs
from tests.plugins.backend_suite import BackendSuite
from zarr_vectors.exceptions import (
    BackendOptionError,
    MissingKeyError,
    ReadOnlyBackendError,
    StoreError,
)
from zarr_vectors.storage.base import Backend
from zarr_vectors.storage.resolve import make_backend
from zarr_vectors.testing.config import KitConfig
from zarr_vectors.testing.suite import BackendConformance
from zarr_vectors.testing.target import KitTarget
from zarr_vectors_obstore.backend import (
    DEFAULT_MAX_CONCURRENCY,
    HTTP_MAX_CONCURRENCY,
    OBJECT_STORE_MAX_CONCURRENCY,
    ObstoreBackend,
)


def s3_kwargs(server: procs.S3Server, **extra: Any) -> dict[str, Any]:
    """backend_kwargs with the server's credentials, in obstore's own names."""
    return {**server.backend_options("obstore"), **extra}


def azure_kwargs(server: procs.AzureServer, **extra: Any) -> dict[str, Any]:
    return {
        "account_name": server.account,
        "account_key": server.key,
        "endpoint": server.endpoint,
        **extra,
    }


# --------------------------------------------------------------------------- the shared suite
class TestObstoreSuite(BackendSuite):
    """The shared suite through obstore's stores."""

    backend_name = "obstore"
    s3_secret_names = ("secret_access_key", "session_token")
    versioned = frozenset({"memory", "s3", "azure", "gcs"})
    # obstore types a refused get/put; a refused listing is a generic error with the status.
    refused_words = ("refused", "403 Forbidden")
    # fake-gcs-server does not take uploads through GCS's XML API, which obstore uses
    # (see docs/backends.md and test_gcs_token_reads_and_never_printed): GCS is read here.
    test_gcs_sync_protocol = None
    test_gcs_async_protocol = None
    test_gcs_object_and_prefix_may_share_a_name = None

    def s3_anonymous(self, server: procs.S3Server) -> dict[str, Any]:
        return {"endpoint": server.endpoint, "region": server.region, "anon": True}

    def s3_endpoint_only(self, server: procs.S3Server) -> dict[str, Any]:
        return {"endpoint": server.endpoint, "region": server.region}

    def azure_options(
        self, server: procs.AzureServer, key: str | None = None
    ) -> list[dict[str, Any]]:
        connection = (
            f"AccountName={server.account};AccountKey={key or server.key};"
            f"BlobEndpoint={server.endpoint}"
        )
        return [
            azure_kwargs(server, account_key=key or server.key),
            {"connection_string": connection},
        ]

    def azure_anonymous(self, server: procs.AzureServer) -> dict[str, Any]:
        return {"account_name": server.account, "endpoint": server.endpoint, "skip_signature": True}

    def azure_endpoint_only(self, server: procs.AzureServer) -> dict[str, Any]:
        return {"account_name": server.account, "endpoint": server.endpoint}

    def gcs_options(self, server: procs.GcsServer) -> dict[str, Any]:
        return {"endpoint": server.endpoint, "anon": True}

    def check_missing(self, backend: Backend, url: str, *, write: bool = False) -> None:
        """Only obstore's single reads say a bucket does not exist: a listing fails with
        obstore's generic 404 error, get_many finds nothing there ({}), and on Azure an
        async read calls it a missing key."""
        assert f"{url} does not exist" in str(refusal(lambda: backend.get_bytes("k")))
        refusal(lambda: list(backend.list_prefix("")))
        if url.startswith("s3://"):
            assert "does not exist" in str(refusal(lambda: asyncio.run(backend.aget_bytes("k"))))
        if write:
            refusal(lambda: backend.put_bytes("k", b"1"))

    def s3_at(self, endpoint: str, timeout: float) -> dict[str, Any]:
        return {
            "endpoint": endpoint,
            "region": "us-east-1",
            "access_key_id": "a",
            "secret_access_key": SECRET,
            "timeout": timeout,
            "max_retries": 0,
        }


# --------------------------------------------------------------------------- options
def test_max_concurrency_defaults_per_family() -> None:
    assert ObstoreBackend("s3://bucket/p", region="us-east-1").max_concurrency == (
        OBJECT_STORE_MAX_CONCURRENCY
    )
    assert ObstoreBackend("az://c", account_name="a").max_concurrency == (
        OBJECT_STORE_MAX_CONCURRENCY
    )
    assert ObstoreBackend("http://127.0.0.1:1/x").max_concurrency == HTTP_MAX_CONCURRENCY
    assert ObstoreBackend("https://example.org/x").max_concurrency == HTTP_MAX_CONCURRENCY
    assert ObstoreBackend("memory://d").max_concurrency == DEFAULT_MAX_CONCURRENCY["memory"]
    assert HTTP_MAX_CONCURRENCY < OBJECT_STORE_MAX_CONCURRENCY
    assert ObstoreBackend("http://127.0.0.1:1/x", max_concurrency=3).max_concurrency == 3
    # The entry point's option help (which must not import obstore) states the same defaults.
    from zarr_vectors_obstore.info import OBSTORE

    help_text = OBSTORE.options["max_concurrency"]
    assert f"{OBJECT_STORE_MAX_CONCURRENCY} on S3" in help_text
    assert f"{HTTP_MAX_CONCURRENCY} on HTTP" in help_text


def test_its_coroutines_are_obstores_own() -> None:
    assert ObstoreBackend("memory://d").native_async is True


def test_memory_through_make_backend_when_chosen() -> None:
    backend = make_backend("memory://chosen", backend="obstore")
    assert isinstance(backend, ObstoreBackend)
    backend.put_bytes("k", b"v")
    assert backend.get_bytes("k") == b"v"


def test_unknown_options_are_named() -> None:
    with pytest.raises(BackendOptionError, match=r"'obstore'.*'bogus', 'regoin'"):
        make_backend("s3://bucket/p", regoin="us-east-1", bogus=1, region="us-east-1")
    with pytest.raises(BackendOptionError, match="'account_key_typo'"):
        ObstoreBackend("az://c", account_name="a", account_key_typo="x")


def test_config_values_are_never_in_repr() -> None:
    backend = ObstoreBackend(
        "s3://bucket/p",
        region="us-east-1",
        access_key_id="AKIA-zv-visible",
        secret_access_key="REPR-SECRET-zv-123456",
        session_token="REPR-TOKEN-zv-654321",
    )
    assert "REPR-SECRET" not in repr(backend) and "REPR-TOKEN" not in repr(backend)
    assert repr(backend) == "ObstoreBackend(url='s3://bucket/p')"


def test_bad_constructor_values() -> None:
    with pytest.raises(BackendOptionError, match="max_retries"):
        ObstoreBackend("memory://x", max_retries=-1)
    with pytest.raises(StoreError, match="max_concurrency"):
        ObstoreBackend("memory://x", max_concurrency=0)
    with pytest.raises(StoreError, match="ftp"):
        ObstoreBackend("ftp://host/x")


# --------------------------------------------------------------------------- S3 (SeaweedFS)
@pytest.mark.servers
def test_s3_friendly_option_names(s3_server: procs.S3Server, s3_bucket: str) -> None:
    backend = ObstoreBackend(
        f"s3://{s3_bucket}",
        endpoint_url=s3_server.endpoint,
        region_name=s3_server.region,
        key=s3_server.access_key,
        secret=s3_server.secret_key,
    )
    backend.put_bytes("k", b"v")
    assert backend.get_bytes("k") == b"v"


@pytest.mark.servers
def test_s3_ambient_credentials(
    s3_server: procs.S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_REGION", s3_server.region)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    # Credentials, region and endpoint come from the environment; plain HTTP is a client
    # option, which obstore takes only as an argument.
    backend = make_backend(f"s3://{s3_bucket}", allow_http=True)
    backend.put_bytes("from-env", b"1")
    assert backend.get_bytes("from-env") == b"1"


@pytest.mark.servers
def test_s3_unknown_access_key_is_refused(s3_server: procs.S3Server, s3_bucket: str) -> None:
    backend = ObstoreBackend(
        f"s3://{s3_bucket}", **s3_kwargs(s3_server, access_key_id="nobody-at-all")
    )
    with pytest.raises(StoreError, match="refused"):
        backend.put_bytes("k", b"v")


@pytest.mark.servers
def test_s3_missing_key_after_bucket_check(s3_server: procs.S3Server, s3_bucket: str) -> None:
    backend = ObstoreBackend(f"s3://{s3_bucket}", **s3_kwargs(s3_server))
    for _ in range(2):  # the bucket is checked once, then a missing key is just a KeyError
        with pytest.raises(MissingKeyError, match="'k'"):
            backend.get_bytes("k")
    assert backend.get_many(["k", "j"]) == {}


def _wait_until_stopped(pid: int) -> None:
    """SIGSTOP is delivered asynchronously; wait until the kernel shows the process stopped."""
    for _ in range(500):
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().rsplit(")", 1)[1].split()[0] in ("T", "t"):
                return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not stop")


@pytest.mark.servers
def test_stopped_server_times_out(own_s3_server: procs.S3Server) -> None:
    """SIGSTOP the real SeaweedFS: a request fails within the timeout instead of hanging.

    The server is this test's own: pausing the run's shared one would stall other tests.
    """
    s3_server = own_s3_server
    s3_bucket = s3_server.create_bucket()
    backend = ObstoreBackend(f"s3://{s3_bucket}", **s3_kwargs(s3_server, timeout=1, max_retries=0))
    backend.put_bytes("k", b"v")
    os.killpg(s3_server.pid, signal.SIGSTOP)
    try:
        _wait_until_stopped(s3_server.pid)
        with pytest.raises(StoreError, match=s3_bucket):
            backend.get_bytes("k")
        with pytest.raises(StoreError, match=s3_bucket):
            asyncio.run(backend.aget_many(["k"]))
    finally:
        os.killpg(s3_server.pid, signal.SIGCONT)
    assert backend.get_bytes("k") == b"v"


# --------------------------------------------------------------------------- Azure (Azurite)
@pytest.mark.servers
def test_azure_delete_many_skips_missing_keys(
    azure_server: procs.AzureServer, azure_container: str
) -> None:
    """Azure's blob batch stops at a missing blob; the rest of the batch is still deleted."""
    backend = ObstoreBackend(f"az://{azure_container}", **azure_kwargs(azure_server))
    keys = [f"d/{i:03d}" for i in range(300)]
    backend.put_many(dict.fromkeys(keys, b"x"))
    backend.delete_many(["d/000-missing", *keys[:290]])
    assert list(backend.list_prefix("d", recursive=True)) == keys[290:]
    asyncio.run(backend.adelete_many([*keys[290:], "d/zzz-missing"]))
    assert list(backend.list_prefix("", recursive=True)) == []


@pytest.mark.servers
def test_azure_connection_string(azure_server: procs.AzureServer, azure_container: str) -> None:
    conn = (
        f"DefaultEndpointsProtocol=http;AccountName={azure_server.account};"
        f"AccountKey={azure_server.key};BlobEndpoint={azure_server.endpoint};"
    )
    backend = ObstoreBackend(f"az://{azure_container}", connection_string=conn)
    backend.put_bytes("k", b"v")
    assert backend.get_bytes("k") == b"v"
    assert azure_server.key not in repr(backend)


@pytest.mark.servers
def test_azure_ambient_credentials(
    azure_server: procs.AzureServer, azure_container: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", azure_server.account)
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", azure_server.key)
    monkeypatch.setenv("AZURE_STORAGE_ENDPOINT", azure_server.endpoint)
    backend = make_backend(f"az://{azure_container}/env", allow_http=True)
    backend.put_bytes("k", b"from-env")
    assert backend.get_bytes("k") == b"from-env"


@pytest.mark.servers
def test_azure_sas_token_never_printed(
    azure_server: procs.AzureServer, azure_container: str
) -> None:
    sas = "sv=2021-08-06&ss=b&srt=sco&sp=rl&se=2030-01-01&sig=SASSIGNATUREzv0099secret"
    backend = ObstoreBackend(
        f"az://{azure_container}",
        account_name=azure_server.account,
        endpoint=azure_server.endpoint,
        sas_token=sas,
    )
    assert "SASSIGNATUREzv0099secret" not in repr(backend)
    with pytest.raises(StoreError) as info:
        backend.get_bytes("k")
    assert "SASSIGNATUREzv0099secret" not in str(info.value)


# --------------------------------------------------------------------------- HTTP (read-only)
@pytest.mark.servers
def test_http_refuses_conditional_writes(http_seeded: str) -> None:
    from zarr_vectors.exceptions import UnsupportedOperationError

    with pytest.raises((ReadOnlyBackendError, UnsupportedOperationError)):
        ObstoreBackend(http_seeded).put_if("new", b"v", expect=None)


class _SlowCounting:
    """A real HTTP server on 127.0.0.1 whose answers take a while; records peak concurrency."""

    def __init__(self, delay: float) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.active = 0
        self.peak = 0
        lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with lock:
                    owner.active += 1
                    owner.peak = max(owner.peak, owner.active)
                time.sleep(delay)
                with lock:
                    owner.active -= 1
                body = self.path.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("limit", [1, 3])
def test_batch_reads_are_concurrent_and_bounded(limit: int) -> None:
    server = _SlowCounting(delay=0.15)
    try:
        backend = ObstoreBackend(server.url + "/d", max_concurrency=limit)
        keys = [f"k{i}" for i in range(9)]
        got = asyncio.run(backend.aget_many(keys))
        assert got == {k: f"/d/{k}".encode() for k in keys}
        assert server.peak == limit
        server.peak = 0
        assert backend.get_many(keys[:6]) == {k: f"/d/{k}".encode() for k in keys[:6]}
        assert server.peak == limit
    finally:
        server.close()


# --------------------------------------------------------------------------- GCS (fake-gcs-server)
@pytest.mark.servers
def test_gcs_version_is_the_generation(gcs_server: procs.GcsServer, gcs_seeded: str) -> None:
    backend = make_backend(f"gs://{gcs_seeded}", endpoint=gcs_server.endpoint, anon=True)
    assert isinstance(backend, ObstoreBackend)
    # GCS matches conditional writes on the generation, so that is the version.
    info = backend.head("a/k")
    assert info.size == 10 and info.version is not None and info.version.isdigit()
    assert backend.conditional_writes


@pytest.mark.servers
def test_gcs_token_reads_and_never_printed(gcs_server: procs.GcsServer, gcs_seeded: str) -> None:
    token = "GCS-BEARER-TOKEN-zv-31337"
    backend = ObstoreBackend(f"gs://{gcs_seeded}", endpoint=gcs_server.endpoint, token=token)
    assert token not in repr(backend)
    assert backend.get_bytes("ab") == b"x"
    # fake-gcs-server does not take uploads through GCS's XML API, which obstore uses:
    # the write fails with a StoreError (see docs/backends.md), and the token stays hidden.
    with pytest.raises(StoreError) as info:
        backend.put_bytes("new", b"v")
    assert token not in str(info.value) and f"gs://{gcs_seeded}" in str(info.value)
    backend.delete("ab")  # deletes do go through
    backend.delete_prefix("a")
    assert list(backend.list_prefix("", recursive=True)) == []


# --------------------------------------------------------------------------- the conformance kit
class TestObstoreMemoryConformance(BackendConformance):
    """The kit on obstore's MemoryStore (chosen explicitly for memory://)."""

    backend_name = "obstore"
    kit_config = KitConfig.local().with_changes(max_examples=20, derandomize=True)

    def make_url(self, tmp_path: Any) -> str:
        return f"memory://zv-kit/{uuid.uuid4().hex}"


@pytest.mark.servers
class TestObstoreS3Conformance(BackendConformance):
    """The kit on SeaweedFS through obstore's S3 store.

    ``verify_prefixes``: SeaweedFS keeps listing a folder after its last object is
    deleted (see test_s3_verify_prefixes_hides_emptied_folders).
    """

    backend_name = "obstore"
    kit_config = KitConfig.remote().with_changes(max_examples=6, derandomize=True)

    def make_target(self, request: pytest.FixtureRequest, tmp_path: Any) -> KitTarget:
        server = request.getfixturevalue("s3_server")
        bucket = request.getfixturevalue("s3_bucket")
        # isolated(): SeaweedFS keeps emptied folders, and a 0-byte object put where one
        # was is listed but not readable; each example gets untouched space instead.
        return KitTarget.from_name(
            "obstore", f"s3://{bucket}/kit", verify_prefixes=True, **s3_kwargs(server)
        ).isolated()


@pytest.mark.servers
class TestObstoreAzureConformance(BackendConformance):
    """The kit on Azurite through obstore's Azure store."""

    backend_name = "obstore"
    # Azure's blob batch takes 256 deletes and GCS's batch 100: 300 keys cross a page
    # boundary of both (the S3 classes keep 1,100 for DeleteObjects' 1,000), at a
    # quarter of the emulator's time.
    kit_config = KitConfig.remote().with_changes(max_examples=6, derandomize=True, batch_keys=300)

    def make_target(self, request: pytest.FixtureRequest, tmp_path: Any) -> KitTarget:
        server = request.getfixturevalue("azure_server")
        container = request.getfixturevalue("azure_container")
        return KitTarget.from_name("obstore", f"az://{container}/kit", **azure_kwargs(server))
