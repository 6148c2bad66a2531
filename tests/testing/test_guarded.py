"""The guarded backend (guarded.py): every protocol call logged by the guard, the rest passed on."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers.kit_faulty import VersionedDictBackend
from zarr_vectors.testing.guard import Guard
from zarr_vectors.testing.guarded import GuardedBackend


def _guarded(name: str) -> tuple[GuardedBackend, VersionedDictBackend]:
    backend = VersionedDictBackend(f"dict://guarded-{name}")
    backend.objects.clear()
    return GuardedBackend(backend, Guard("guarded", 30.0)), backend


def test_every_sync_call_is_logged_with_its_outcome() -> None:
    guarded, backend = _guarded("sync")
    guarded.put_bytes("a", b"12")
    guarded.put_many({"b/1": b"x", "b/2": b"y"})
    assert guarded.get_bytes("a") == b"12" and guarded.get_range("a", 1) == b"2"
    assert guarded.exists("b/1") and guarded.head("a").size == 2
    assert list(guarded.list_prefix("b/")) == ["b/1", "b/2"]
    assert guarded.get_many(["b/1"]) == {"b/1": b"x"}
    guarded.move_many({"b/2": "c"})
    guarded.delete_many(["b/1"])
    guarded.delete("c")
    guarded.delete_prefix("")
    with pytest.raises(KeyError):
        guarded.get_bytes("a")
    calls = guarded.guard.calls()
    assert calls[0] == "put_bytes('a', <2 bytes>) -> None"
    assert calls[1] == "put_many([('b/1', <1 bytes>), ('b/2', <1 bytes>)]) -> None"
    assert "list_prefix('b/', recursive=False) -> ['b/1', 'b/2']" in calls
    assert calls[-1].startswith("get_bytes('a') -> MissingKeyError: ")
    assert [c.split("(")[0] for c in calls] == [
        "put_bytes", "put_many", "get_bytes", "get_range", "exists", "head", "list_prefix",
        "get_many", "move_many", "delete_many", "delete", "delete_prefix", "get_bytes",
    ]  # fmt: skip
    assert backend.objects == {}


def test_every_async_call_is_logged_too() -> None:
    guarded, _ = _guarded("async")

    async def calls() -> list[str]:
        async with guarded:
            await guarded.aput_bytes("a", b"1")
            version = await guarded.aput_if("n", b"2", expect=None)
            await guarded.aput_many([("b", b"3")])
            assert await guarded.aget_bytes("a") == b"1"
            assert await guarded.aget_range("a", 0, 1) == b"1"
            assert await guarded.aexists("b") and (await guarded.ahead("n")).version == version
            assert [k async for k in guarded.alist_prefix("", recursive=True)] == ["a", "b", "n"]
            assert await guarded.aget_many(["b"]) == {"b": b"3"}
            await guarded.amove_many([("b", "c")])
            await guarded.adelete_many(["c"])
            await guarded.adelete("a")
            await guarded.adelete_prefix("")
        return [c.split("(")[0] for c in guarded.guard.calls()]

    assert asyncio.run(calls()) == [
        "aput_bytes", "aput_if", "aput_many", "aget_bytes", "aget_range", "aexists", "ahead",
        "alist_prefix", "aget_many", "amove_many", "adelete_many", "adelete", "adelete_prefix",
        "aclose",
    ]  # fmt: skip


def test_everything_else_is_the_backends_own() -> None:
    guarded, backend = _guarded("attrs")
    assert guarded.wrapped is backend and guarded.url == backend.url
    assert guarded.conditional_writes is True and repr(guarded) == repr(backend)
    with pytest.raises(AttributeError):
        guarded.__wrapped__  # noqa: B018  (dunders are not passed through)
    with guarded:
        guarded.put_if("k", b"v", expect=None)
    assert guarded.guard.calls()[-1] == "close() -> None"
