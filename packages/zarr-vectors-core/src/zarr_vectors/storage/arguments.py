"""Checking what callers hand a backend, before any storage is touched.

Ranges, batch items and move pairs are validated here once, for every backend
(the template class calls these before its primitives).
"""

from __future__ import annotations

from collections.abc import Mapping

from zarr_vectors.exceptions import InvalidKeyError
from zarr_vectors.storage.keys import validate_key
from zarr_vectors.storage.protocol import BatchItems, MovePairs

__all__ = ["batch_items", "check_data", "check_range", "move_pairs"]


def check_range(start: int, length: int | None) -> None:
    if not isinstance(start, int) or start < 0:
        raise InvalidKeyError(f"Range start must be an int >= 0, got {start!r}.")
    if length is not None and (not isinstance(length, int) or length < 0):
        raise InvalidKeyError(f"Range length must be None or an int >= 0, got {length!r}.")


def batch_items(items: BatchItems) -> list[tuple[str, bytes]]:
    """Validated ``(key, bytes)`` pairs; a key given twice keeps its last value."""
    pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
    latest: dict[str, bytes] = {}
    for key, data in pairs:
        validate_key(key)
        check_data(data)
        latest[key] = bytes(data)
    return list(latest.items())


def move_pairs(pairs: MovePairs) -> list[tuple[str, str]]:
    """Validated ``(source, destination)`` pairs, each move once, ``a -> a`` dropped.

    The moves of one call are independent of their order: a key may be the
    source of one move or the destination of one, never both, nor two of either.
    """
    given = list(pairs.items()) if isinstance(pairs, Mapping) else list(pairs)
    moves: dict[str, str] = {}
    for pair in given:
        try:
            if isinstance(pair, str | bytes):
                raise TypeError
            first, second = pair
        except (TypeError, ValueError):
            raise InvalidKeyError(
                f"move_many takes (source, destination) pairs of keys, got {pair!r:.100}."
            ) from None
        source, destination = validate_key(first), validate_key(second)
        if source == destination:
            continue
        if moves.setdefault(source, destination) != destination:
            raise InvalidKeyError(
                f"move_many was asked to move {source!r} to both {moves[source]!r} and "
                f"{destination!r}; give each source one destination."
            )
    seen: set[str] = set()
    for destination in moves.values():
        if destination in seen:
            raise InvalidKeyError(
                f"move_many was asked to move two objects to {destination!r}; give each "
                "destination one source."
            )
        seen.add(destination)
    both = sorted(seen.intersection(moves))
    if both:
        raise InvalidKeyError(
            f"move_many was given {both[0]!r} as both a source and a destination, whose "
            "outcome would depend on the order of the moves; split the call in two."
        )
    return list(moves.items())


def check_data(data: object) -> None:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidKeyError(
            f"Values must be bytes-like, got {type(data).__name__}. Encode the value first."
        )
