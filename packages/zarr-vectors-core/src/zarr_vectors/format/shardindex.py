"""A shard's index and the byte ranges read through it (Zarr v3 ``sharding_indexed``).

The parts of :mod:`zarr_vectors.format.sharding` that need no array metadata:
the CRC-32C of an index, the Morton order inner chunks are laid out in, a
decoded index (:class:`ShardIndex`), and the planning and slicing of ranged
reads (:func:`plan_ranges`, :func:`slice_ranges`): a read that wants a few
cells of a shard fetches their byte ranges, neighbours coalesced, instead of
the whole object. :mod:`~zarr_vectors.format.sharding` re-exports every name.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import CorruptStoreError

__all__ = [
    "COALESCE_GAP",
    "EMPTY",
    "ByteRange",
    "ShardIndex",
    "crc32c",
    "morton_order",
    "plan_ranges",
    "slice_ranges",
]

#: Offset and length of an empty inner chunk in a shard index.
EMPTY = 2**64 - 1
#: Default largest gap (bytes) between two wanted cells of a shard that are
#: still fetched in one request: on an object store one more request costs a
#: round trip (tens of ms), in which about a MiB more can be transferred.
COALESCE_GAP = 1 << 20


def crc32c(data: bytes | memoryview) -> int:
    """CRC-32C (Castagnoli) of ``data``, as the ``crc32c`` codec stores it.

    From ``google_crc32c``, which zarr-python 3.1+ (a dependency) requires for
    the same codec, or the ``crc32c`` package that zarr 3.0 used; ``cells.py``
    has no checksum codec because unsharded cells never carry one.
    """
    try:
        import google_crc32c
    except ImportError:
        try:
            import crc32c as crc_module  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            from zarr_vectors._extras import require

            # Raises MissingExtraError naming the library and its install command.
            module = require(
                "google_crc32c", feature="sharded cell arrays (CRC-32C checksums)", extra=None
            )
            return int(module.value(bytes(data)))
        return int(crc_module.crc32c(bytes(data)))
    return int(google_crc32c.value(bytes(data)))


@functools.lru_cache(maxsize=64)
def morton_order(chunks_per_shard: tuple[int, ...]) -> tuple[int, ...]:
    """C-order indices of a shard's inner chunks, in the order they are laid out.

    The compressed Morton code of a coordinate interleaves its bits level by
    level, axis 0 first, skipping axes that have no bit at that level (so a
    4 x 6 shard has codes for exactly its 24 chunks).
    """
    n = math.prod(chunks_per_shard)
    coords = np.indices(chunks_per_shard, dtype=np.uint64).reshape(len(chunks_per_shard), n)
    bits = [(s - 1).bit_length() for s in chunks_per_shard]
    code = np.zeros(n, dtype=np.uint64)
    out_bit = 0
    for level in range(max(bits, default=0)):
        for axis, axis_bits in enumerate(bits):
            if level < axis_bits:
                bit = (coords[axis] >> np.uint64(level)) & np.uint64(1)
                code |= bit << np.uint64(out_bit)
                out_bit += 1
    return tuple(int(i) for i in np.argsort(code, kind="stable"))


@dataclass(frozen=True)
class ShardIndex:
    """A decoded shard index: ``(offset, length)`` per inner chunk, C order."""

    #: ``(n_inner, 2)`` uint64; :data:`EMPTY` in both columns marks an empty chunk.
    table: npt.NDArray[np.uint64]

    @property
    def present(self) -> npt.NDArray[np.bool_]:
        """Which inner chunks hold data."""
        flags: npt.NDArray[np.bool_] = self.table[:, 0] != np.uint64(EMPTY)
        return flags

    def nonempty(self) -> list[int]:
        """Inner indices of the chunks that hold data, ascending."""
        return [int(i) for i in np.flatnonzero(self.present)]

    def span(self, inner: int) -> tuple[int, int] | None:
        """``(offset, length)`` of inner chunk ``inner``; ``None`` when it is empty."""
        off, length = (int(v) for v in self.table[inner])
        return None if off == EMPTY else (off, length)


@dataclass(frozen=True)
class ByteRange:
    """One request's worth of a shard: ``length`` bytes from ``start``.

    ``cells`` says where each wanted inner chunk lies inside the fetched bytes:
    ``(inner index, offset in this range, length)``.
    """

    start: int
    length: int
    cells: tuple[tuple[int, int, int], ...]

    @property
    def end(self) -> int:
        return self.start + self.length


def plan_ranges(
    index: ShardIndex,
    inner: Iterable[int],
    *,
    gap: int = COALESCE_GAP,
    max_length: int | None = None,
) -> list[ByteRange]:
    """The byte ranges to fetch for inner chunks ``inner`` of a shard, coalesced.

    Empty inner chunks are skipped. Chunks are taken in order of their offset;
    one range grows over the next chunk while the bytes between them are at
    most ``gap`` (``0``: only touching chunks merge; a negative gap never
    merges) and, with ``max_length``, while the range stays within that size.
    """
    spans = sorted(
        (span[0], span[1], i) for i in sorted(set(int(v) for v in inner)) if (span := index.span(i))
    )
    out: list[ByteRange] = []
    start = end = -1
    cells: list[tuple[int, int, int]] = []
    for off, length, i in spans:
        if (
            cells
            and off - end <= gap
            and (max_length is None or off + length - start <= max_length)
        ):
            cells.append((i, off - start, length))
            end = max(end, off + length)
            continue
        if cells:
            out.append(ByteRange(start, end - start, tuple(cells)))
        start, end, cells = off, off + length, [(i, 0, length)]
    if cells:
        out.append(ByteRange(start, end - start, tuple(cells)))
    return out


def slice_ranges(
    ranges: Sequence[ByteRange], blobs: Sequence[bytes | memoryview], where: str = "shard"
) -> dict[int, memoryview]:
    """Inner chunk bytes cut out of the fetched ``blobs`` (one per range, same order)."""
    if len(ranges) != len(blobs):
        raise ValueError(f"{len(ranges)} ranges but {len(blobs)} fetched blobs")
    out: dict[int, memoryview] = {}
    for r, blob in zip(ranges, blobs, strict=True):
        if len(blob) < r.length:
            raise CorruptStoreError(
                f"{where}: bytes {r.start}..{r.end} came back as {len(blob)} bytes; the shard is "
                "shorter than its index says (truncated or damaged)"
            )
        view = memoryview(blob)
        for i, off, length in r.cells:
            out[i] = view[off : off + length]
    return out
