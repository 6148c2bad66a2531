"""One server of each kind for the whole test run, shared by the pytest-xdist workers.

Each xdist worker is a separate process with its own session fixtures, so a
session-scoped server used to start once per worker: three SeaweedFS servers,
three Azurites and three GCS emulators on two cores, each taking seconds to
start and CPU while idle. Here the first worker to ask starts the server, under
a file lock in the run's base temporary folder (the parent of every worker's
own), and records how to reach it in ``<kind>.json``; the others attach to it.
Tests never see each other's keys, because every test has buckets of its own.

No worker stops a shared server: a worker may finish while another still uses
it. The controller process stops every recorded one by its process id when the
run ends (:func:`stop_recorded`, called from ``tests/conftest.py``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from tests.helpers.servers import procs

T = TypeVar("T", bound=procs._Server)

#: The folder, under the run's base temporary folder, holding the records.
FOLDER = "shared-servers"


class AttachedProcess:
    """What a server object uses of ``subprocess.Popen``, for a process another worker started."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            self.returncode = -1
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        return self.poll() or 0


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _record(server: procs._Server) -> dict[str, Any]:
    fields = {
        f.name: getattr(server, f.name) for f in dataclasses.fields(server) if f.name != "popen"
    }
    fields["log_path"] = str(fields["log_path"])
    return {"pid": server.pid, "fields": fields}


def _attach(kind: type[T], record: dict[str, Any]) -> T:
    fields = dict(record["fields"])
    fields["log_path"] = Path(fields["log_path"])
    return kind(popen=AttachedProcess(record["pid"]), **fields)  # type: ignore[arg-type]


def shared(folder: Path, what: str, kind: type[T], start: Callable[[Path], T], workdir: Path) -> T:
    """The run's ``what`` server: started here if no worker has started it yet."""
    folder.mkdir(parents=True, exist_ok=True)
    record_path = folder / f"{what}.json"
    with _locked(folder / f"{what}.lock"):
        if record_path.exists():
            server = _attach(kind, json.loads(record_path.read_text()))
            if server.popen.poll() is None:
                return server
        server = start(workdir)
        record_path.write_text(json.dumps(_record(server)))
        return server


def stop_recorded(folder: Path) -> None:
    """Stop every server recorded in ``folder`` by its process group (by the controller)."""
    if not folder.is_dir():
        return
    for record_path in folder.glob("*.json"):
        record = json.loads(record_path.read_text())
        stop_signal = int(record["fields"].get("stop_signal", signal.SIGTERM))
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(record["pid"], stop_signal)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(record["pid"], signal.SIGKILL)
        record_path.unlink()
