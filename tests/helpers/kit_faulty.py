"""A small in-memory backend and deliberately broken variants of it, for the kit's own tests.

``DictBackend`` is a correct backend over a dict (shared between instances
opened on the same dict, so it survives a reopen). Each subclass breaks one
rule of the protocol the way real backends get it wrong; the kit must catch
every one of them. The second group are the kinds of fault a plugin written from
the documentation alone got wrong (issue 10); each is written here from the
protocol, not copied from that plugin.
"""

from __future__ import annotations

import itertools
import threading
import time
import unicodedata
from typing import ClassVar

from zarr_vectors.exceptions import InvalidKeyError, PreconditionFailedError, StoreError
from zarr_vectors.storage.base import Backend, ObjectInfo, children_of, missing_key

STORES: dict[str, dict[str, bytes]] = {}


class DictBackend(Backend):
    """Objects in a process-wide dict keyed by URL (``dict://name``)."""

    backend_name = "dict"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.objects = STORES.setdefault(url, {})

    def _get(self, key: str) -> bytes:
        try:
            return self.objects[key]
        except KeyError:
            raise missing_key(key, self.url) from None

    def _put(self, key: str, data: bytes) -> None:
        self.objects[key] = data

    def _exists(self, key: str) -> bool:
        return key in self.objects

    def _delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def _list(self, prefix: str, recursive: bool) -> list[str]:
        return children_of(prefix, list(self.objects), recursive)


class ListMissesNested(DictBackend):
    """Listing forgets keys more than one level below the prefix."""

    def _list(self, prefix: str, recursive: bool) -> list[str]:
        found = super()._list(prefix, recursive)
        return [k for k in found if "/" not in k[len(prefix) :].rstrip("/")]


class DeletePrefixTakesSibling(DictBackend):
    """delete_prefix('a') also deletes 'ab' (a string prefix instead of a directory)."""

    def _delete_prefix(self, prefix: str) -> None:
        for key in [k for k in self.objects if k.startswith(prefix.rstrip("/"))]:
            del self.objects[key]


class RangeOffByOne(DictBackend):
    """get_range returns one byte too many."""

    def _get_range(self, key: str, start: int, length: int | None) -> bytes:
        data = self._get(key)
        return data[start:] if length is None else data[start : start + length + 1]


class MissingGetIsEmpty(DictBackend):
    """A get of a missing key returns b'' instead of raising KeyError."""

    def _get(self, key: str) -> bytes:
        return self.objects.get(key, b"")


class PutNotVisible(DictBackend):
    """A put is only applied when the next put arrives (an eventually consistent write)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.pending: tuple[str, bytes] | None = None

    def _put(self, key: str, data: bytes) -> None:
        if self.pending is not None:
            super()._put(*self.pending)
        self.pending = (key, data)

    def _close(self) -> None:
        if self.pending is not None:
            super()._put(*self.pending)


class AsyncTwinDisagrees(DictBackend):
    """The async range read ignores the length; the sync one is right."""

    async def _aget_range(self, key: str, start: int, length: int | None) -> bytes:
        return self._get(key)[start:]


FAULTY: dict[str, type[DictBackend]] = {
    "list-misses-nested": ListMissesNested,
    "delete-prefix-sibling": DeletePrefixTakesSibling,
    "range-off-by-one": RangeOffByOne,
    "missing-get-empty": MissingGetIsEmpty,
    "put-not-visible": PutNotVisible,
    "async-twin-disagrees": AsyncTwinDisagrees,
}


# -- versions and conditional writes, done right ------------------------------------------------
class VersionedDictBackend(DictBackend):
    """DictBackend with versions and conditional writes (a counter per write, under a lock)."""

    conditional_writes = True
    LOCKS: ClassVar[dict[str, threading.Lock]] = {}
    COUNTER = itertools.count(1)

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.versions = VERSIONS.setdefault(url, {})
        self.lock = self.LOCKS.setdefault(url, threading.Lock())

    def _put(self, key: str, data: bytes) -> None:
        with self.lock:
            self.objects[key] = data
            self.versions[key] = f"v{next(self.COUNTER)}"

    def _delete(self, key: str) -> None:
        with self.lock:
            self.objects.pop(key, None)
            self.versions.pop(key, None)

    def _head(self, key: str) -> ObjectInfo:
        with self.lock:
            if key not in self.objects:
                raise missing_key(key, self.url)
            return ObjectInfo(key, len(self.objects[key]), self.versions[key])

    def _put_if(self, key: str, data: bytes, expect: str | None) -> str:
        with self.lock:
            if self.versions.get(key) != expect:
                raise PreconditionFailedError(f"{key!r} is not at version {expect!r}")
            self.objects[key] = data
            version = self.versions[key] = f"v{next(self.COUNTER)}"
            return version


VERSIONS: dict[str, dict[str, str]] = {}


# -- the faults of issue 10: what real plugins got wrong ------------------------------------------
class ListsRecursively(DictBackend):
    """list_prefix(recursive=False) answers like recursive=True."""

    def _list(self, prefix: str, recursive: bool) -> list[str]:
        return super()._list(prefix, True)


class NormalisesToNFC(DictBackend):
    """Keys are normalised to Unicode NFC on the way in (as some file systems and SDKs do)."""

    def _get(self, key: str) -> bytes:
        return super()._get(unicodedata.normalize("NFC", key))

    def _put(self, key: str, data: bytes) -> None:
        super()._put(unicodedata.normalize("NFC", key), data)

    def _exists(self, key: str) -> bool:
        return super()._exists(unicodedata.normalize("NFC", key))

    def _delete(self, key: str) -> None:
        super()._delete(unicodedata.normalize("NFC", key))


class SpacesAsPercent20(DictBackend):
    """Spaces are stored as '%20' (a URL-encoding SDK) and listed that way."""

    def _get(self, key: str) -> bytes:
        return super()._get(key.replace(" ", "%20"))

    def _put(self, key: str, data: bytes) -> None:
        super()._put(key.replace(" ", "%20"), data)

    def _exists(self, key: str) -> bool:
        return super()._exists(key.replace(" ", "%20"))

    def _delete(self, key: str) -> None:
        super()._delete(key.replace(" ", "%20"))


class RefusesLongKeys(DictBackend):
    """Keys longer than 480 bytes are refused (a storage with a short name column)."""

    def _put(self, key: str, data: bytes) -> None:
        if len(key.encode()) > 480:
            raise StoreError(f"key too long for {self.url}: {len(key.encode())} bytes")
        super()._put(key, data)


class TornWrites(DictBackend):
    """An overwrite is published in two halves, so a reader can see half old, half new."""

    def _put(self, key: str, data: bytes) -> None:
        old = self.objects.get(key, b"")
        half = len(data) // 2
        self.objects[key] = data[:half] + old[half:]
        time.sleep(0.002)
        self.objects[key] = data


#: Released by tests once they are done with a blocking backend (its threads then end).
RELEASE = threading.Event()


class GetBlocksForever(DictBackend):
    """get_bytes and get_range never return (a dead connection without a timeout)."""

    def _get(self, key: str) -> bytes:
        RELEASE.wait()
        return super()._get(key)

    def _get_range(self, key: str, start: int, length: int | None) -> bytes:
        RELEASE.wait()
        return super()._get_range(key, start, length)


class PutManyDropsItem(DictBackend):
    """put_many of several items forgets the last one."""

    def _put_many(self, items: list[tuple[str, bytes]]) -> None:
        super()._put_many(items[:-1] if len(items) > 1 else items)


class HeadReadsOneBlock(DictBackend):
    """head reports at most 64 KiB, the size of the first block it reads."""

    def _head(self, key: str) -> ObjectInfo:
        return ObjectInfo(key, min(len(self._get(key)), 64 * 1024))


class DeleteManyLeavesOne(DictBackend):
    """delete_many skips the first key of the batch (an off-by-one in a paging loop)."""

    def _delete_many(self, keys: list[str]) -> None:
        for key in keys[1:]:
            self._delete(key)


class MoveManyLeavesSource(DictBackend):
    """move_many copies each object but never deletes the source (a copy without the delete)."""

    def _move_many(self, pairs: list[tuple[str, str]]) -> None:
        for source, destination in pairs:
            if source in self.objects:
                self.objects[destination] = self.objects[source]


class MoveManyDropsPair(DictBackend):
    """move_many of several pairs forgets the last one (an off-by-one in a batching loop)."""

    def _move_many(self, pairs: list[tuple[str, str]]) -> None:
        super()._move_many(pairs[:-1] if len(pairs) > 1 else pairs)


class PutIfIgnoresExpect(VersionedDictBackend):
    """put_if writes whatever the current version is (a conditional header never sent)."""

    def _put_if(self, key: str, data: bytes, expect: str | None) -> str:
        with self.lock:
            self.objects[key] = data
            version = self.versions[key] = f"v{next(self.COUNTER)}"
            return version


FAULTY.update(
    {
        "lists-recursively": ListsRecursively,
        "normalises-nfc": NormalisesToNFC,
        "spaces-as-%20": SpacesAsPercent20,
        "refuses-long-keys": RefusesLongKeys,
        "torn-writes": TornWrites,
        "get-blocks-forever": GetBlocksForever,
        "put-many-drops-item": PutManyDropsItem,
        "head-wrong-size": HeadReadsOneBlock,
        "delete-many-leaves-key": DeleteManyLeavesOne,
        "put-if-ignores-expect": PutIfIgnoresExpect,
        "move-many-leaves-source": MoveManyLeavesSource,
        "move-many-drops-pair": MoveManyDropsPair,
    }
)


# -- the faults of issue 18: what the kit used to miss, or catch only sometimes -----------------
class GetReturnsBytearray(DictBackend):
    """get_bytes returns a bytearray (equal bytes, the wrong type)."""

    def _get(self, key: str) -> bytes:
        return bytearray(super()._get(key))  # type: ignore[return-value]


class ExistsSeesChildren(DictBackend):
    """exists('a') is True when only 'a/b' is stored (a directory taken for an object)."""

    def _exists(self, key: str) -> bool:
        return any(k == key or k.startswith(key + "/") for k in self.objects)


class RangePastEndRaises(DictBackend):
    """A range starting past the end raises instead of answering b''."""

    def _get_range(self, key: str, start: int, length: int | None) -> bytes:
        data = self._get(key)
        if start > len(data):
            raise StoreError(f"range {start}- of {key!r} is past its end")
        return super()._get_range(key, start, length)


class ListsDeletedUnderPrefix(DictBackend):
    """Listings of a sub-prefix still show deleted keys (a stale listing cache); the root
    listing is right."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.gone: set[str] = set()

    def _put(self, key: str, data: bytes) -> None:
        self.gone.discard(key)
        super()._put(key, data)

    def _delete(self, key: str) -> None:
        if key in self.objects:
            self.gone.add(key)
        super()._delete(key)

    def _list(self, prefix: str, recursive: bool) -> list[str]:
        keys = list(self.objects)
        if prefix.count("/") > 1:
            keys += [k for k in self.gone if k not in self.objects]
        return children_of(prefix, keys, recursive)


class RangeToEndLosesLastByte(DictBackend):
    """A range without a length stops one byte short of the end (an inclusive end off by one)."""

    def _get_range(self, key: str, start: int, length: int | None) -> bytes:
        data = self._get(key)
        return data[start : len(data) - 1] if length is None else data[start : start + length]


class HidesPrivateKeys(DictBackend):
    """Keys with a '.zv-' segment are stored but left out of listings (taken for own files)."""

    def _list(self, prefix: str, recursive: bool) -> list[str]:
        found = super()._list(prefix, recursive)
        return [k for k in found if not any(s.startswith(".zv-") for s in k.split("/"))]


class RefusesPrivateKeys(DictBackend):
    """Keys with a '.zv-' segment are refused as reserved."""

    def _put(self, key: str, data: bytes) -> None:
        if any(s.startswith(".zv-") for s in key.split("/")):
            raise InvalidKeyError(f"{key!r}: segments starting with '.zv-' are reserved")
        super()._put(key, data)


class DeleteManyFirstPage(DictBackend):
    """delete_many deletes the first 100 keys only (one page of a batch request)."""

    def _delete_many(self, keys: list[str]) -> None:
        super()._delete_many(keys[:100])


class PutManyFirstPage(DictBackend):
    """put_many writes the first 1,000 items only."""

    def _put_many(self, items: list[tuple[str, bytes]]) -> None:
        super()._put_many(items[:1000])


class MoveManyFirstPage(DictBackend):
    """move_many moves the first 1,000 pairs only."""

    def _move_many(self, pairs: list[tuple[str, str]]) -> None:
        super()._move_many(pairs[:1000])


class PutManyIgnoresFence(DictBackend):
    """_put_many writes every item without checking the write fence."""

    def _put_many(self, items: list[tuple[str, bytes]]) -> None:
        for key, data in items:
            self._put(key, data)


class DeleteManyIgnoresFence(DictBackend):
    """_delete_many deletes every key without checking the write fence."""

    def _delete_many(self, keys: list[str]) -> None:
        for key in keys:
            self._delete(key)


class MoveManyIgnoresFence(DictBackend):
    """_move_many renames every pair without checking the write fence."""

    def _move_many(self, pairs: list[tuple[str, str]]) -> None:
        for source, destination in pairs:
            if source in self.objects and source != destination:
                self.objects[destination] = self.objects.pop(source)


class PrivateSnapshot(DictBackend):
    """Each instance works on a copy taken when it opened, written back when it closes:
    one instance alone is right (and contents survive a reopen), two at once are not."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.shared = self.objects
        self.objects = dict(self.shared)

    def _close(self) -> None:
        self.shared.clear()
        self.shared.update(self.objects)


#: URL -> the lock an instance holds while open.
_OPEN: dict[str, threading.Lock] = {}


class OneInstanceAtATime(DictBackend):
    """Opening a second instance of a URL waits until the first is closed (an exclusive
    environment lock): the kit's two instances of one URL deadlock."""

    def __init__(self, url: str) -> None:
        self.held = _OPEN.setdefault(url, threading.Lock())
        self.held.acquire()
        super().__init__(url)

    def _close(self) -> None:
        self.held.release()


class GetHoldsTheGil(DictBackend):
    """get_bytes blocks in C code without releasing the GIL (libc sleep through ctypes.PyDLL,
    which keeps the GIL): no other thread of the process runs, the kit's watcher included."""

    def _get(self, key: str) -> bytes:
        import ctypes

        ctypes.PyDLL(None).sleep(3600)
        return super()._get(key)


class GetCrashes(DictBackend):
    """get_bytes crashes the process (a segfault in native code)."""

    def _get(self, key: str) -> bytes:
        import ctypes

        ctypes.string_at(0)
        return super()._get(key)


FAULTY.update(
    {
        "get-returns-bytearray": GetReturnsBytearray,
        "exists-sees-children": ExistsSeesChildren,
        "range-past-end-raises": RangePastEndRaises,
        "lists-deleted-under-prefix": ListsDeletedUnderPrefix,
        "range-to-end-short": RangeToEndLosesLastByte,
        "hides-zv-keys": HidesPrivateKeys,
        "refuses-zv-keys": RefusesPrivateKeys,
        "delete-many-first-page": DeleteManyFirstPage,
        "put-many-first-page": PutManyFirstPage,
        "move-many-first-page": MoveManyFirstPage,
        "put-many-ignores-fence": PutManyIgnoresFence,
        "delete-many-ignores-fence": DeleteManyIgnoresFence,
        "move-many-ignores-fence": MoveManyIgnoresFence,
        "private-snapshot": PrivateSnapshot,
        "one-instance-at-a-time": OneInstanceAtATime,
        "get-holds-the-gil": GetHoldsTheGil,
        "get-crashes": GetCrashes,
    }
)
