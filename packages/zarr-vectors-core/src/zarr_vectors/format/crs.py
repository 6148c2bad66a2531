"""The coordinate reference system of a store: the root ``crs`` entry of the format.

The Zarr Vectors specification (section 8.8 and appendix C) gives the root
``zarr_vectors`` block an optional ``crs`` dict that is opaque to the format:
the writer's convention decides what it holds (an EPSG code, a WKT string, a
transform pipeline). The published 0.9.2 reads and keeps it as any dict. The
convention this package writes, and reads back:

``{"epsg": 2992, "wkt": "PROJCS[...]", "name": "NAD83 / Oregon GIC Lambert (ft)"}``

with every key optional (at least one present); a file's own description of
its system rides along under other keys (``geotiff_keys``, ``vertical_epsg``,
``source``) so nothing it said is lost. No projection library is needed to
store or show a CRS; reprojecting needs pyproj (:func:`transformer`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from zarr_vectors._extras import require
from zarr_vectors.exceptions import ValidationError

__all__ = ["CRS_KEY", "describe_crs", "normalize_crs", "transformer", "wkt_authority", "wkt_name"]

#: The key of the CRS in the root ``zarr_vectors`` block (specification section 8.8).
CRS_KEY = "crs"

_EPSG_TEXT = re.compile(r"^\s*(?:epsg|EPSG)\s*:\s*(\d+)\s*$")
_NAME = re.compile(r'^\s*[A-Za-z_0-9]+\s*\[\s*"([^"]*)"')
_AUTHORITY = re.compile(r'(?:AUTHORITY|ID)\s*\[\s*"([^"]+)"\s*,\s*"?(\d+)"?')


def wkt_name(wkt: str) -> str | None:
    """The name of the outermost WKT node (``PROJCS["this", ...]``)."""
    found = _NAME.match(wkt)
    return found[1] if found else None


def wkt_authority(wkt: str) -> tuple[str, int] | None:
    """The ``(authority, code)`` of the outermost WKT node, if it carries one.

    Only an ``AUTHORITY``/``ID`` directly inside the outermost brackets counts:
    a compound system's last authority is often its vertical part's, which is
    not the code of the whole.
    """
    depth = 0
    quoted = False
    for at, char in enumerate(wkt):
        if char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        elif depth == 1 and char in "AI" and wkt[at - 1] in ",[( ":
            found = _AUTHORITY.match(wkt, at)
            if found:
                return found[1].upper(), int(found[2])
    return None


def normalize_crs(value: Any) -> dict[str, Any] | None:
    """The ``crs`` dict for ``value``: a dict (kept as given), ``"EPSG:n"``, an int, or WKT.

    Raises :class:`ValidationError` for anything else, before a store is touched.
    """
    if value is None:
        return None
    if isinstance(value, Mapping):
        crs = dict(value)
        if not crs:
            raise ValidationError("crs= is an empty dict; give an EPSG code, WKT or None")
        return crs
    if isinstance(value, bool):
        raise ValidationError(f"crs= must be an EPSG code, 'EPSG:n', WKT or a dict, got {value}")
    if isinstance(value, int):
        return {"epsg": value}
    if isinstance(value, str):
        found = _EPSG_TEXT.match(value)
        if found:
            return {"epsg": int(found[1])}
        if "[" in value:
            described: dict[str, Any] = {"wkt": value}
            authority = wkt_authority(value)
            if authority and authority[0] == "EPSG":
                described["epsg"] = authority[1]
            name = wkt_name(value)
            if name:
                described["name"] = name
            return described
    raise ValidationError(
        f"crs= must be an EPSG code (2992 or 'EPSG:2992'), a WKT string or a dict, got {value!r}"
    )


def describe_crs(crs: Mapping[str, Any] | None) -> str:
    """One line for people: ``EPSG:2992 (NAD83 / Oregon GIC Lambert (ft))``, or ``none``."""
    if not crs:
        return "none"
    parts = []
    if crs.get("epsg") is not None:
        parts.append(f"EPSG:{crs['epsg']}")
    name = crs.get("name") or (wkt_name(crs["wkt"]) if isinstance(crs.get("wkt"), str) else None)
    if crs.get("vertical_epsg") is not None:
        parts.append(f"+ vertical EPSG:{crs['vertical_epsg']}")
    if name:
        parts.append(f"({name})" if parts else str(name))
    if not parts:
        parts.append("given as " + ", ".join(sorted(crs)))
    return " ".join(parts)


def _pyproj_crs(crs: Mapping[str, Any] | str | int, what: str) -> Any:
    pyproj = require("pyproj", feature=f"reprojecting ({what})", extra="crs")
    try:
        if isinstance(crs, Mapping):
            if isinstance(crs.get("wkt"), str):
                return pyproj.CRS.from_wkt(crs["wkt"])
            if crs.get("epsg") is not None:
                return pyproj.CRS.from_epsg(int(crs["epsg"]))
            raise ValidationError(
                f"{what}: the CRS {dict(crs)!r} has neither a WKT nor an EPSG code"
            )
        return pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise ValidationError(
            f"{what}: not a coordinate reference system pyproj knows ({exc})"
        ) from None


def transformer(source: Mapping[str, Any] | None, target: str | int) -> tuple[Any, dict[str, Any]]:
    """A pyproj ``Transformer`` from the store's ``source`` CRS to ``target``, and the
    target's ``crs`` dict (with its WKT, so a file written with it can carry it).

    pyproj is optional (``pip install "zarr-vectors-core[crs]"``); without it this
    raises :class:`~zarr_vectors.exceptions.MissingDependencyError` saying so.
    """
    if not source:
        raise ValidationError(
            "the store has no coordinate reference system, so its points cannot be "
            "reprojected; write it with a CRS (LAS input keeps its own)"
        )
    src = _pyproj_crs(source, "the store's CRS")
    dst = _pyproj_crs(target, f"target {target!r}")
    import pyproj

    wkt = dst.to_wkt(pyproj.enums.WktVersion.WKT1_GDAL) or dst.to_wkt()
    described: dict[str, Any] = {"wkt": wkt, "name": dst.name}
    epsg = dst.to_epsg()
    if epsg is not None:
        described["epsg"] = epsg
    return pyproj.Transformer.from_crs(src, dst, always_xy=True), described
