"""``zarr-vectors serve`` and ``zarr-vectors view`` as a user runs them: real processes."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.serve.conftest import fetch

pytestmark = pytest.mark.slow

#: Waiting for a line only stops a broken run; a healthy one prints within seconds.
LINE_DEADLINE = 120.0


def command() -> list[str]:
    script = Path(sys.executable).parent / "zarr-vectors"
    return [str(script)] if script.exists() else [sys.executable, "-m", "zarr_vectors.cli"]


def from_a_terminal() -> None:
    """Ctrl-C as a user at a terminal sends it: SIGINT at its default in the child.

    Whatever started this test run in the background (``cmd &``) made SIGINT
    ignored for every process below it, and Python keeps an inherited ignore;
    without this the SIGINT tests would test how the suite was launched.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def from_the_background() -> None:
    """As ``cmd &`` in a shell starts a command: SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Running:
    """A command whose output lines are read as they come."""

    def __init__(self, args: list[str], start: Any = from_a_terminal) -> None:
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=start,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, pattern: str) -> re.Match[str]:
        while True:
            try:
                line = self.lines.get(timeout=LINE_DEADLINE)
            except queue.Empty:
                pytest.fail(f"no line matching {pattern!r}; printed: {self.seen}")
            if line is None:
                pytest.fail(f"exited ({self.proc.wait()}) before {pattern!r}; printed: {self.seen}")
            self.seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found

    def stop(self, sig: int) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=LINE_DEADLINE)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


def test_serve_answers_neuroglancer_until_stopped(cloud: tuple[str, Any, Any]) -> None:
    running = Running([*command(), "serve", cloud[0], "--port", "0"])
    try:
        running.wait_for(r"Not served: attribute 'gps_time' \(int64")
        found = running.wait_for(r"precomputed://(http://127\.0\.0\.1:\d+)")
        url = found.group(1)
        status, headers, body = fetch(f"{url}/info")
        assert status == 200
        assert json.loads(body)["@type"] == "neuroglancer_annotations_v1"
        assert headers["Access-Control-Allow-Origin"] == "*"
    finally:
        code = running.stop(signal.SIGTERM)
    assert code == 0, running.seen


def test_view_prints_a_viewer_with_the_layer(cloud: tuple[str, Any, Any]) -> None:
    pytest.importorskip("neuroglancer")
    running = Running([*command(), "view", cloud[0]])
    try:
        viewer = running.wait_for(r"Neuroglancer viewer: (http://127\.0\.0\.1:\d+/v/\w+/)").group(1)
        layer = running.wait_for(r"Layer source: precomputed://(http://127\.0\.0\.1:\d+)").group(1)
        status, _, page = fetch(viewer)
        assert status == 200 and b"<html" in page.lower()
        status, _, body = fetch(f"{layer}/info")
        assert status == 200 and b"neuroglancer_annotations_v1" in body
    finally:
        code = running.stop(signal.SIGINT)
    assert code == 0, running.seen


def test_view_started_in_the_background_says_how_to_stop_it_and_stops_on_sigterm(
    cloud: tuple[str, Any, Any],
) -> None:
    pytest.importorskip("neuroglancer")
    running = Running([*command(), "view", cloud[0]], start=from_the_background)
    try:
        running.wait_for(r"Layer source: precomputed://")
        hint = running.wait_for(r"Ctrl-C is ignored in this process .*: kill (\d+)")
        assert int(hint.group(1)) == running.proc.pid
    finally:
        code = running.stop(signal.SIGTERM)
    assert code == 0, running.seen
