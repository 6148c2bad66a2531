"""File formats: reading and writing the files users have, one module per format.

Built on the geometry types (:mod:`zarr_vectors.types`); the command line uses it.
Each module reads its format through the well-kept library for it (laspy,
plyfile, pandas, nibabel, ...), imported only when that format is used.
"""
