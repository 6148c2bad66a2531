"""pytest plugin: real storage servers on 127.0.0.1, started lazily, one per session.

Loaded from ``tests/conftest.py``. A session-scoped server starts only when a
test first asks for it and is stopped by its pid when the session ends. The
function-scoped ``s3_bucket`` / ``azure_container`` / ``gcs_bucket`` give each
test a fresh, uniquely named bucket so tests never see each other's keys.

Under pytest-xdist, SeaweedFS, Azurite and the GCS emulator are started once for
the whole run and shared by the workers (:mod:`tests.helpers.servers.sharing`);
the controller stops them by their pids when the run ends.

On CI (``CI=true``) a server that cannot start fails the tests that need it;
elsewhere they are skipped with the reason (e.g. npm unreachable).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tests.helpers.servers import procs, sharing

T = TypeVar("T", bound=procs._Server)


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _serve(
    factory: Callable[[Path], T],
    what: str,
    tmp_path_factory: pytest.TempPathFactory,
    kind: type[T] | None = None,
) -> Iterator[T]:
    """Start ``what`` for this session; with ``kind``, the run's shared one under xdist."""
    share = kind is not None and "PYTEST_XDIST_WORKER" in os.environ
    try:
        if share:
            assert kind is not None
            folder = tmp_path_factory.getbasetemp().parent / sharing.FOLDER
            server = sharing.shared(folder, what, kind, factory, tmp_path_factory.mktemp(what))
        else:
            server = factory(tmp_path_factory.mktemp(what))
    except procs.ServerStartError as err:
        if _on_ci():
            pytest.fail(f"{what} test server could not start on CI: {err}", pytrace=False)
        pytest.skip(f"{what} test server could not start: {err}")
    if share:
        yield server  # the controller stops it when the whole run ends
        return
    try:
        yield server
    finally:
        server.stop()


def stop_shared_servers(config: pytest.Config) -> None:
    """Stop the servers the workers shared (called by the controller at the run's end)."""
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is not None and not hasattr(config, "workerinput"):
        sharing.stop_recorded(factory.getbasetemp() / sharing.FOLDER)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[procs.S3Server]:
    """SeaweedFS serving S3 with enforced credentials (``.access_key`` / ``.secret_key``)."""
    yield from _serve(procs.start_seaweedfs, "seaweedfs", tmp_path_factory, procs.S3Server)


@pytest.fixture
def s3_bucket(s3_server: procs.S3Server) -> str:
    """A fresh, empty bucket on :func:`s3_server`."""
    return s3_server.create_bucket()


@pytest.fixture(scope="session")
def azure_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[procs.AzureServer]:
    """Azurite's blob service with a random account key (``.account`` / ``.key``).

    One per xdist worker, not one per run: a single Azurite serving both workers'
    Azure tests for a whole loaded run twice stopped answering for minutes (a kit
    call past its 120 s, then container creation past 10 s), as long-lived, busy
    Azurites are known to (Azure/Azurite#719, #939). It starts in about a second.
    """
    yield from _serve(procs.start_azurite, "azurite", tmp_path_factory)


@pytest.fixture
def azure_container(azure_server: procs.AzureServer) -> Iterator[str]:
    """A fresh, private, empty container on :func:`azure_server`, deleted afterwards."""
    name = azure_server.create_container()
    yield name
    azure_server.delete_container(name)


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[procs.GcsServer]:
    """fake-gcs-server (anonymous; seed objects with ``.upload(bucket, name, data)``)."""
    yield from _serve(procs.start_gcs, "fake-gcs", tmp_path_factory, procs.GcsServer)


@pytest.fixture
def gcs_bucket(gcs_server: procs.GcsServer) -> str:
    """A fresh, empty bucket on :func:`gcs_server`."""
    return gcs_server.create_bucket()


@pytest.fixture(scope="session")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[procs.HttpServer]:
    """A read-only HTTP server; tests write files under ``.root`` and read them at ``.url``."""
    root = tmp_path_factory.mktemp("http") / "root"
    yield from _serve(lambda _: procs.start_http(root), "http", tmp_path_factory)


#: The user and password :func:`http_auth_server` requires (HTTP basic auth).
HTTP_AUTH = ("zv-user", "zv-Basic-Auth-Password-51c2")


@pytest.fixture(scope="session")
def http_auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[procs.HttpServer]:
    """As :func:`http_server`, but every request needs :data:`HTTP_AUTH` as basic auth."""
    root = tmp_path_factory.mktemp("http-auth") / "root"
    yield from _serve(lambda _: procs.start_http(root, auth=HTTP_AUTH), "http", tmp_path_factory)


from tests.helpers.servers.counting_proxy import CountingProxy  # noqa: E402  (appended with its fixture)


@pytest.fixture
def s3_counting_proxy(s3_server: procs.S3Server) -> Iterator[CountingProxy]:
    """A request-counting reverse proxy in front of :func:`s3_server` (stopped after the test).

    Point a client's endpoint at ``.url``; ``.counts()`` gives the requests by kind
    (``"PUT"``, ``"POST?delete"``...), ``.reset()`` starts counting again.
    """
    with CountingProxy(s3_server.endpoint) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def s3_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[procs.S3ClusterServer]:
    """SeaweedFS as a cluster (master, two volume servers, filer + S3 gateway), credentials
    enforced as on :func:`s3_server`; every process is killed by its pid at the end."""
    yield from _serve(procs.start_seaweedfs_cluster, "seaweedfs-cluster", tmp_path_factory)


@pytest.fixture
def s3_cluster_bucket(s3_cluster: procs.S3ClusterServer) -> str:
    """A fresh, empty bucket on :func:`s3_cluster`."""
    return s3_cluster.create_bucket()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The controller stops the shared servers once every worker is done."""
    stop_shared_servers(session.config)


@pytest.fixture
def own_s3_server(tmp_path: Path) -> Iterator[procs.S3Server]:
    """A SeaweedFS of this test's own, for tests that stop or pause the server itself."""
    try:
        server = procs.start_seaweedfs(tmp_path / "seaweedfs")
    except procs.ServerStartError as err:
        if _on_ci():
            pytest.fail(f"SeaweedFS could not start on CI: {err}", pytrace=False)
        pytest.skip(f"SeaweedFS could not start: {err}")
    try:
        yield server
    finally:
        server.stop()
