"""Semantics of the built-in local backend, sync and async, and its one-line disk errors."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.tmpfs import small_tmpfs
from zarr_vectors.exceptions import KeyConflictError, MissingKeyError, StoreError
from zarr_vectors.storage import AsyncStorageBackend, StorageBackend, make_backend
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.types.points import write_points


@pytest.fixture
def backend(tmp_path: Path) -> LocalBackend:
    return LocalBackend(tmp_path / "root")


def test_implements_both_protocols(backend: LocalBackend) -> None:
    assert isinstance(backend, StorageBackend)
    assert isinstance(backend, AsyncStorageBackend)


def test_put_get_overwrite(backend: LocalBackend) -> None:
    backend.put_bytes("a/b/c", b"one")
    assert backend.get_bytes("a/b/c") == b"one"
    backend.put_bytes("a/b/c", b"two!")
    assert backend.get_bytes("a/b/c") == b"two!"
    backend.put_bytes("empty", b"")
    assert backend.get_bytes("empty") == b""
    assert backend.exists("empty")


def test_missing_key_raises_keyerror_naming_key(backend: LocalBackend) -> None:
    with pytest.raises(KeyError) as info:
        backend.get_bytes("nope/x")
    assert isinstance(info.value, MissingKeyError)
    assert "nope/x" in str(info.value)
    with pytest.raises(KeyError):
        backend.get_range("nope/x", 0, 4)
    with pytest.raises(KeyError):
        backend.get_range("nope/x", 0, 0)
    assert not backend.exists("nope/x")


def test_ranges(backend: LocalBackend) -> None:
    backend.put_bytes("k", b"0123456789")
    assert backend.get_range("k", 0, 3) == b"012"
    assert backend.get_range("k", 3, 4) == b"3456"
    assert backend.get_range("k", 8, 10) == b"89"
    assert backend.get_range("k", 10, 5) == b""
    assert backend.get_range("k", 4) == b"456789"
    assert backend.get_range("k", 2, 0) == b""
    with pytest.raises(ValueError):
        backend.get_range("k", -1, 2)


def test_delete_is_silent_for_missing_and_prunes_empty_dirs(backend: LocalBackend) -> None:
    backend.delete("never/was")
    backend.put_bytes("x/y/z", b"1")
    backend.delete("x/y/z")
    assert not backend.exists("x/y/z")
    assert list(backend.list_prefix("")) == []


def test_delete_prefix_never_touches_siblings(backend: LocalBackend) -> None:
    backend.put_many({"a/1": b"1", "a/b/2": b"2", "ab": b"3", "ab2/x": b"4", "b": b"5"})
    backend.delete_prefix("a")
    assert sorted(backend.list_prefix("", recursive=True)) == ["ab", "ab2/x", "b"]
    backend.delete_prefix("a")  # nothing left: silent
    backend.delete_prefix("")
    assert list(backend.list_prefix("", recursive=True)) == []


def test_list_immediate_children_marks_containers(backend: LocalBackend) -> None:
    backend.put_many({"a/1": b"", "a/b/2": b"", "a/b/c/3": b"", "ab": b"", "z": b""})
    assert list(backend.list_prefix("")) == ["a/", "ab", "z"]
    assert list(backend.list_prefix("a")) == ["a/1", "a/b/"]
    assert list(backend.list_prefix("a/")) == ["a/1", "a/b/"]
    assert list(backend.list_prefix("a", recursive=True)) == ["a/1", "a/b/2", "a/b/c/3"]
    assert list(backend.list_prefix("missing")) == []


def test_get_many_leaves_out_missing_and_put_many_accepts_pairs(backend: LocalBackend) -> None:
    backend.put_many([("p/1", b"1"), ("p/2", b"22")])
    assert backend.get_many(["p/1", "p/2", "p/3"]) == {"p/1": b"1", "p/2": b"22"}


def test_object_and_prefix_conflict_is_a_clear_error(backend: LocalBackend) -> None:
    backend.put_bytes("a", b"file")
    with pytest.raises(KeyConflictError, match="both an object and a prefix"):
        backend.put_bytes("a/b", b"x")
    backend.put_bytes("d/e", b"x")
    with pytest.raises(KeyConflictError):
        backend.put_bytes("d", b"x")
    assert backend.get_bytes("a") == b"file"


def test_reading_does_not_create_the_root(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "not-yet")
    assert list(backend.list_prefix("")) == []
    assert backend.get_many(["a"]) == {}
    assert not (tmp_path / "not-yet").exists()


def test_file_url_and_context_manager(tmp_path: Path) -> None:
    with make_backend((tmp_path / "s").as_uri()) as backend:
        assert isinstance(backend, LocalBackend)
        backend.put_bytes("k", b"v")
    assert (tmp_path / "s" / "k").read_bytes() == b"v"
    with pytest.raises(StoreError, match="closed"):
        backend.get_bytes("k")


def test_symlink_inside_root_cannot_escape(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"do not read")
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "filelink").symlink_to(outside / "secret")
    backend = LocalBackend(root)
    for call in (
        lambda: backend.get_bytes("link/secret"),
        lambda: backend.get_bytes("filelink"),
        lambda: backend.put_bytes("link/new", b"x"),
        lambda: backend.put_bytes("filelink", b"x"),
        lambda: backend.exists("link/secret"),
        lambda: backend.delete("link/secret"),
        lambda: backend.delete_prefix("link"),
        lambda: backend.get_many(["a", "link/secret"]),
        lambda: backend.get_many(["filelink"]),
        lambda: backend.put_many([("ok", b"1"), ("link/new", b"x")]),
        lambda: backend.put_many([(f"many/{i}", b"1") for i in range(40)] + [("link/n", b"x")]),
    ):
        with pytest.raises(StoreError, match="outside the store root"):
            call()
    assert list(backend.list_prefix("", recursive=True)) == []
    assert (outside / "secret").read_bytes() == b"do not read"
    assert not (outside / "new").exists()


def test_root_itself_may_be_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    backend = LocalBackend(tmp_path / "alias")
    backend.put_bytes("a/b", b"ok")
    assert (real / "a" / "b").read_bytes() == b"ok"


def test_leftover_temporary_files_are_invisible(backend: LocalBackend) -> None:
    backend.put_bytes("d/k", b"v")
    (backend.root / "d" / ".zv-tmp-abandoned").write_bytes(b"torn")
    assert list(backend.list_prefix("d")) == ["d/k"]
    assert list(backend.list_prefix("", recursive=True)) == ["d/k"]


WRITER = textwrap.dedent(
    """
    import sys
    from zarr_vectors.storage.local import LocalBackend
    backend = LocalBackend(sys.argv[1])
    size = int(sys.argv[2])
    i = 0
    print("ready", flush=True)
    while True:
        i += 1
        backend.put_bytes("obj", bytes([i % 256]) * size)
    """
)


def test_writer_killed_mid_write_leaves_old_or_new_object(tmp_path: Path) -> None:
    root = tmp_path / "atomic"
    size = 8 * 1024 * 1024
    LocalBackend(root).put_bytes("obj", b"\x00" * size)
    for attempt in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root), str(size)], stdout=subprocess.PIPE
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        time.sleep(0.05 + 0.07 * attempt)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        data = LocalBackend(root).get_bytes("obj")
        assert len(data) == size, "a killed writer left a torn object"
        assert data == bytes([data[0]]) * size, "object mixes two writes"


def test_async_twins_match_and_do_not_block_the_loop(backend: LocalBackend) -> None:
    async def scenario() -> None:
        await backend.aput_bytes("x/1", b"abc")
        await backend.aput_many({"x/2": b"de", "y": b"f"})
        assert await backend.aget_bytes("x/1") == b"abc"
        assert await backend.aget_range("x/1", 1, 5) == b"bc"
        assert await backend.aexists("y")
        assert [k async for k in backend.alist_prefix("")] == ["x/", "y"]
        assert [k async for k in backend.alist_prefix("x", recursive=True)] == ["x/1", "x/2"]
        assert await backend.aget_many(["x/1", "nope"]) == {"x/1": b"abc"}
        with pytest.raises(KeyError):
            await backend.aget_bytes("nope")
        await backend.adelete("y")
        await backend.adelete("y")
        await backend.adelete_prefix("x")
        assert [k async for k in backend.alist_prefix("", recursive=True)] == []

    asyncio.run(scenario())

    async def closing() -> None:
        async with backend:
            pass

    asyncio.run(closing())
    with pytest.raises(StoreError):
        backend.exists("a")


def test_async_write_runs_off_the_event_loop(tmp_path: Path) -> None:
    """The write below can only finish if the loop stays free to set the gate."""
    import threading

    gate = threading.Event()

    class GatedBackend(LocalBackend):
        def _put(self, key: str, data: bytes) -> None:
            if not gate.wait(5):
                raise AssertionError("the event loop was blocked while the write waited")
            super()._put(key, data)

    backend = GatedBackend(tmp_path / "gated")

    async def scenario() -> None:
        write = asyncio.create_task(backend.aput_bytes("k", b"v"))
        await asyncio.sleep(0.05)
        gate.set()
        await write

    asyncio.run(scenario())
    assert backend.get_bytes("k") == b"v"


# -- local-disk failures: one-line StoreErrors that say what to do, before anything is written
CLI = str(Path(sys.executable).with_name("zarr-vectors"))


def test_new_store_on_a_read_only_mount(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "ro", "1m", read_only=True) as mount:
        with pytest.raises(StoreError) as caught:
            write_points(mount / "new.zv", np.zeros((5, 3), np.float32), chunk_shape=(1.0,) * 3)
        message = str(caught.value)
        assert "\n" not in message and "Read-only file system" in message
        assert "write to a location" in message
        cli = subprocess.run(
            [CLI, "demo", "--points", "100", "--dir", str(mount / "demo.zv")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert cli.returncode != 0
        assert "Traceback" not in cli.stderr
        assert len(cli.stderr.strip().splitlines()) <= 2, cli.stderr
        assert "Read-only file system" in cli.stderr
