"""The group the store API returns (zarr_vectors.store.zarr_group): kept consolidated."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import zarr

from tests.store.conftest import POINTS
from zarr_vectors.lazy import open_zv
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.store import create_store, open_store
from zarr_vectors.store.zarr_group import refresh_consolidated
from zarr_vectors.types.points import read_points, write_points


def test_the_design_documents_consolidate_example_runs(store: Path) -> None:
    root = open_store(store, mode="r+")
    assert root.zarr_group is root and isinstance(root, zarr.Group)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr: consolidated metadata is not in the v3 spec
        zarr.consolidate_metadata(root.zarr_group.store)
    root.store.close()
    assert read_points(store).vertex_count == len(POINTS)


def test_groups_changed_through_open_store_keep_consolidated_metadata_current(
    store: Path,
) -> None:
    root = open_store(store, mode="r+")
    root.create_group("notes")
    root.store.close()
    with open_zv(store) as zv:
        assert zv.consolidated
        assert "notes" in zv.group  # opened from the consolidated metadata alone
    group = create_store(
        store.parent / "empty", bounds=((0, 0, 0), (1, 1, 1)), chunk_shape=(1, 1, 1)
    )
    assert group.zarr_group is group
    group.store.close()


def test_a_node_document_written_or_deleted_is_patched_into_the_consolidated_root(
    store: Path, tmp_path: Path
) -> None:
    def consolidated(path: Path) -> dict[str, object] | None:
        doc = json.loads((path / "zarr.json").read_text())
        meta = doc.get("consolidated_metadata")
        return None if meta is None else dict(meta["metadata"])

    notes = {"zarr_format": 3, "node_type": "group", "attributes": {"by": "hand"}}
    with LocalBackend(store) as backend:
        backend.put_bytes("notes/zarr.json", json.dumps(notes).encode())
        assert "notes" not in (consolidated(store) or {})
        refresh_consolidated(backend, "notes/zarr.json")
        assert (consolidated(store) or {})["notes"] == notes
        backend.delete("notes/zarr.json")
        refresh_consolidated(backend, "notes/zarr.json")
    after = consolidated(store)
    assert after is not None and "notes" not in after and "0/vertices" in after
    # A store written without consolidated metadata is left without it.
    plain = tmp_path / "plain"
    write_points(plain, POINTS[:10], chunk_shape=(250.0,) * 3, consolidate=False)
    with LocalBackend(plain) as backend:
        backend.put_bytes("notes/zarr.json", json.dumps(notes).encode())
        refresh_consolidated(backend, "notes/zarr.json")
    assert consolidated(plain) is None
