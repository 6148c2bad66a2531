"""The root document: how writes begin, commit, and keep consolidated metadata fresh.

Every write through this package follows one order, so that a failure half
way never shows a reader a mix of old and new cells:

1. put the root ``zarr.json`` with a ``pending`` journal entry saying what is
   about to change (for an append: every touched cell and its old row count);
2. put the chunk data;
3. put the arrays' and levels' ``zarr.json`` documents;
4. put the root ``zarr.json`` again: new metadata, refreshed consolidated
   metadata, journal entry removed, write generation bumped.

A single-object put is atomic on every backend, so the root is always either
the old state plus a journal entry (readers cut touched cells back to their
old row counts) or the new state.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from zarr_vectors.core.kv import KV, dump_json
from zarr_vectors.core.metadata import WRITER_KEY, RootMetadata, group_json
from zarr_vectors.core.snapshot import ROOT_KEY

__all__ = ["gather_node_docs", "put_root", "root_document", "sorted_consolidated"]


def sorted_consolidated(docs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The inline ``consolidated_metadata`` object, nodes ordered as zarr-python orders them."""
    order = sorted(docs, key=lambda k: (k.count("/"), unicodedata.normalize("NFKC", k).casefold()))
    return {
        "kind": "inline",
        "must_understand": False,
        "metadata": {k: dict(docs[k]) for k in order},
    }


def root_document(
    meta: RootMetadata,
    *,
    name: str = "zarr_vectors",
    pending: Mapping[str, Any] | None = None,
    consolidated: Mapping[str, Mapping[str, Any]] | None = None,
    extra_attributes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The root group ``zarr.json`` for ``meta`` (plus journal and consolidated metadata)."""
    attrs = dict(extra_attributes or {})
    attrs.update(meta.to_attributes(name))
    if pending is not None:
        attrs[WRITER_KEY] = {**attrs[WRITER_KEY], "pending": dict(pending)}
    doc = group_json(attrs)
    if consolidated is not None:
        doc["consolidated_metadata"] = sorted_consolidated(consolidated)
    return doc


def put_root(
    kv: KV,
    meta: RootMetadata,
    *,
    pending: Mapping[str, Any] | None = None,
    consolidated: Mapping[str, Mapping[str, Any]] | None = None,
    extra_attributes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the root document; return it."""
    doc = root_document(
        meta, pending=pending, consolidated=consolidated, extra_attributes=extra_attributes
    )
    kv.set_many([(ROOT_KEY, dump_json(doc))])
    return doc


def bump(meta: RootMetadata) -> RootMetadata:
    """``meta`` with the write generation advanced by one."""
    return replace(meta, generation=meta.generation + 1)


def gather_node_docs(kv: KV) -> dict[str, dict[str, Any]]:
    """Every node document below the root, by node path (one listing + one batch of gets)."""
    keys = [k for k in kv.list("") if k.endswith("zarr.json") and k != ROOT_KEY]
    got = kv.get_many(keys)
    return {k[: -len("/zarr.json")]: json.loads(v) for k, v in got.items()}
