"""Bytes of one cell of a ``variable_length_bytes`` array, in and out.

Every Zarr Vectors per-cell array (vertices, vertex_fragments, attributes) is a
zarr v3 array of ``variable_length_bytes`` with one element per chunk. A chunk
object is that element run through the array's codec chain: ``vlen-bytes``
frames it (uint32 element count, then uint32 length + bytes per element), and
an optional bytes-to-bytes codec (``zstd``, ``gzip``, ``blosc``, ``numcodecs.lzma``) compresses
the frame, and
an optional ``crc32c`` codec appends a checksum of what precedes it, so a bit
flipped in storage or on the wire is caught when the cell is read.

The writer and reader go through this module instead of zarr-python's array
machinery because a cell is fetched and decoded in bulk (thousands per read)
and the per-chunk overhead of the generic path would dominate.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from zarr_vectors.exceptions import CorruptStoreError, StoreError, ValidationError

__all__ = [
    "BLOSC_CODEC",
    "CHECKSUM_CODEC",
    "LZMA_CODEC",
    "CellCodec",
    "codec_chain",
    "compressor_codecs",
    "typed_codecs",
]

#: Zarr v3's ``blosc`` codec as ``compressor="blosc"`` writes it: zstd at Blosc's level 4
#: over a byte shuffle (``typesize`` is set per array, :func:`typed_codecs`). On a LiDAR
#: survey level 4 makes the same bytes as 5 in about two thirds of the time, level 3 4%
#: more, and levels 7-9 5-10% fewer at 4-40 times the time.
BLOSC_CODEC: dict[str, Any] = {
    "name": "blosc",
    "configuration": {
        "cname": "zstd",
        "clevel": 4,
        "shuffle": "shuffle",
        "typesize": 1,
        "blocksize": 0,
    },
}
#: numcodecs' LZMA codec as ``compressor="lzma"`` writes it (the smallest store, for
#: about eight times Blosc's compression CPU): raw LZMA2 streams (no xz container: a
#: cell's object already carries a crc32c, and the container's ~60 bytes a cell add up
#: over thousands of small cells) at preset 1 in normal mode (the optimal parser, most
#: of the gain over Blosc), after a byte shuffle and xz's delta filter fitted to each
#: array's values (:func:`_lzma_fitted`). zarr-python reads it as ``numcodecs.shuffle``
#: and ``numcodecs.lzma`` (it registers numcodecs' codecs itself); they are not Zarr
#: v3's core codecs, so other Zarr implementations may not. Measured on a LiDAR
#: survey in docs/performance.md ("Issue 19, fourth pass").
LZMA_CODEC: dict[str, Any] = {
    "name": "numcodecs.lzma",
    "configuration": {
        "format": 3,  # lzma.FORMAT_RAW
        "check": -1,
        "preset": None,
        "filters": [{"id": 33, "preset": 1, "mode": 2}],  # LZMA2, MODE_NORMAL
    },
}
_LZMA_DELTA, _LZMA2 = 3, 33  # lzma.FILTER_DELTA, lzma.FILTER_LZMA2
#: numcodecs' byte shuffle as zarr-python registers it (a bytes-to-bytes codec), which
#: the ``lzma`` compressor puts before LZMA for values of 2, 4 or 8 bytes.
SHUFFLE_NAME = "numcodecs.shuffle"
#: The largest LZMA2 dictionary a stored configuration may ask a reader to allocate
#: (preset 9's): the filters come from the store's metadata, and a raw stream's
#: decoder takes no memory limit.
_LZMA_MAX_DICT = 64 << 20
#: The zarr v3 checksum codec cells carry by default.
CHECKSUM_CODEC: dict[str, Any] = {"name": "crc32c", "configuration": {}}
_CRC = struct.Struct("<I")
#: crc32c(message + crc32c(message) as 4 little-endian bytes), the same for every message.
_CRC_RESIDUE = 0x48674BC7

_U32 = struct.Struct("<I")
_FRAME_HEAD = struct.Struct("<II")


def _frame(payload: bytes | memoryview) -> bytes:
    return _FRAME_HEAD.pack(1, len(payload)) + payload


def _unframe(data: bytes, where: str) -> bytes:
    if len(data) < 4:
        raise CorruptStoreError(f"{where}: chunk of {len(data)} bytes has no vlen-bytes header")
    (count,) = _U32.unpack_from(data, 0)
    if count == 0:
        return b""
    if count != 1 or len(data) < 8:
        raise CorruptStoreError(
            f"{where}: chunk holds {count} elements in {len(data)} bytes; a cell holds exactly one"
        )
    (length,) = _U32.unpack_from(data, 4)
    if len(data) != 8 + length:
        raise CorruptStoreError(
            f"{where}: chunk is {len(data)} bytes but its header says {8 + length}"
        )
    return memoryview(data)[8 : 8 + length]  # type: ignore[return-value]


def _bytes_codec(spec: dict[str, Any]) -> tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]:
    """(encode, decode) for one bytes-to-bytes codec of the chain."""
    name = spec.get("name")
    conf = spec.get("configuration") or {}
    if name == "zstd":
        from numcodecs import Zstd  # type: ignore[import-untyped]

        z = Zstd(level=int(conf.get("level", 0)), checksum=bool(conf.get("checksum", False)))
        return (lambda b: bytes(z.encode(b))), (lambda b: bytes(z.decode(b)))
    if name == "gzip":
        from numcodecs import GZip

        g = GZip(level=int(conf.get("level", 5)))
        return (lambda b: bytes(g.encode(b))), (lambda b: bytes(g.decode(b)))
    if name == "blosc":
        return _blosc(conf)
    if name == "numcodecs.lzma":
        return _lzma(conf)
    if name == SHUFFLE_NAME:
        return _shuffle(conf)
    if name == "crc32c":
        return _crc_append, _crc_check
    raise StoreError(
        f"codec {name!r} on a cell array is not supported by zarr-vectors (supported: "
        "vlen-bytes, optionally followed by zstd, gzip, blosc or numcodecs.shuffle and "
        "numcodecs.lzma, then crc32c)"
    )


def _lzma(conf: dict[str, Any]) -> tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]:
    """numcodecs' ``lzma`` codec with ``conf``: Python's :mod:`lzma` with the same
    arguments as numcodecs passes it (what zarr-python runs on the same configuration),
    after checking the filters, and decoding within a memory limit: a stored
    configuration and a chunk are input, and an LZMA2 dictionary is allocated whole by
    the decoder (a raw stream's from the checked filters, an xz stream's from its own
    header, which the limit bounds)."""
    import lzma

    filters = conf.get("filters")
    for f in filters if isinstance(filters, list) else []:
        if not isinstance(f, dict) or f.get("id") not in (_LZMA_DELTA, _LZMA2):
            raise StoreError(
                f"numcodecs.lzma filter {f!r}: zarr-vectors reads only delta and LZMA2 filters"
            )
        size = f.get("dict_size", 0)
        if not isinstance(size, int) or size > _LZMA_MAX_DICT:
            raise StoreError(
                f"numcodecs.lzma filter {f!r}: a dictionary over {_LZMA_MAX_DICT >> 20} MiB "
                "is refused (preset 9 uses 64 MiB)"
            )
    fmt, check, preset = (
        conf.get("format", lzma.FORMAT_XZ),
        conf.get("check", -1),
        conf.get("preset"),
    )
    if not isinstance(fmt, int) or not isinstance(check, int):
        raise StoreError(f"numcodecs.lzma configuration {conf!r}: format and check are integers")
    raw = fmt == lzma.FORMAT_RAW
    limit = None if raw else 2 * _LZMA_MAX_DICT

    def encode(b: bytes) -> bytes:
        return lzma.compress(b, format=fmt, check=check, preset=preset, filters=filters)

    def decode(b: bytes) -> bytes:
        return lzma.decompress(b, format=fmt, memlimit=limit, filters=filters if raw else None)

    return encode, decode


def _shuffle(conf: dict[str, Any]) -> tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]:
    """numcodecs' ``shuffle`` codec (what zarr-python runs for ``numcodecs.shuffle``)."""
    from numcodecs import Shuffle

    size = conf.get("elementsize")
    if not isinstance(size, int) or not 1 <= size <= 256:
        raise StoreError(f"numcodecs.shuffle configuration {conf!r}: elementsize is 1 to 256")
    codec = Shuffle(elementsize=size)
    return (lambda b: bytes(codec.encode(b))), (lambda b: bytes(codec.decode(b)))


#: Zarr v3's names of Blosc's shuffle filters, by the numbers Blosc takes.
_SHUFFLES = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}


def _blosc(conf: dict[str, Any]) -> tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]:
    """Zarr v3's ``blosc`` codec. Its byte shuffle groups the k-th bytes of every
    ``typesize``-byte row together, so slowly varying numbers (coordinates, times,
    colours) compress to a fraction of what zstd alone makes of them; decoding
    needs no configuration (Blosc's header carries it)."""
    from numcodecs import blosc

    cname = str(conf.get("cname", "zstd")).encode()
    clevel = int(conf.get("clevel", 5))
    shuffle = _SHUFFLES.get(str(conf.get("shuffle", "shuffle")))
    if shuffle is None:
        raise StoreError(f"blosc shuffle {conf.get('shuffle')!r} is not one of {list(_SHUFFLES)}")
    typesize = max(1, int(conf.get("typesize", 1)))
    blocksize = int(conf.get("blocksize", 0))

    def encode(b: bytes) -> bytes:
        return bytes(blosc.compress(b, cname, clevel, shuffle, blocksize, typesize))

    return encode, lambda b: bytes(blosc.decompress(b))


#: The default ``blosc`` codec's level and block size per value type, where level 4 and
#: Blosc's own block size are not the best buy. Measured on the cells of a LiDAR survey
#: (10 tiles of autzen_trim, docs/performance.md), in bytes a point: float64 GPS times
#: 1.27 -> 1.21 at level 6 for almost no CPU; each uint16 colour about 0.06 less at
#: level 8 (the whole store 1.7% smaller for about a fifth more CPU in the write's
#: encoding). int32 positions stay at 4: level 7 in 192 KiB blocks took them from 3.86
#: to 3.63 but cost the encoding about half as much CPU again, and level 8 in 256 KiB
#: blocks (3.52) more. Small integers (flags, classes) gain nothing at any level.
#: The block sizes are explicit (the same bytes as Blosc's own choice here) so that a
#: tuned codec is told from a caller's ``{"clevel": 8}``, which is kept as given.
_BLOSC_BY_DTYPE: dict[str, tuple[int, int]] = {
    "float64": (6, 1 << 20),
    "uint16": (8, 1 << 18),
}
#: The default codec's own level and block size (every other type).
_BLOSC_PLAIN = (4, 0)


def typed_codecs(
    codecs: Sequence[Mapping[str, Any]], row_bytes: int, dtype: str | None = None
) -> list[dict[str, Any]]:
    """``codecs`` for an array of ``row_bytes``-byte rows of ``dtype`` values: a
    ``blosc`` codec's ``typesize`` set to the row size (at most 255, Blosc's limit),
    so its shuffle lines up with the values; other codecs as they are.

    A ``blosc`` codec that is exactly the default one (``compressor="blosc"``, what
    LAS input gets) also takes the level and block size measured best for ``dtype``
    (:data:`_BLOSC_BY_DTYPE`; level 4 and Blosc's block size for other types and
    for ``dtype=None``); a codec configured otherwise by the caller is kept as given.
    The default ``numcodecs.lzma`` codec (``compressor="lzma"``) is fitted to the values
    by :func:`_lzma_fitted`. Idempotent, and an array retyped (an append's attribute
    from the positions' chain) is fitted anew. Decoding needs none of this (Blosc's
    header carries it; the shuffle and LZMA filters are in the array's configuration)."""
    out: list[dict[str, Any]] = []
    for c in codecs:
        spec = {"name": c["name"], "configuration": dict(c.get("configuration") or {})}
        if spec["name"] == "numcodecs.lzma" and _is_default_lzma(spec["configuration"]):
            if out and out[-1]["name"] == SHUFFLE_NAME:
                out.pop()  # the shuffle fitted to another row type
            out.extend(_lzma_fitted(row_bytes, dtype))
            continue
        if spec["name"] == "blosc":
            conf = spec["configuration"]
            conf["typesize"] = int(min(max(row_bytes, 1), 255))
            if _is_default_blosc(conf):
                name = str(np.dtype(dtype)) if dtype is not None else ""
                conf["clevel"], conf["blocksize"] = _BLOSC_BY_DTYPE.get(name, _BLOSC_PLAIN)
        out.append(spec)
    return out


def _is_default_blosc(conf: Mapping[str, Any]) -> bool:
    """Whether ``conf`` is the default ``blosc`` configuration, or already tuned from it
    (its typesize, level and block size aside)."""
    free = ("typesize", "clevel", "blocksize")
    base = {k: v for k, v in BLOSC_CODEC["configuration"].items() if k not in free}
    if {k: v for k, v in conf.items() if k not in free} != base:
        return False
    pair = (conf.get("clevel"), conf.get("blocksize"))
    return pair == _BLOSC_PLAIN or pair in _BLOSC_BY_DTYPE.values()


def _lzma_fitted(row_bytes: int, dtype: str | None) -> list[dict[str, Any]]:
    """:data:`LZMA_CODEC` fitted to ``row_bytes``-byte rows of ``dtype`` values.

    Values of 2, 4 or 8 bytes are first byte-shuffled by their size (numcodecs'
    ``shuffle``: all first bytes, then all second bytes, ...; the 8-byte ``vlen-bytes``
    frame keeps the values aligned), then xz's delta filter takes each byte from the
    same byte of the value one row before (distance: values per row), then LZMA2. On
    a LiDAR survey that beat the delta over whole rows without a shuffle in bytes and
    CPU: positions 3.49 against 3.65 MB in 2.2 against 5.8 s, colours 8% smaller
    (docs/performance.md). Other sizes get the delta over the row (up to 256 bytes,
    xz's limit); 1-byte values no delta, which makes them bigger."""
    conf = dict(LZMA_CODEC["configuration"])
    lzma2 = [dict(f) for f in conf["filters"]]
    size = np.dtype(dtype).itemsize if dtype is not None else row_bytes
    if row_bytes <= 1 or size <= 1:
        return [{"name": LZMA_CODEC["name"], "configuration": {**conf, "filters": lzma2}}]
    if size in (2, 4, 8) and row_bytes % size == 0:
        delta = {"id": _LZMA_DELTA, "dist": int(min(row_bytes // size, 256))}
        shuffle = {"name": SHUFFLE_NAME, "configuration": {"elementsize": size}}
        lz = {"name": LZMA_CODEC["name"], "configuration": {**conf, "filters": [delta, *lzma2]}}
        return [shuffle, lz]
    delta = {"id": _LZMA_DELTA, "dist": int(min(row_bytes, 256))}
    return [{"name": LZMA_CODEC["name"], "configuration": {**conf, "filters": [delta, *lzma2]}}]


def _is_default_lzma(conf: Mapping[str, Any]) -> bool:
    """Whether ``conf`` is :data:`LZMA_CODEC`'s configuration, or fitted from it to some
    row size (its delta filter aside)."""
    filters = conf.get("filters")
    if not isinstance(filters, list) or not filters:
        return False
    first = filters[0]
    if isinstance(first, dict) and first.get("id") == _LZMA_DELTA and set(first) == {"id", "dist"}:
        filters = filters[1:]
    rest = {k: v for k, v in conf.items() if k != "filters"}
    default = LZMA_CODEC["configuration"]
    return rest == {k: v for k, v in default.items() if k != "filters"} and filters == list(
        default["filters"]
    )


def _crc(data: bytes | memoryview) -> int:
    import google_crc32c  # zarr-python's own dependency for this codec

    return int(google_crc32c.value(bytes(data)))


def _crc_append(data: bytes) -> bytes:
    return bytes(data) + _CRC.pack(_crc(data))


def _crc_check(data: bytes) -> bytes:
    if len(data) < 4:
        raise CorruptStoreError(f"chunk of {len(data)} bytes is too short to hold its checksum")
    raw = data if isinstance(data, bytes) else bytes(data)
    # The crc32c of a message followed by its own (little-endian) crc32c is a constant:
    # checking the whole chunk against it needs no copy of the body.
    if _crc(raw) != _CRC_RESIDUE:
        raise CorruptStoreError("its crc32c checksum does not match: the bytes were changed")
    return memoryview(raw)[:-4]  # type: ignore[return-value]  # decoded from a view, no copy


@dataclass(frozen=True)
class CellCodec:
    """Encoder/decoder for the cells of one array, built from its ``codecs`` list."""

    codecs: tuple[dict[str, Any], ...]

    def __post_init__(self) -> None:
        if not self.codecs or self.codecs[0].get("name") != "vlen-bytes":
            raise StoreError(
                f"cell array codecs must start with vlen-bytes, got {list(self.codecs)!r}"
            )
        steps = [_bytes_codec(c) for c in self.codecs[1:]]
        object.__setattr__(self, "_steps", steps)
        object.__setattr__(self, "_checksummed", self.codecs[-1].get("name") == "crc32c")

    def encode(self, payload: bytes | memoryview) -> bytes:
        """The chunk object for a cell whose element is ``payload``."""
        data = _frame(payload)
        for enc, _ in self._steps:  # type: ignore[attr-defined]
            data = enc(data)
        return data

    def checksum(self, data: bytes | memoryview) -> int:
        """The crc32c of cell object ``data`` (what a level's table of cell checksums holds).

        A chain ending with ``crc32c`` stores it as the object's last four bytes, so it is
        read rather than computed; otherwise it is computed over the whole object.
        """
        if self._checksummed:  # type: ignore[attr-defined]
            return int.from_bytes(data[-4:], "little") if len(data) >= 4 else -1
        return _crc(data)

    def decode(self, data: bytes, where: str = "cell") -> bytes:
        """The element (payload) stored in chunk object ``data``.

        Anything wrong with the bytes (a checksum that does not match, a
        truncated or undecompressable chunk, a bad frame) is a
        :class:`~zarr_vectors.exceptions.CorruptStoreError` naming ``where``.
        """
        try:
            for _, dec in reversed(self._steps):  # type: ignore[attr-defined]
                data = dec(data)
        except CorruptStoreError as exc:
            raise CorruptStoreError(f"{where}: {exc}") from None
        except Exception as exc:  # zstd RuntimeError, gzip EOFError/zlib.error, ...
            raise CorruptStoreError(
                f"{where}: the chunk cannot be decoded ({type(exc).__name__}: {exc})"
            ) from None
        return _unframe(data, where)


def compressor_codecs(compressor: str | dict[str, Any] | None) -> list[dict[str, Any]]:
    """The bytes-to-bytes codec list for the writers' ``compressor=`` argument.

    ``None`` stores cells uncompressed (as the published package does by
    default); ``"zstd"``/``"gzip"`` use that codec with default settings;
    ``"blosc"`` is Blosc with zstd and a byte shuffle by the size of each array's
    rows (what LAS input gets by default: about half zstd's bytes for
    coordinates, times and colours, see :func:`typed_codecs`); ``"lzma"`` is
    numcodecs' LZMA after a byte shuffle and a delta filter (:data:`LZMA_CODEC`: the
    smallest store, for about eight times Blosc's compression CPU; zarr-python reads
    it, other Zarr implementations may not); a dict is taken as a zarr v3 codec spec
    (``{"name": "zstd", "configuration": {"level": 3}}``).
    """
    if compressor is None:
        return []
    if isinstance(compressor, str):
        name = compressor.lower()
        if name == "zstd":
            return [{"name": "zstd", "configuration": {"level": 0, "checksum": False}}]
        if name == "gzip":
            return [{"name": "gzip", "configuration": {"level": 5}}]
        if name == "blosc":
            return [dict(BLOSC_CODEC, configuration=dict(BLOSC_CODEC["configuration"]))]
        if name == "lzma":
            conf = dict(LZMA_CODEC["configuration"])
            conf["filters"] = [dict(f) for f in conf["filters"]]
            return [{"name": LZMA_CODEC["name"], "configuration": conf}]
        raise ValidationError(
            f"unknown compressor {compressor!r}: use None, 'zstd', 'gzip', 'blosc', 'lzma' "
            "or a codec dict"
        )
    if isinstance(compressor, dict) and compressor.get("name") == "blosc":
        conf = {**BLOSC_CODEC["configuration"], **(compressor.get("configuration") or {})}
        if conf.get("shuffle") not in _SHUFFLES:
            raise ValidationError(
                f"blosc shuffle {conf.get('shuffle')!r}: use one of {list(_SHUFFLES)}"
            )
        return [{"name": "blosc", "configuration": conf}]
    if isinstance(compressor, dict) and compressor.get("name") in ("zstd", "gzip"):
        spec = {
            "name": compressor["name"],
            "configuration": dict(compressor.get("configuration") or {}),
        }
        if spec["name"] == "zstd":
            spec["configuration"].setdefault("level", 0)
            spec["configuration"].setdefault("checksum", False)
        return [spec]
    raise ValidationError(
        f"unsupported compressor {compressor!r}: use None, 'zstd', 'gzip', 'blosc', 'lzma' "
        "or {'name': 'zstd'|'gzip'|'blosc', 'configuration': {...}}"
    )


def codec_chain(
    compressor: str | dict[str, Any] | None, *, checksum: bool = True
) -> list[dict[str, Any]]:
    """The full ``codecs`` list for a cell array written with ``compressor``.

    ``checksum`` (default) ends the chain with zarr v3's ``crc32c`` codec,
    which zarr-python, and so the published zarr-vectors 0.9.2, reads.
    """
    tail = [dict(CHECKSUM_CODEC)] if checksum else []
    return [{"name": "vlen-bytes", "configuration": {}}, *compressor_codecs(compressor), *tail]
