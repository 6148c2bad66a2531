"""Neuroglancer's precomputed annotation encoding of points, and which attributes it carries.

Neuroglancer's ``neuroglancer_annotations_v1`` format (its repository,
``src/datasource/precomputed/annotations.md``) encodes a list of annotations as
a little-endian ``uint64`` count, then one fixed-size record per annotation
(the position as ``float32`` per axis, then the property values, padded to a
multiple of 4 bytes), then one ``uint64`` id per annotation. Properties are
encoded 4-byte types first, then 2-byte, then 1-byte ones; :func:`property_specs`
lists them in that order already, so the listed order and the encoded order are
the same and no reader can disagree about padding between them.

Only numeric per-vertex attributes become properties (a property is one number
of type ``float32``, ``[u]int32``, ``[u]int16`` or ``[u]int8``): ``float64`` is
served as ``float32``; 64-bit integers and booleans have no exact property type
and are left out (:attr:`PropertySpec` lists what is served,
:func:`property_specs` returns what was skipped and why). An attribute with
several values per point becomes one property per value (``name_0``,
``name_1``...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "PropertySpec",
    "annotation_dtype",
    "decode_annotations",
    "encode_annotations",
    "encode_single",
    "property_specs",
]

#: Stored dtype -> the property type it is served as.
_SERVED_AS: dict[str, str] = {
    "float32": "float32",
    "float64": "float32",
    "float16": "float32",
    "int32": "int32",
    "uint32": "uint32",
    "int16": "int16",
    "uint16": "uint16",
    "int8": "int8",
    "uint8": "uint8",
}
_ID_RE = re.compile(r"^[a-z][a-zA-Z0-9_]*$")


@dataclass(frozen=True)
class PropertySpec:
    """One served property: its id and type, and the attribute column it comes from."""

    id: str
    type: str
    attribute: str
    column: int | None  # None: a one-value attribute

    def info(self) -> dict[str, Any]:
        """The entry of the ``info`` document's ``properties`` list."""
        where = self.attribute if self.column is None else f"{self.attribute}[{self.column}]"
        return {"id": self.id, "type": self.type, "description": f"vertex attribute {where}"}


def _property_id(name: str, taken: set[str]) -> str:
    """``name`` as a valid, unused property id (``[a-z][a-zA-Z0-9_]*``)."""
    cleaned = re.sub(r"[^a-zA-Z0-9_]", "_", name)
    if not _ID_RE.match(cleaned):
        cleaned = "a_" + cleaned
    out, n = cleaned, 1
    while out in taken:
        out, n = f"{cleaned}_{n}", n + 1
    return out


def property_specs(
    layout: Mapping[str, tuple[np.dtype[Any], tuple[int, ...]]],
) -> tuple[list[PropertySpec], dict[str, str]]:
    """Served properties of attributes ``{name: (dtype, row_shape)}``, and the skipped ones.

    The second value maps each attribute left out to the reason, for the
    server's start-up message and the ``info`` document's description.
    """
    specs: list[PropertySpec] = []
    skipped: dict[str, str] = {}
    taken: set[str] = set()
    for name in sorted(layout):
        dtype, shape = layout[name]
        served = _SERVED_AS.get(np.dtype(dtype).name)
        if served is None:
            skipped[name] = f"{np.dtype(dtype).name} has no Neuroglancer property type"
            continue
        width = int(np.prod(shape)) if shape else 1
        if width > 16:
            skipped[name] = f"{width} values per point (at most 16 are served as properties)"
            continue
        for col in range(width):
            label = name if not shape else f"{name}_{col}"
            pid = _property_id(label, taken)
            taken.add(pid)
            specs.append(PropertySpec(pid, served, name, None if not shape else col))
    specs.sort(key=lambda s: -np.dtype(s.type).itemsize)  # stable: 4, then 2, then 1 bytes
    return specs, skipped


def annotation_dtype(rank: int, specs: Sequence[PropertySpec]) -> np.dtype[Any]:
    """The record of one encoded point: position, properties, padding to 4 bytes."""
    names = ["position"]
    formats: list[Any] = [np.dtype(("<f4", (rank,)))]
    offsets = [0]
    at = 4 * rank
    for i, spec in enumerate(specs):
        dt = np.dtype(spec.type).newbyteorder("<")
        names.append(f"p{i}")
        formats.append(dt)
        offsets.append(at)
        at += dt.itemsize
    return np.dtype(
        {"names": names, "formats": formats, "offsets": offsets, "itemsize": (at + 3) // 4 * 4}
    )


def _records(
    positions: npt.NDArray[Any],
    columns: Mapping[str, npt.NDArray[Any]],
    specs: Sequence[PropertySpec],
) -> npt.NDArray[Any]:
    """Encoded records of ``positions`` with their property values (padding zeroed)."""
    n, rank = positions.shape
    rec = np.zeros(n, annotation_dtype(rank, specs))
    rec["position"] = positions
    for i, spec in enumerate(specs):
        values = columns.get(spec.attribute)
        if values is None:
            # A level without this attribute (a coarse level written without it).
            rec[f"p{i}"] = np.nan if spec.type == "float32" else 0
            continue
        column = values if spec.column is None else values.reshape(n, -1)[:, spec.column]
        with np.errstate(over="ignore", invalid="ignore"):
            rec[f"p{i}"] = column
    return rec


def encode_annotations(
    positions: npt.NDArray[Any],
    columns: Mapping[str, npt.NDArray[Any]],
    ids: npt.NDArray[np.uint64],
    specs: Sequence[PropertySpec],
) -> bytes:
    """The multiple-annotation encoding of points (a spatial index chunk)."""
    n = len(positions)
    rec = _records(positions, columns, specs)
    return b"".join(
        (
            np.uint64(n).astype("<u8").tobytes(),
            rec.tobytes(),
            np.asarray(ids, dtype="<u8").tobytes(),
        )
    )


def encode_single(
    position: npt.NDArray[Any],
    columns: Mapping[str, npt.NDArray[Any]],
    specs: Sequence[PropertySpec],
) -> bytes:
    """The single-annotation encoding of one point (the by-id index; no relationships)."""
    return _records(position.reshape(1, -1), columns, specs).tobytes()


def decode_annotations(
    data: bytes, rank: int, specs: Sequence[PropertySpec]
) -> tuple[npt.NDArray[np.float32], dict[str, npt.NDArray[Any]], npt.NDArray[np.uint64]]:
    """Positions, property values (by property id) and ids of an encoded chunk.

    Raises ``ValueError`` when the bytes are not a whole encoding.
    """
    dt = annotation_dtype(rank, specs)
    if len(data) < 8:
        raise ValueError(f"{len(data)} bytes: too short for an annotation count")
    n = int(np.frombuffer(data, "<u8", 1)[0])
    if len(data) != 8 + n * (dt.itemsize + 8):
        raise ValueError(f"{len(data)} bytes do not hold {n} annotations of {dt.itemsize} bytes")
    rec = np.frombuffer(data, dt, n, 8)
    ids = np.frombuffer(data, "<u8", n, 8 + n * dt.itemsize)
    props = {s.id: rec[f"p{i}"].copy() for i, s in enumerate(specs)}
    return rec["position"].reshape(n, rank).copy(), props, ids.copy()
