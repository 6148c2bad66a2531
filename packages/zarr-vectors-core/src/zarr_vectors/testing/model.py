"""The reference a backend is compared with: a dict that follows the protocol to the letter.

Every answer the kit expects from a backend is computed here, from the
semantics written down in :mod:`zarr_vectors.core.backends.base`. Kept free of
hypothesis so that it can be read (and tested) on its own.
"""

from __future__ import annotations

from collections.abc import Iterable

from zarr_vectors.core.backends.base import children_of
from zarr_vectors.core.backends.keys import normalize_prefix

__all__ = ["Model"]


class Model:
    """An in-memory store with the protocol's semantics.

    ``hierarchical`` mirrors :attr:`Backend.hierarchical_keys`: when true, a key
    cannot be both an object and the parent of another key (a file system).
    """

    def __init__(self, hierarchical: bool = False) -> None:
        self.data: dict[str, bytes] = {}
        self.hierarchical = hierarchical

    def conflicts(self, key: str, others: Iterable[str] | None = None) -> bool:
        """Whether storing ``key`` would make an object also a parent (hierarchical only)."""
        if not self.hierarchical:
            return False
        pool = self.data if others is None else others
        return any(o != key and (o.startswith(key + "/") or key.startswith(o + "/")) for o in pool)

    def put(self, key: str, value: bytes) -> None:
        self.data[key] = bytes(value)

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def get_range(self, key: str, start: int, length: int | None) -> bytes | None:
        value = self.data.get(key)
        if value is None:
            return None
        return value[start:] if length is None else value[start : start + length]

    def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def delete_prefix(self, prefix: str) -> None:
        cut = normalize_prefix(prefix)
        for key in [k for k in self.data if k.startswith(cut)]:
            del self.data[key]

    def ls(self, prefix: str, recursive: bool) -> list[str]:
        return children_of(normalize_prefix(prefix), self.data, recursive)

    def listing(self) -> list[str]:
        return sorted(self.data)
