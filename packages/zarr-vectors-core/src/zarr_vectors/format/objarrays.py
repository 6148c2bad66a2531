"""Small one-dimensional Zarr v3 arrays: the object index, object attributes and groups.

Cell arrays (one element per spatial cell) go through :mod:`.cells` and
:mod:`.cellio`. The per-object arrays of the format are ordinary Zarr v3
arrays over object rows instead, as the published 0.9.2 writes them:

* fixed-size values (``object_index/object_ids``, ``object_attributes/NAME``,
  ``group_attributes/NAME``): a regular 1-D chunk grid over rows (extra axes
  whole in each chunk), codecs ``bytes`` (little-endian), optionally a
  compressor and ``crc32c``; every chunk is stored full size (the last one
  padded with the fill value), a chunk never written reads as the fill value;
* variable-length values (``object_index/manifests``, ``groups``): codec
  ``vlen-bytes`` (a uint32 element count, then a uint32 length and the bytes of
  each element), then the compressor and checksum.

Reading fetches only the chunks holding the rows asked for, through the
snapshot (so a store being replaced is read consistently).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import CorruptStoreError
from zarr_vectors.format.cells import _bytes_codec
from zarr_vectors.format.snapshot import Snapshot

__all__ = [
    "fill_for",
    "plain_array",
    "plain_chunks",
    "read_plain",
    "read_vlen",
    "vlen_array",
    "vlen_chunks",
]

_U32 = struct.Struct("<I")


def fill_for(dtype: np.dtype[Any]) -> Any:
    """The fill value 0.9.2 uses for absent object rows: NaN, the type's minimum or maximum."""
    if dtype.kind == "f":
        return float("nan")
    if dtype.kind == "i":
        return int(np.iinfo(dtype).min)
    if dtype.kind == "u":
        return int(np.iinfo(dtype).max)
    if dtype.kind == "b":
        return False
    return 0


def _fill_json(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return value


def _doc(
    shape: Sequence[int],
    chunk: Sequence[int],
    dtype: str,
    fill: Any,
    codecs: list[dict[str, Any]],
    attributes: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "shape": [int(s) for s in shape],
        "data_type": dtype,
        "chunk_grid": {
            "name": "regular",
            "configuration": {"chunk_shape": [int(c) for c in chunk]},
        },
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": _fill_json(fill),
        "codecs": codecs,
        "attributes": dict(attributes),
        "zarr_format": 3,
        "node_type": "array",
        "storage_transformers": [],
    }


def _encoder(tail: Sequence[Mapping[str, Any]]) -> Any:
    steps = [_bytes_codec(dict(c))[0] for c in tail]

    def encode(data: bytes) -> bytes:
        for step in steps:
            data = step(data)
        return data

    return encode


def plain_array(
    path: str,
    values: npt.NDArray[Any],
    *,
    chunk_rows: int,
    tail_codecs: Sequence[Mapping[str, Any]] = (),
    attributes: Mapping[str, Any] | None = None,
    fill: Any = None,
) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    """The ``zarr.json`` and chunk objects of a 1-D (rows, ...) array of ``values``."""
    values = np.ascontiguousarray(values)
    dt = values.dtype.newbyteorder("<") if values.dtype.byteorder == ">" else values.dtype
    fill = fill_for(dt) if fill is None else fill
    rows = max(1, min(int(chunk_rows), max(len(values), 1)))
    codecs = [{"name": "bytes", "configuration": {"endian": "little"}}, *map(dict, tail_codecs)]
    doc = _doc(values.shape, (rows, *values.shape[1:]), str(dt), fill, codecs, attributes or {})
    return doc, plain_chunks(path, values, rows=rows, tail_codecs=tail_codecs, fill=fill)


def plain_chunks(
    path: str,
    values: npt.NDArray[Any],
    *,
    rows: int,
    tail_codecs: Sequence[Mapping[str, Any]] = (),
    fill: Any,
    first_chunk: int = 0,
) -> list[tuple[str, bytes]]:
    """The chunks of ``values``, ``rows`` a chunk, numbered from ``first_chunk`` (little-endian).

    An append writes the chunks from the first one it changes on, not the array.
    """
    values = np.ascontiguousarray(values)
    dt = values.dtype.newbyteorder("<")
    encode = _encoder(tail_codecs)
    chunks = []
    for i, start in enumerate(range(0, len(values), rows), start=first_chunk):
        block = values[start : start + rows].astype(dt, copy=False)
        if len(block) < rows:
            pad = np.full((rows - len(block), *values.shape[1:]), fill, dtype=dt)
            block = np.concatenate([block, pad])
        chunks.append((f"{path}/c/{i}" + "/0" * (values.ndim - 1), encode(block.tobytes())))
    return chunks


def vlen_array(
    path: str,
    elements: Sequence[bytes],
    *,
    chunk_rows: int,
    tail_codecs: Sequence[Mapping[str, Any]] = (),
    attributes: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    """The ``zarr.json`` and chunk objects of a 1-D ``variable_length_bytes`` array."""
    rows = max(1, min(int(chunk_rows), max(len(elements), 1)))
    codecs = [{"name": "vlen-bytes", "configuration": {}}, *map(dict, tail_codecs)]
    doc = _doc((len(elements),), (rows,), "variable_length_bytes", "", codecs, attributes or {})
    return doc, vlen_chunks(path, elements, rows=rows, tail_codecs=tail_codecs)


def vlen_chunks(
    path: str,
    elements: Sequence[bytes],
    *,
    rows: int,
    tail_codecs: Sequence[Mapping[str, Any]] = (),
    first_chunk: int = 0,
) -> list[tuple[str, bytes]]:
    """The chunks of ``elements``, ``rows`` a chunk, numbered from ``first_chunk``."""
    encode = _encoder(tail_codecs)
    chunks = []
    for i, start in enumerate(range(0, len(elements), rows), start=first_chunk):
        part = list(elements[start : start + rows])
        part += [b""] * (rows - len(part))
        body = b"".join(_U32.pack(len(e)) + bytes(e) for e in part)
        chunks.append((f"{path}/c/{i}", encode(_U32.pack(len(part)) + body)))
    return chunks


# -- reading ----------------------------------------------------------------------------
def _layout(doc: Mapping[str, Any], where: str) -> tuple[int, list[Any], list[dict[str, Any]]]:
    try:
        rows = int(doc["chunk_grid"]["configuration"]["chunk_shape"][0])
        codecs = [dict(c) for c in doc["codecs"]]
    except (KeyError, TypeError, IndexError, ValueError):
        raise CorruptStoreError(f"{where}: not a regular 1-D zarr array") from None
    if rows < 1:
        raise CorruptStoreError(f"{where}: chunk shape {rows} is not positive")
    decoders = [_bytes_codec(c)[1] for c in codecs[1:]]
    return rows, decoders, codecs


def _chunks_of(rows_wanted: npt.NDArray[np.int64], rows_per_chunk: int) -> list[int]:
    return [int(c) for c in np.unique(rows_wanted // rows_per_chunk).tolist()]


def _decode(data: bytes, decoders: list[Any], where: str) -> bytes:
    try:
        for dec in reversed(decoders):
            data = dec(data)
    except CorruptStoreError as exc:
        raise CorruptStoreError(f"{where}: {exc}") from None
    except Exception as exc:
        raise CorruptStoreError(f"{where}: the chunk cannot be decoded ({exc})") from None
    return bytes(data)


def read_plain(
    snap: Snapshot, path: str, doc: Mapping[str, Any], rows: npt.NDArray[np.int64] | None = None
) -> npt.NDArray[Any]:
    """Rows ``rows`` (default all) of the fixed-size array at ``path`` (``zarr.json``: ``doc``)."""
    where = f"{snap.backend.url}: {path}"
    per, decoders, codecs = _layout(doc, where)
    shape = [int(s) for s in doc["shape"]]
    n = shape[0]
    endian = (codecs[0].get("configuration") or {}).get("endian", "little")
    dt = np.dtype(doc["data_type"]).newbyteorder("<" if endian == "little" else ">")
    fill = doc.get("fill_value")
    fill = float("nan") if fill == "NaN" else fill
    wanted = np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, np.int64)
    out = np.empty((len(wanted), *shape[1:]), dtype=dt.newbyteorder("="))
    chunk_ids = _chunks_of(wanted, per)
    suffix = "/0" * (len(shape) - 1)
    keys = {c: f"{path}/c/{c}{suffix}" for c in chunk_ids}
    got = snap.get_many(list(keys.values()))
    cell = per * math.prod(shape[1:])
    for c in chunk_ids:
        sel = (wanted // per) == c
        raw = got.get(keys[c])
        if raw is None:
            out[sel] = fill
            continue
        body = np.frombuffer(_decode(raw, decoders, f"{where} chunk {c}"), dtype=dt)
        if body.size != cell:
            raise CorruptStoreError(
                f"{where}: chunk {c} holds {body.size} values, its chunk shape says {cell}"
            )
        block = body.reshape(per, *shape[1:])
        out[sel] = block[wanted[sel] - c * per]
    return out


def read_vlen(
    snap: Snapshot, path: str, doc: Mapping[str, Any], rows: npt.NDArray[np.int64] | None = None
) -> list[bytes]:
    """Elements ``rows`` (default all) of the ``variable_length_bytes`` array at ``path``."""
    where = f"{snap.backend.url}: {path}"
    per, decoders, _ = _layout(doc, where)
    n = int(doc["shape"][0])
    wanted = np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, np.int64)
    chunk_ids = _chunks_of(wanted, per)
    keys = {c: f"{path}/c/{c}" for c in chunk_ids}
    got = snap.get_many(list(keys.values()))
    decoded: dict[int, list[bytes]] = {}
    for c in chunk_ids:
        raw = got.get(keys[c])
        if raw is None:
            decoded[c] = [b""] * per
            continue
        decoded[c] = _unframe_many(_decode(raw, decoders, f"{where} chunk {c}"), per, where)
    return [decoded[int(r) // per][int(r) % per] for r in wanted.tolist()]


def _unframe_many(data: bytes, per: int, where: str) -> list[bytes]:
    if len(data) < 4:
        raise CorruptStoreError(f"{where}: a vlen-bytes chunk of {len(data)} bytes has no header")
    (count,) = _U32.unpack_from(data, 0)
    if count != per:
        raise CorruptStoreError(f"{where}: a chunk holds {count} elements, its shape says {per}")
    out, at = [], 4
    for _ in range(count):
        if at + 4 > len(data):
            raise CorruptStoreError(f"{where}: a vlen-bytes chunk is truncated")
        (length,) = _U32.unpack_from(data, at)
        at += 4
        if at + length > len(data):
            raise CorruptStoreError(f"{where}: a vlen-bytes chunk is truncated")
        out.append(data[at : at + length])
        at += length
    return out
