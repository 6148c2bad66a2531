"""One suite of storage-protocol behaviour that every remote-capable backend plugin runs.

The obstore and fsspec plugins reach the same places (memory, SeaweedFS for S3,
Azurite, fake-gcs-server, a read-only HTTP server, endpoints that refuse or never
answer) and promise the same things there; this module says each of those things
once. A plugin's test module subclasses :class:`BackendSuite` in a ``Test*`` class
and fills in how its backend is made and reached (the option names differ: obstore's
``endpoint``/``access_key_id`` against s3fs's ``endpoint_url``/``key``). A test the
plugin cannot run is switched off by setting its name to ``None`` in the subclass,
with the reason beside it. What is truly one plugin's own (its options, its error
wording, its quirks) stays in that plugin's module.

The scenarios it runs (``check_sync``, ``check_async``, ...) are in
``tests/helpers/backend_checks.py``, the seeded places' fixtures in
``tests/plugins/conftest.py``. The conformance kit (``zarr_vectors.testing``) checks
the protocol by generated examples; this suite holds the fixed scenarios, the server
set-ups (credentials, anonymous access, missing buckets, read-only HTTP) and the
failure paths the kit does not reach.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import pytest

from tests.helpers.backend_checks import (
    BOUNDS,
    CS,
    SECRET,
    TOKEN,
    SilentServer,
    azure_sas,
    check_async,
    check_conditional_writes,
    check_object_beside_prefix,
    check_reads,
    check_reads_async,
    check_sync,
    everything_said,
    refusal,
    same_points,
    sas_signature,
    seed,
    some_points,
)
from tests.helpers.servers import procs
from zarr_vectors.exceptions import ReadOnlyBackendError, StoreError
from zarr_vectors.lazy import open_zv
from zarr_vectors.storage.base import Backend
from zarr_vectors.storage.resolve import make_backend
from zarr_vectors.types.points import read_points, write_points


# --------------------------------------------------------------------------- the suite
class BackendSuite:
    """The shared tests; a plugin's ``Test*`` subclass says how its backend is reached."""

    #: The backend's registered name (``make_backend(..., backend=...)``).
    backend_name: ClassVar[str]
    #: This plugin's names for an S3 secret key and session token.
    s3_secret_names: ClassVar[tuple[str, str]]
    #: Places whose ``head`` reports a version that every write changes.
    versioned: ClassVar[frozenset[str]] = frozenset({"s3", "azure", "gcs"})
    #: Words one of which a refusal for wrong credentials says.
    refused_words: ClassVar[tuple[str, ...]]
    #: The alias schemes the async scenarios go through (each plugin serves its own).
    azure_async_scheme: ClassVar[str] = "azure"
    #: What a request that gets no answer says, past the URL (``None``: the URL suffices).
    no_answer_says: ClassVar[str | None] = None

    # -- how the plugin's backend is made and reached (override) --------------------------
    def s3_options(
        self,
        server: procs.S3Server,
        secret: str | None = None,
        token: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """The options reaching ``server``; ``secret``/``token``: wrong ones instead."""
        wrong = dict(zip(self.s3_secret_names, (secret, token), strict=True))
        given = {name: value for name, value in wrong.items() if value}
        return {**server.backend_options(self.backend_name), **given, **extra}

    def s3_anonymous(self, server: procs.S3Server) -> dict[str, Any]:
        raise NotImplementedError

    def s3_endpoint_only(self, server: procs.S3Server) -> dict[str, Any]:
        """The server's endpoint and region, no credentials (those come in the URL)."""
        raise NotImplementedError

    def azure_options(
        self, server: procs.AzureServer, key: str | None = None
    ) -> list[dict[str, Any]]:
        """Each form of options this plugin takes for Azurite (``key``: a wrong account key)."""
        raise NotImplementedError

    def azure_anonymous(self, server: procs.AzureServer) -> dict[str, Any]:
        raise NotImplementedError

    def azure_endpoint_only(self, server: procs.AzureServer) -> dict[str, Any]:
        """The emulator's account and endpoint, no credential (a SAS comes in the URL)."""
        raise NotImplementedError

    def gcs_options(self, server: procs.GcsServer) -> dict[str, Any]:
        """Anonymous access to the emulator."""
        raise NotImplementedError

    def s3_at(self, endpoint: str, timeout: float) -> dict[str, Any]:
        """S3 options for a server at ``endpoint`` with a made-up :data:`SECRET`, no retries."""
        raise NotImplementedError

    def make(self, url: str, **options: Any) -> Backend:
        return make_backend(url, backend=self.backend_name, **options)

    def memory(self, **options: Any) -> Backend:
        return self.make(f"memory://zv-suite/{uuid.uuid4().hex}", **options)

    def check_missing(self, backend: Backend, url: str, *, write: bool = False) -> None:
        """Calls on a bucket or container that does not exist fail, and say so.

        ``write``: a write too (SeaweedFS makes a missing bucket on a write).
        """
        assert f"{url} does not exist" in str(refusal(lambda: backend.get_bytes("k")))
        for call in (
            lambda: asyncio.run(backend.aget_bytes("k")),
            lambda: asyncio.run(backend.aget_many(["k"])),
            lambda: list(backend.list_prefix("")),
            *([lambda: backend.put_bytes("k", b"1")] if write else []),
        ):
            assert "does not exist" in str(refusal(call))

    # -- memory ------------------------------------------------------------------------
    def test_memory_sync_protocol(self) -> None:
        with self.memory() as backend:
            check_sync(backend, versioned="memory" in self.versioned)

    def test_memory_async_protocol(self) -> None:
        asyncio.run(check_async(self.memory(max_concurrency=3)))

    def test_memory_conditional_writes(self) -> None:
        with self.memory() as backend:
            check_conditional_writes(backend)

    def test_closed_backend_refuses_calls(self) -> None:
        backend = self.memory()
        backend.put_bytes("k", b"v")
        backend.close()
        assert backend.closed
        for call in (lambda: backend.get_bytes("k"), lambda: backend.head("k")):
            with pytest.raises(StoreError, match="closed"):
                call()

    def test_bad_timeout_is_refused(self) -> None:
        from zarr_vectors.exceptions import BackendOptionError

        with pytest.raises(BackendOptionError, match="timeout"):
            self.memory(timeout=0)

    def test_unknown_scheme_is_a_store_error(self) -> None:
        with pytest.raises(StoreError, match="no-such-proto"):
            self.make("no-such-proto://host/x")

    # -- endpoints that fail -----------------------------------------------------------
    def test_unreachable_endpoint_is_a_store_error(self) -> None:
        backend = self.make(
            "s3://bucket/p", **self.s3_at(f"http://127.0.0.1:{procs.free_port()}", 1)
        )
        error = refusal(lambda: backend.get_bytes("k"))
        assert "s3://bucket/p" in str(error) and SECRET not in str(error)

    def test_silent_server_times_out_with_a_store_error(self, silent_server: SilentServer) -> None:
        backend = self.make("s3://bucket/root", **self.s3_at(silent_server.url, 1))
        started = time.monotonic()
        for call in (lambda: backend.get_bytes("k"), lambda: asyncio.run(backend.aget_many(["a"]))):
            error = refusal(call)
            assert "s3://bucket/root" in str(error) and SECRET not in str(error)
            if self.no_answer_says:
                assert self.no_answer_says in str(error)
        assert time.monotonic() - started < 40  # bounded by the timeout, not hanging
        assert silent_server.accepted, "the request never reached the silent server"
        backend.close()

    # -- S3 (SeaweedFS) ----------------------------------------------------------------
    def test_s3_sync_protocol(self, s3_server: procs.S3Server, s3_bucket: str) -> None:
        with self.make(f"s3://{s3_bucket}/root", **self.s3_options(s3_server)) as backend:
            check_sync(backend, versioned="s3" in self.versioned)

    def test_s3_async_protocol(self, s3_server: procs.S3Server, s3_bucket: str) -> None:
        options = self.s3_options(s3_server, max_concurrency=4)
        asyncio.run(check_async(self.make(f"s3://{s3_bucket}/deep/root", **options)))

    def test_s3_prefix_isolates_keys(self, s3_server: procs.S3Server, s3_bucket: str) -> None:
        inner = self.make(f"s3://{s3_bucket}/inner", **self.s3_options(s3_server))
        outer = self.make(f"s3://{s3_bucket}", **self.s3_options(s3_server))
        inner.put_bytes("k", b"v")
        outer.put_bytes("innerish/k", b"w")
        assert list(outer.list_prefix("", recursive=True)) == ["inner/k", "innerish/k"]
        assert list(inner.list_prefix("", recursive=True)) == ["k"]
        inner.delete_prefix("")
        assert list(outer.list_prefix("", recursive=True)) == ["innerish/k"]

    def test_s3_object_and_prefix_may_share_a_name(
        self, s3_server: procs.S3Server, s3_bucket: str
    ) -> None:
        with self.make(f"s3://{s3_bucket}/r", **self.s3_options(s3_server)) as backend:
            check_object_beside_prefix(backend)

    def test_s3_conditional_writes(self, s3_server: procs.S3Server, s3_bucket: str) -> None:
        """SeaweedFS honours If-None-Match: * and If-Match on PUT."""
        with self.make(f"s3://{s3_bucket}/cond", **self.s3_options(s3_server)) as backend:
            check_conditional_writes(backend)

    def test_s3_wrong_secret_is_refused_without_leaking_it(
        self, s3_server: procs.S3Server, s3_bucket: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        url = f"s3://{s3_bucket}/root"
        with self.make(url, **self.s3_options(s3_server)) as good:
            good.put_bytes("k", b"1")
        caplog.set_level(logging.DEBUG)
        bad = self.make(url, **self.s3_options(s3_server, secret=SECRET, token=TOKEN, timeout=20))
        for call in (
            lambda: bad.get_bytes("k"),
            lambda: bad.put_bytes("k", b"2"),
            lambda: list(bad.list_prefix("")),
            lambda: asyncio.run(bad.aget_bytes("k")),
            lambda: asyncio.run(bad.aput_bytes("k", b"2")),
        ):
            error = refusal(call)
            text = str(error) + repr(error)
            assert url in text and any(word in text for word in self.refused_words), text
            assert SECRET not in text and TOKEN not in text
        assert SECRET not in repr(bad) and TOKEN not in repr(bad)
        assert SECRET not in caplog.text and TOKEN not in caplog.text
        with self.make(url, **self.s3_options(s3_server)) as good:
            assert good.get_bytes("k") == b"1"

    def test_s3_anonymous_reads_but_cannot_write(
        self, s3_server: procs.S3Server, s3_bucket: str
    ) -> None:
        url = f"s3://{s3_bucket}/pub"
        self.make(url, **self.s3_options(s3_server)).put_bytes("k", b"public")
        anonymous = self.make(url, **self.s3_anonymous(s3_server))
        assert anonymous.get_bytes("k") == b"public"
        assert asyncio.run(anonymous.aget_range("k", 1, 3)) == b"ubl"
        assert list(anonymous.list_prefix("")) == ["k"]
        assert "refused" in str(refusal(lambda: anonymous.put_bytes("k", b"changed")))
        assert anonymous.get_bytes("k") == b"public"

    def test_s3_missing_bucket_is_a_store_error(self, s3_server: procs.S3Server) -> None:
        url = f"s3://zv-no-such-bucket-{uuid.uuid4().hex[:8]}/x"
        backend = self.make(url, **self.s3_options(s3_server))
        self.check_missing(backend, url)

    def test_s3_verify_prefixes_hides_emptied_folders(
        self, s3_server: procs.S3Server, s3_bucket: str
    ) -> None:
        url = f"s3://{s3_bucket}/v"
        plain = self.make(url, **self.s3_options(s3_server))
        checked = self.make(url, **self.s3_options(s3_server, verify_prefixes=True))
        plain.put_many({"gone/deep/k": b"1", "kept/k": b"2", "top": b"3"})
        plain.delete("gone/deep/k")
        assert list(checked.list_prefix("")) == ["kept/", "top"]
        assert list(checked.list_prefix("gone")) == []
        assert asyncio.run(checked.aexists("top"))
        assert list(checked.list_prefix("", recursive=True)) == ["kept/k", "top"]
        # SeaweedFS (a file system underneath) may still report the emptied folder; never less.
        assert {"kept/", "top"} <= set(plain.list_prefix("")) <= {"gone/", "kept/", "top"}
        assert list(plain.list_prefix("", recursive=True)) == ["kept/k", "top"]

    def test_s3_head_is_the_etag(self, s3_server: procs.S3Server, s3_bucket: str) -> None:
        """``head``: the size and S3's ETag (the MD5 of a single-part upload, quoted)."""
        with self.make(f"s3://{s3_bucket}/h", **self.s3_options(s3_server)) as backend:
            backend.put_bytes("k", b"first")
            info = backend.head("k")
            assert (info.key, info.size) == ("k", 5)
            assert info.version == f'"{hashlib.md5(b"first").hexdigest()}"'
            backend.put_bytes("k", b"second!")
            again = asyncio.run(backend.ahead("k"))
            assert again.size == 7 and again.version == f'"{hashlib.md5(b"second!").hexdigest()}"'

    def test_s3_delete_many_in_batches(self, s3_server: procs.S3Server, s3_bucket: str) -> None:
        """More keys than one DeleteObjects request takes (1,000), missing ones among them."""
        with self.make(f"s3://{s3_bucket}/dm", **self.s3_options(s3_server)) as backend:
            keys = [f"c/{i:04d}" for i in range(1100)]
            backend.put_many({k: b"x" for k in keys[::-1]} | {"keep": b"k", "c*": b"star"})
            backend.delete_many([*keys[:1050], "c/missing", "c*", keys[0]])
            assert list(backend.list_prefix("", recursive=True)) == [*keys[1050:], "keep"]
            asyncio.run(backend.adelete_many([*keys[1050:], "c/missing"]))
            assert list(backend.list_prefix("", recursive=True)) == ["keep"]

    # -- Azure (Azurite) ---------------------------------------------------------------
    def test_azure_sync_protocol(
        self, azure_server: procs.AzureServer, azure_container: str
    ) -> None:
        options = self.azure_options(azure_server)[0]
        with self.make(f"az://{azure_container}/sync", **options) as backend:
            check_sync(backend, versioned="azure" in self.versioned)

    def test_azure_async_protocol(
        self, azure_server: procs.AzureServer, azure_container: str
    ) -> None:
        options = {**self.azure_options(azure_server)[0], "max_concurrency": 5}
        url = f"{self.azure_async_scheme}://{azure_container}/async"
        asyncio.run(check_async(self.make(url, **options)))

    def test_azure_object_and_prefix_may_share_a_name(
        self, azure_server: procs.AzureServer, azure_container: str
    ) -> None:
        options = self.azure_options(azure_server)[0]
        with self.make(f"az://{azure_container}", **options) as backend:
            check_object_beside_prefix(backend)

    def test_azure_conditional_writes(
        self, azure_server: procs.AzureServer, azure_container: str
    ) -> None:
        options = self.azure_options(azure_server)[0]
        with self.make(f"az://{azure_container}/cond", **options) as backend:
            check_conditional_writes(backend)

    def test_azure_wrong_key_is_refused_without_leaking_it(
        self,
        azure_server: procs.AzureServer,
        azure_container: str,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        import base64

        caplog.set_level(logging.DEBUG)
        wrong = base64.b64encode(SECRET.encode() * 2).decode()
        url = f"az://{azure_container}/x"
        for options in self.azure_options(azure_server, key=wrong):
            backend = self.make(url, timeout=20, **options)
            assert wrong not in repr(backend)
            for call in (
                lambda b=backend: b.put_bytes("k", b"v"),
                lambda b=backend: b.get_bytes("k"),
                lambda b=backend: asyncio.run(b.aget_many(["k"])),
            ):
                text = str(refusal(call))
                assert url in text and any(word in text for word in self.refused_words), text
                assert wrong not in text and SECRET not in text
        assert wrong not in caplog.text

    def test_azure_anonymous_reads_a_public_container(
        self, azure_server: procs.AzureServer
    ) -> None:
        container = azure_server.create_container(public=True)
        url = f"az://{container}/pub"
        writer = self.make(url, **self.azure_options(azure_server)[0])
        writer.put_bytes("d/k", b"open")
        anonymous = self.make(url, **self.azure_anonymous(azure_server))
        assert anonymous.get_bytes("d/k") == b"open"
        assert list(anonymous.list_prefix("d")) == ["d/k"]
        assert "refused" in str(refusal(lambda: anonymous.put_bytes("d/k", b"changed")))
        assert writer.get_bytes("d/k") == b"open"

    def test_azure_missing_container_is_a_store_error(
        self, azure_server: procs.AzureServer
    ) -> None:
        url = f"az://zv-no-such-container-{uuid.uuid4().hex[:8]}/x"
        backend = self.make(url, **self.azure_options(azure_server)[0])
        self.check_missing(backend, url)

    # -- GCS (fake-gcs-server) ---------------------------------------------------------
    def test_gcs_sync_protocol(self, gcs_server: procs.GcsServer, gcs_bucket: str) -> None:
        with self.make(f"gs://{gcs_bucket}/sync", **self.gcs_options(gcs_server)) as backend:
            check_sync(backend, versioned="gcs" in self.versioned)

    def test_gcs_async_protocol(self, gcs_server: procs.GcsServer, gcs_bucket: str) -> None:
        backend = self.make(f"gcs://{gcs_bucket}/async", **self.gcs_options(gcs_server))
        asyncio.run(check_async(backend))

    def test_gcs_object_and_prefix_may_share_a_name(
        self, gcs_server: procs.GcsServer, gcs_bucket: str
    ) -> None:
        with self.make(f"gs://{gcs_bucket}/flat", **self.gcs_options(gcs_server)) as backend:
            check_object_beside_prefix(backend)

    def test_gcs_reads(self, gcs_server: procs.GcsServer, gcs_seeded: str) -> None:
        with self.make(f"gs://{gcs_seeded}", **self.gcs_options(gcs_server)) as backend:
            check_reads(backend)
        # Rooted below the bucket, through the alias scheme.
        backend = self.make(f"gcs://{gcs_seeded}", **self.gcs_options(gcs_server))
        asyncio.run(check_reads_async(backend))

    def test_gcs_missing_bucket_is_a_store_error(self, gcs_server: procs.GcsServer) -> None:
        url = f"gs://zv-no-such-bucket-{uuid.uuid4().hex[:8]}/x"
        backend = self.make(url, **self.gcs_options(gcs_server))
        self.check_missing(backend, url, write=True)

    # -- HTTP (read-only) --------------------------------------------------------------
    def test_http_reads(self, http_seeded: str) -> None:
        with self.make(http_seeded) as backend:
            assert not backend.writable
            check_reads(backend)
        asyncio.run(check_reads_async(self.make(http_seeded + "/")))  # a trailing '/' is fine

    def test_http_writes_are_refused(self, http_seeded: str, http_server: procs.HttpServer) -> None:
        root = Path(http_server.root) / http_seeded.rsplit("/", 1)[1]
        before = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
        backend = self.make(http_seeded)
        for call in (
            lambda: backend.put_bytes("new", b"v"),
            lambda: backend.put_many({"n1": b"1"}),
            lambda: backend.delete("ab"),
            lambda: backend.delete_many(["ab"]),
            lambda: backend.delete_prefix("a"),
            lambda: asyncio.run(backend.aput_bytes("new", b"v")),
            lambda: asyncio.run(backend.adelete("a/k")),
            lambda: asyncio.run(backend.adelete_prefix("")),
        ):
            with pytest.raises(ReadOnlyBackendError, match="read-only"):
                call()
        assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == before
        assert not backend.conditional_writes

    # -- credentials in URLs -----------------------------------------------------------
    def test_s3_url_credentials_write_and_read(
        self, s3_server: procs.S3Server, s3_bucket: str
    ) -> None:
        user, secret = quote(s3_server.access_key, safe=""), quote(s3_server.secret_key, safe="")
        url = f"s3://{user}:{secret}@{s3_bucket}/scan"
        options = {"backend": self.backend_name, **self.s3_endpoint_only(s3_server)}
        pts = some_points()
        assert (
            write_points(url, pts, chunk_shape=CS, bounds=BOUNDS, **options).points_written == 300
        )
        same_points(read_points(url, **options).positions, pts)
        with make_backend(url, **options) as backend:
            assert backend.url == f"s3://{s3_bucket}/scan"
            assert s3_server.secret_key not in repr(backend)
            assert s3_server.secret_key in backend.secrets  # scrubbed from its messages
        # The same store with the credentials as options: the URL's were used as such.
        with self.make(f"s3://{s3_bucket}/scan", **self.s3_options(s3_server)) as plain:
            assert plain.exists("zarr.json")

    def test_s3_wrong_secret_in_the_url_is_never_shown(
        self, s3_server: procs.S3Server, s3_bucket: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        url = f"s3://{s3_server.access_key}:{SECRET}@{s3_bucket}/scan"
        options = {"backend": self.backend_name, "timeout": 20, **self.s3_endpoint_only(s3_server)}
        backend = make_backend(url, **options)
        for call in (
            lambda: backend.put_bytes("k", b"1"),
            lambda: backend.get_bytes("k"),
            lambda: asyncio.run(backend.aget_many(["k", "j"])),
            lambda: write_points(url, some_points(50), chunk_shape=CS, bounds=BOUNDS, **options),
            lambda: read_points(url, **options),
        ):
            error = refusal(call)
            assert f"s3://{s3_bucket}/scan" in str(error)
            assert any(word in str(error) for word in self.refused_words), str(error)
            assert SECRET not in everything_said(error)
        assert SECRET not in repr(backend) and SECRET not in backend.url
        assert SECRET not in caplog.text

    def test_http_basic_auth_from_the_url(
        self,
        http_auth_server: procs.HttpServer,
        tmp_path: Path,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        import base64
        import shutil

        from tests.helpers.servers.fixtures import HTTP_AUTH

        user, password = HTTP_AUTH
        name = seed(http_auth_server.root)
        pts = some_points(seed=4)
        write_points(tmp_path / "scan", pts, chunk_shape=CS, bounds=BOUNDS)
        shutil.copytree(tmp_path / "scan", http_auth_server.root / f"{name}-scan")
        host = http_auth_server.url.removeprefix("http://")
        url = f"http://{user}:{quote(password, safe='')}@{host}/{name}"
        with self.make(url) as backend:
            assert backend.url == f"{http_auth_server.url}/{name}"
            assert password not in repr(backend)
            check_reads(backend)
        same_points(read_points(f"{url}-scan", backend=self.backend_name).positions, pts)
        # Without them, or with a wrong password, the server refuses; nothing shows it.
        caplog.set_level(logging.DEBUG)
        hidden = (SECRET, base64.b64encode(f"{user}:{SECRET}".encode()).decode())
        for refused_url in (
            f"{http_auth_server.url}/{name}",
            f"http://{user}:{SECRET}@{host}/{name}",
        ):
            refused = self.make(refused_url, timeout=20)
            assert SECRET not in repr(refused)
            for call in (
                lambda b=refused: b.get_bytes("a/k"),
                lambda u=refused_url: read_points(f"{u}-scan", backend=self.backend_name),
            ):
                error = refusal(call)
                said = str(error)
                assert any(word in said for word in (*self.refused_words, "401")), said
                assert not any(secret in everything_said(error) for secret in hidden)
            refused.close()
        assert SECRET not in caplog.text

    def test_azure_sas_in_the_url(
        self, azure_server: procs.AzureServer, azure_container: str
    ) -> None:
        options = {"backend": self.backend_name, **self.azure_endpoint_only(azure_server)}
        sas = azure_sas(azure_server.account, azure_server.key, azure_container, "racwdl")
        url = f"az://{azure_container}/sas.zv?{sas}"
        pts = some_points(600, seed=3)
        write_points(url, pts, chunk_shape=CS, bounds=BOUNDS, **options)
        same_points(read_points(url, **options).positions, pts)
        with open_zv(url, **options) as zv:
            assert zv[0].vertex_count == len(pts)
        with make_backend(url, **options) as backend:
            assert backend.url == f"az://{azure_container}/sas.zv"
            assert sas_signature(sas) not in repr(backend) and "sig=" not in backend.url
        # The SAS (and nothing else) was the credential: without it the container is private.
        bare = make_backend(f"az://{azure_container}/sas.zv", **options)
        refusal(lambda: bare.get_bytes("zarr.json"))
        # A read-only SAS reads but may not write; the refusal shows no part of the signature.
        read_only = azure_sas(azure_server.account, azure_server.key, azure_container, "rl")
        signature = sas_signature(read_only)
        with make_backend(f"az://{azure_container}/sas.zv?{read_only}", **options) as backend:
            assert backend.exists("zarr.json")
            said = everything_said(refusal(lambda: backend.put_bytes("k", b"1")))
            assert signature not in said and quote(signature, safe="") not in said
