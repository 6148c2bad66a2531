"""Geometry types stored in Zarr Vectors stores (point clouds first).

Import the type modules directly (``from zarr_vectors.types.points import
write_points``); this package imports nothing heavy itself.
"""
