"""Whole-stack checks: a zarr array and a point cloud written and read through the backend.

The byte-level checks can all pass while zarr-python still trips over the
backend (a listing format, a range it asks for, a missing-key convention), so
the kit also runs the two things users do: write a chunked zarr array through
the zarr-python adapter (:class:`~zarr_vectors.storage.zarr_adapter.BackendStore`)
and read it back, and write
a point cloud with :func:`~zarr_vectors.types.points.write_points` and read it,
all of it and a box of it, with :func:`~zarr_vectors.types.points.read_points`.
Both go through the target's guarded backend, so each of their backend calls
has the kit's time limit too.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from zarr_vectors.exceptions import ConformanceError
from zarr_vectors.testing.config import KitConfig
from zarr_vectors.testing.target import KitTarget, close_quietly
from zarr_vectors.testing.ticks import tick

__all__ = ["check_point_cloud", "check_zarr_array"]


def check_zarr_array(target: KitTarget, config: KitConfig) -> None:
    """A chunked zarr v3 array (with a partial edge chunk) round-trips through the backend."""
    import numpy as np
    import zarr

    from zarr_vectors.storage.zarr_adapter import BackendStore

    @config.seeded
    @config.settings(examples=config.roundtrip_examples)
    @given(
        shape=st.tuples(st.integers(1, 40), st.integers(1, 40)),
        chunks=st.tuples(st.integers(1, 16), st.integers(1, 16)),
        dtype=st.sampled_from(["uint8", "int32", "float64"]),
        seed=st.integers(0, 2**32 - 1),
    )
    def zarr_array_round_trip(
        shape: tuple[int, int], chunks: tuple[int, int], dtype: str, seed: int
    ) -> None:
        tick()
        data = (np.random.default_rng(seed).random(shape) * 200).astype(dtype)
        backend = target.fresh()
        try:
            root = zarr.open_group(BackendStore(backend), mode="w")
            array = root.create_array("kit/array", shape=shape, chunks=chunks, dtype=dtype)
            array[...] = data
            array.attrs["written_by"] = "zarr-vectors conformance kit"
            reopened = zarr.open_group(BackendStore(backend, read_only=True), mode="r")
            back: Any = reopened["kit/array"]
            got = back[...]
            if not np.array_equal(got, data):
                raise ConformanceError(
                    f"A {dtype} zarr array of shape {shape} in chunks {chunks} written to "
                    f"{target.description} read back different values."
                )
            window = back[shape[0] // 3 :, : max(1, shape[1] // 2)]
            if not np.array_equal(window, data[shape[0] // 3 :, : max(1, shape[1] // 2)]):
                raise ConformanceError(
                    f"A slice of a zarr array on {target.description} read back wrong."
                )
            if dict(back.attrs) != {"written_by": "zarr-vectors conformance kit"}:
                raise ConformanceError(
                    f"zarr attributes on {target.description} read back as {dict(back.attrs)}."
                )
        finally:
            close_quietly(backend)

    zarr_array_round_trip()


def _sorted_rows(values: Any) -> Any:
    import numpy as np

    order = np.lexsort(values.T[::-1])
    return values[order]


def check_point_cloud(target: KitTarget, config: KitConfig) -> None:
    """A point cloud with an attribute round-trips, whole and by bounding box."""
    import numpy as np

    from zarr_vectors.types.points import read_points, write_points

    @config.seeded
    @config.settings(examples=config.roundtrip_examples)
    @given(count=st.integers(1, 3000), seed=st.integers(0, 2**32 - 1), levels=st.integers(1, 2))
    def point_cloud_round_trip(count: int, seed: int, levels: int) -> None:
        tick()
        rng = np.random.default_rng(seed)
        positions = (rng.random((count, 3)) * 1000).astype(np.float32)
        intensity = rng.integers(0, 65535, count).astype(np.uint16)
        backend = target.fresh()
        try:
            write_points(
                backend,
                positions,
                chunk_shape=(250.0, 250.0, 250.0),
                bounds=([0.0] * 3, [1000.0] * 3),
                vertex_attributes={"intensity": intensity},
                levels=levels,
                mode="w",
            )
            cloud = read_points(backend)
            both = np.column_stack([positions, intensity.astype(np.float32)])
            got = np.column_stack(
                [cloud.positions, cloud.vertex_attributes["intensity"].astype(np.float32)]
            )
            if got.shape != both.shape or not np.array_equal(_sorted_rows(got), _sorted_rows(both)):
                raise ConformanceError(
                    f"{count} points written to {target.description} read back as "
                    f"{len(cloud.positions)} points or with different values."
                )
            lo, hi = (100.0, 200.0, 0.0), (600.0, 900.0, 700.0)
            box = read_points(backend, bbox=(lo, hi))
            inside = np.all((positions >= lo) & (positions <= hi), axis=1)
            if not np.array_equal(_sorted_rows(box.positions), _sorted_rows(positions[inside])):
                raise ConformanceError(
                    f"read_points(bbox={lo, hi}) on {target.description} returned "
                    f"{len(box.positions)} points, expected {int(inside.sum())}."
                )
        finally:
            close_quietly(backend)

    point_cloud_round_trip()
