"""``zarr-vectors serve`` / ``view`` in-process: what they print, a taken port, the source closed.

The server itself is replaced here (``run_server`` / ``view``), except where it cannot
start (a port in use, no store), which needs no process; the real processes, their
signals and Neuroglancer's requests are tested in ``tests/serve/test_cli.py``.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from tests.helpers.cli import run_apart
from zarr_vectors.cli import main
from zarr_vectors.cli.serve_cmd import _sigterm_as_ctrl_c, _wait_for_ctrl_c
from zarr_vectors.types.points import write_points

serve = pytest.importorskip("zarr_vectors.serve")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    pos = np.random.default_rng(4).uniform(0, 10, (200, 3))
    labels = np.arange(200, dtype=np.uint8)
    write_points(tmp_path / "s", pos, chunk_shape=(5.0,) * 3, vertex_attributes={"label": labels})
    return tmp_path / "s"


@pytest.fixture
def sources(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """One list per source the command opens, which gets "closed" when it is closed."""
    opened: list[list[str]] = []
    real = serve.open_source

    def open_source(*args: Any, **kwargs: Any) -> Any:
        source = real(*args, **kwargs)
        said: list[str] = []
        close = source.close

        def closing() -> None:
            said.append("closed")
            close()

        source.close = closing
        opened.append(said)
        return source

    monkeypatch.setattr(serve, "open_source", open_source)
    return opened


def test_serve_says_what_it_serves_and_closes_the_store(
    store: Path, sources: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, int]] = []

    def run_server(source: Any, *, host: str, port: int, print_: Any) -> None:
        calls.append((host, port))
        print_("serving")

    monkeypatch.setattr(serve, "run_server", run_server)
    code, out, err = run_apart("serve", store, "--port", "9123")
    assert code == 0, out + err
    assert calls == [("127.0.0.1", 9123)]
    assert "Spatial index:" in out and "Properties: label" in out and "serving" in out
    assert err == ""  # loopback: no warning
    assert sources == [["closed"]]


def test_serve_says_where_objects_are_and_why_draco_points_are_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("DracoPy")
    from zarr_vectors.types.meshes import write_mesh

    vertices = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], np.float32)
    faces = np.array([[0, 1, 2, 3]])
    write_mesh(tmp_path / "m", vertices, faces, chunk_shape=(5.0,) * 3, encoding="draco")
    monkeypatch.setattr(serve, "run_server", lambda *a, **k: None)
    code, out, _ = run_apart("serve", tmp_path / "m")
    assert code == 0, out
    assert "Not served: points (" in out and "encoded as 'draco'" in out
    assert "Meshes: under /meshes" in out and "Spatial index" not in out


def test_serve_on_another_host_warns_that_anyone_may_read(
    store: Path, sources: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serve, "run_server", lambda *a, **k: None)
    code, _, err = run_apart("serve", store, "--host", "0.0.0.0")
    assert code == 0
    assert "Note: listening on 0.0.0.0: anyone who can reach this port" in err


def test_a_port_that_cannot_be_had_is_one_line_and_the_store_is_closed(
    store: Path, sources: list[list[str]]
) -> None:
    with socket.socket() as taken:  # the real server meets a port in use
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", str(store), "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port} (" in result.stderr
    assert "choose another --port" in result.stderr and "Traceback" not in result.stderr
    assert len(sources) == 1 and "closed" in sources[0]  # (the app closes it too: harmless)


def test_serve_says_what_is_wrong_with_the_store(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", str(tmp_path / "missing.zarrvectors")])
    assert result.exit_code == 1
    assert "no Zarr Vectors store" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "missing.zarrvectors").exists()


def test_view_prints_the_viewer_and_stops_on_ctrl_c(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[bool] = []

    class Session:
        url = "http://127.0.0.1:1234/v/abc/"
        layer_source = "precomputed://http://127.0.0.1:5678"

        def __init__(self, source: Any) -> None:
            self.source = source

        def close(self) -> None:
            closed.append(True)
            self.source.close()

    def view(url: str, **kwargs: Any) -> Session:
        return Session(serve.open_source(url))

    def interrupted(self: Any, timeout: float | None = None) -> bool:
        raise KeyboardInterrupt

    pytest.importorskip("neuroglancer")
    monkeypatch.setattr(serve, "view", view)
    monkeypatch.setattr(threading.Event, "wait", interrupted)
    code, out, _ = run_apart("view", store)
    assert code == 0, out
    assert "Neuroglancer viewer: http://127.0.0.1:1234/v/abc/" in out
    assert "Layer source: precomputed://http://127.0.0.1:5678" in out
    assert closed == [True]


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """Python's own SIGINT handler for the test, whatever the run inherited.

    A suite started in the background (``cmd &``) inherits SIGINT ignored, and a
    signal then never becomes KeyboardInterrupt: that, not ``view``, is what made
    an earlier version of the test below hang.
    """
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers can only be set from the main thread")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def test_ctrl_c_taken_by_another_thread_still_ends_the_wait(ctrl_c_raises: None) -> None:
    """SIGINT delivered to a thread other than the main one (the kernel picks any)
    still ends ``view``'s wait: an endless ``Event.wait()`` slept through it."""
    release = threading.Event()
    other = threading.Thread(target=release.wait, args=(30,), daemon=True)
    other.start()
    assert other.ident is not None
    timer = threading.Timer(0.2, signal.pthread_kill, args=(other.ident, signal.SIGINT))
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            _wait_for_ctrl_c()
    finally:
        timer.cancel()
        release.set()
    assert time.monotonic() - started < 30


def test_sigterm_ends_views_wait_and_its_handler_is_put_back(ctrl_c_raises: None) -> None:
    before = signal.getsignal(signal.SIGTERM)
    done = threading.Event()

    def terminate_once_the_wait_handles_it() -> None:
        # Sent earlier, SIGTERM's default would end this test process.
        while not done.is_set():
            if signal.getsignal(signal.SIGTERM) is not before:
                os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(0.01)

    threading.Thread(target=terminate_once_the_wait_handles_it, daemon=True).start()
    try:
        with pytest.raises(KeyboardInterrupt), _sigterm_as_ctrl_c():
            _wait_for_ctrl_c()
    finally:
        done.set()
    assert signal.getsignal(signal.SIGTERM) is before
