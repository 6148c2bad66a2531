"""What a LAS/LAZ file says besides its points, kept in the store and given back.

A survey without its coordinate system is unusable, and its scale and offset
are what make its coordinates exact. When a LAS file is written to a store,
its header is kept in the root ``zarr_vectors`` block (the specification lets
writers add keys there; readers, 0.9.2 included, ignore the ones they do not
know):

* ``crs``: the coordinate reference system, in the convention of
  :mod:`zarr_vectors.format.crs` (``epsg``, ``wkt``, ``name``; the GeoTIFF keys
  as ``geotiff_keys`` when the file gave them);
* ``las``: version, point format, per-axis ``scales`` and ``offsets``, the
  identifying header fields, and every VLR and EVLR the file carried
  (base64), except those the writer makes anew from the points (LASzip, extra
  bytes, COPC's index).

A LAS file written from the store (``read-points -o out.laz``) gets them
back: the same scale and offset (so every coordinate comes back bit-exact),
the same version and point format when the attributes fit it, and the same
records, GeoTIFF keys and WKT alike.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from zarr_vectors.format.crs import wkt_authority, wkt_name

__all__ = ["LAS_KEY", "RECORDS_LIMIT", "crs_of_header", "las_block", "restore_records"]

#: The key of the LAS header block in the root ``zarr_vectors`` attributes.
LAS_KEY = "las"
#: Most bytes of VLR/EVLR payloads kept in the root document (it is read by every
#: open); larger records (full-waveform data, big index records) are left out
#: with a note rather than making every open of the store slow.
RECORDS_LIMIT = 1 << 20

#: (user id, record id) of records the writer makes anew; ``None`` = any record id.
_REMADE = {
    ("laszip encoded", 22204),  # the compressor's own parameters
    ("LASF_Spec", 4),  # extra-bytes descriptions: written from the attributes
    ("copc", None),  # COPC's info and hierarchy: describe the old file's layout
    ("LASF_Spec", 7),  # LAS 1.4 superseded records
}
_GEOTIFF_PROJECTED = 3072
_GEOTIFF_GEOGRAPHIC = 2048
_GEOTIFF_VERTICAL = 4096
_GEOTIFF_USER_DEFINED = 32767


def _remade(user_id: str, record_id: int) -> bool:
    return (user_id, record_id) in _REMADE or (user_id, None) in _REMADE


def _record_bytes(vlr: Any) -> bytes:
    try:
        return bytes(vlr.record_data_bytes())
    except NotImplementedError:  # laspy cannot re-encode some parsed records (COPC)
        return bytes(getattr(vlr, "record_data", b""))


def _records(vlrs: Any, kind: str, notes: list[str], budget: list[int]) -> list[dict[str, Any]]:
    kept = []
    for vlr in vlrs or ():
        user_id, record_id = str(vlr.user_id), int(vlr.record_id)
        if _remade(user_id, record_id):
            continue
        data = _record_bytes(vlr)
        if len(data) > budget[0]:
            notes.append(
                f"the {kind} {user_id}/{record_id} ({len(data):,} bytes) was not kept: the "
                f"store keeps at most {RECORDS_LIMIT:,} bytes of records in its metadata"
            )
            continue
        budget[0] -= len(data)
        kept.append(
            {
                "user_id": user_id,
                "record_id": record_id,
                "description": str(vlr.description),
                "data": base64.b64encode(data).decode("ascii"),
            }
        )
    return kept


def crs_of_header(header: Any) -> dict[str, Any] | None:
    """The ``crs`` dict of a laspy header, from its WKT record and/or GeoTIFF keys."""
    crs: dict[str, Any] = {}
    for vlr in header.vlrs:
        name = type(vlr).__name__
        if name == "WktCoordinateSystemVlr" and "wkt" not in crs:
            wkt = str(vlr.string).rstrip("\x00").strip()
            if wkt:
                crs["wkt"] = wkt
                authority = wkt_authority(wkt)
                if authority and authority[0] == "EPSG":
                    crs["epsg"] = authority[1]
                found = wkt_name(wkt)
                if found:
                    crs["name"] = found
        elif name == "GeoKeyDirectoryVlr":
            keys = {
                int(k.id): int(k.value_offset) for k in vlr.geo_keys if k.tiff_tag_location == 0
            }
            crs["geotiff_keys"] = [
                [int(k.id), int(k.tiff_tag_location), int(k.count), int(k.value_offset)]
                for k in vlr.geo_keys
                if k.id
            ]
            code = keys.get(_GEOTIFF_PROJECTED) or keys.get(_GEOTIFF_GEOGRAPHIC)
            if code and code != _GEOTIFF_USER_DEFINED:
                crs.setdefault("epsg", code)
            vertical = keys.get(_GEOTIFF_VERTICAL)
            if vertical and vertical != _GEOTIFF_USER_DEFINED:
                crs["vertical_epsg"] = vertical
        elif name == "GeoAsciiParamsVlr" and "name" not in crs:
            text = "".join(vlr.strings).split("|")[0].strip()
            if text:
                crs["name"] = text
    if not crs:
        return None
    crs["source"] = "las"
    return crs


def las_block(header: Any, notes: list[str]) -> dict[str, Any]:
    """The ``las`` block for a laspy header (with EVLRs read); notes what was not kept."""
    budget = [RECORDS_LIMIT]
    date = header.creation_date
    return {
        "version": str(header.version),
        "point_format": int(header.point_format.id),
        "scales": [float(s) for s in header.scales],
        "offsets": [float(o) for o in header.offsets],
        "global_encoding": int(header.global_encoding.value),
        "system_identifier": str(header.system_identifier),
        "generating_software": str(header.generating_software),
        "file_source_id": int(header.file_source_id),
        "uuid": str(header.uuid),
        "creation_date": date.isoformat() if date is not None else None,
        "vlrs": _records(header.vlrs, "VLR", notes, budget),
        "evlrs": _records(header.evlrs, "EVLR", notes, budget),
    }


def restore_records(
    laspy: ModuleType, header: Any, las: Mapping[str, Any] | None, crs: Mapping[str, Any] | None
) -> list[str]:
    """Put the kept records (and the identifying fields) back on a new laspy header.

    With no kept records but a CRS given as WKT (written by another program, or
    after reprojection), a WKT record carries it. Returns notes on what could
    not be written back.
    """
    notes: list[str] = []
    has_crs_record = False
    if las:
        for key in ("system_identifier", "generating_software"):
            if las.get(key):
                setattr(header, key, str(las[key])[:32])
        if las.get("file_source_id") is not None:
            header.file_source_id = int(las["file_source_id"])
        for record in las.get("vlrs") or ():
            header.vlrs.append(_vlr(laspy, record))
            has_crs_record |= record["user_id"] == "LASF_Projection"
        evlrs = las.get("evlrs") or []
        if evlrs and header.version.minor >= 4:
            header.evlrs = laspy.vlrs.vlrlist.VLRList([_vlr(laspy, record) for record in evlrs])
            has_crs_record |= any(r["user_id"] == "LASF_Projection" for r in evlrs)
        elif evlrs:
            notes.append(
                f"{len(evlrs)} EVLR(s) of the source were not written: LAS {header.version} "
                "has no EVLRs (write a point format >= 6 to keep them)"
            )
    if not has_crs_record and crs and isinstance(crs.get("wkt"), str):
        header.vlrs.append(laspy.vlrs.known.WktCoordinateSystemVlr(crs["wkt"]))
        has_crs_record = True
    if has_crs_record and header.version.minor >= 4 and _has_wkt(header):
        header.global_encoding.wkt = True
    elif crs and not has_crs_record:
        notes.append(
            "the store's CRS has no WKT or GeoTIFF record to write (it was given as "
            f"{', '.join(sorted(crs))}); the LAS file carries none"
        )
    return notes


def _has_wkt(header: Any) -> bool:
    records = list(header.vlrs) + list(header.evlrs or ())
    return any(int(r.record_id) == 2112 and str(r.user_id) == "LASF_Projection" for r in records)


def _vlr(laspy: ModuleType, record: Mapping[str, Any]) -> Any:
    return laspy.VLR(
        user_id=str(record["user_id"]),
        record_id=int(record["record_id"]),
        description=str(record.get("description", "")),
        record_data=base64.b64decode(record["data"]),
    )
