"""The Zarr Vectors on-disk format (version 0.9.2), on top of the storage protocol.

Metadata documents (:mod:`.metadata`), cell encoding (:mod:`.cells`,
:mod:`.fragments`), the spatial cell grid (:mod:`.grid`), levels
(:mod:`.levels`), what a reader knows after opening (:mod:`.snapshot`), the
write journal (:mod:`.journal`), input checks (:mod:`.validate`), write plans
(:mod:`.plan`) and the commit sequence (:mod:`.transaction`). Nothing here knows
about URLs: every function takes a backend implementing
:class:`~zarr_vectors.storage.StorageBackend`.
"""
