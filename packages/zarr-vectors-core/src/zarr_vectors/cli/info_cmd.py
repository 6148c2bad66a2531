"""``zarr-vectors info URL``: what a store holds, read from its metadata only.

Opens the store lazily (:func:`zarr_vectors.lazy.open_zv`), so on a remote
backend this costs the root document plus one small document per level when
the store has no consolidated metadata. No chunk is read.
"""

from __future__ import annotations

import json
from typing import Any

import click

from zarr_vectors.cli._errors import handle_errors
from zarr_vectors.cli.points_cmd import backend_options, store_kwargs
from zarr_vectors.format.crs import describe_crs
from zarr_vectors.storage.secrets import redact_url

__all__ = ["describe_store", "info"]


def describe_store(url: str, **kwargs: Any) -> dict[str, Any]:
    """The facts ``info`` prints, as a JSON-ready dict."""
    from zarr_vectors.lazy import open_zv
    from zarr_vectors.storage.resolve import resolve_backend_name
    from zarr_vectors.storage.zarr_adapter import ZarrStoreBackend
    from zarr_vectors.store.location import StoreLocation

    options = dict(kwargs)
    backend = options.pop("backend", None)
    backend_name = resolve_backend_name(url, backend)
    with StoreLocation.of(url, backend=backend, backend_kwargs=options).open("r") as source:
        if isinstance(source, ZarrStoreBackend):  # a local *.zip is read through ZipStore
            backend_name = "zip (zarr ZipStore, read-only)"
        return _facts(url, backend_name, open_zv(source))


def _facts(url: str, backend_name: str, zv: Any) -> dict[str, Any]:
    meta = zv.metadata
    levels = []
    for n in zv.levels:
        level = zv.level(n)
        levels.append(
            {
                "level": n,
                "points": level.vertex_count,
                "cells": len(level.nonempty_chunks),
                "attributes": level.attribute_names,
                "coarsening": level.metadata.coarsening_method,
            }
        )
    return {
        "url": redact_url(url),
        "backend": backend_name,
        "format_version": zv.format_version,
        "geometry_types": list(meta.geometry_types),
        "axes": [a.get("name", "") for a in meta.axes],
        "bounds": [list(meta.bounds[0]), list(meta.bounds[1])],
        "chunk_shape": list(meta.chunk_shape),
        "crs": zv.crs,
        "consolidated": zv.consolidated,
        "format_capabilities": list(meta.format_capabilities),
        "levels": levels,
    }


@click.command()
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON.")
@backend_options
@handle_errors
def info(url: str, as_json: bool, backend: str | None, options: tuple[str, ...]) -> None:
    """Show a store's format version, bounds, chunk shape, levels, point counts and backend."""
    facts = describe_store(url, **store_kwargs(url, backend, options))
    if as_json:
        click.echo(json.dumps(facts, indent=2))
        return
    axes = ",".join(facts["axes"])
    lines = [
        f"store           {facts['url']}",
        f"backend         {facts['backend']}",
        f"format version  {facts['format_version']}",
        f"geometry        {', '.join(facts['geometry_types'])}",
        f"axes            {axes}",
        f"bounds          {_fmt(facts['bounds'][0])} .. {_fmt(facts['bounds'][1])}",
        f"chunk shape     {_fmt(facts['chunk_shape'])}",
        f"consolidated    {'yes' if facts['consolidated'] else 'no'}",
    ]
    if facts["crs"]:
        lines.append(f"crs             {describe_crs(facts['crs'])}")
    if facts["format_capabilities"]:
        lines.append(f"capabilities    {', '.join(facts['format_capabilities'])}")
    total = facts["levels"][0]["points"] if facts["levels"] else 0
    lines.append(f"points          {total:,} (level 0)")
    lines.append(f"levels          {len(facts['levels'])}")
    for lv in facts["levels"]:
        attrs = ", ".join(lv["attributes"]) or "-"
        lines.append(
            f"  level {lv['level']}: {lv['points']:,} points in {lv['cells']:,} cells, "
            f"attributes: {attrs}"
            + (f", {lv['coarsening']}" if lv["coarsening"] not in ("none", "") else "")
        )
    click.echo("\n".join(lines))


def _fmt(values: list[float]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"
