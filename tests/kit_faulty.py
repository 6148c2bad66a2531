"""A small in-memory backend and deliberately broken variants of it, for the kit's own tests.

``DictBackend`` is a correct backend over a dict (shared between instances
opened on the same dict, so it survives a reopen). Each subclass breaks one
rule of the protocol the way real backends get it wrong; the kit must catch
every one of them.
"""

from __future__ import annotations

from zarr_vectors.core.backends.base import Backend, children_of, missing_key

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
