"""Explicit time for write leases: a dead writer's lease runs out now, not in 15 or 60 s.

A writer whose storage fails half way cannot give its lease back (the root
write that would do it fails too), so the next writer waits for the lease to
expire, as it must. A test that only needs that wait to be over moves the
lease's expiry into the past, which is what the passing of time does, instead
of sleeping through it: the test then takes no time and depends on no clock.
"""

from __future__ import annotations

import json
import time
from typing import Any

from zarr_vectors.format.lease import lease_of
from zarr_vectors.format.metadata import WRITER_KEY
from zarr_vectors.store.location import StoreLike, StoreLocation


def let_lease_run_out(
    store: StoreLike, *, backend: str | None = None, **backend_kwargs: Any
) -> bool:
    """Make the lease on ``store``'s root (if any) one that has run out; whether there was one."""
    with StoreLocation.of(store, backend=backend, backend_kwargs=backend_kwargs).open(
        "r+"
    ) as backend:
        try:
            doc = json.loads(backend.get_bytes("zarr.json"))
        except KeyError:  # no root yet: a writer killed before it wrote one holds nothing
            return False
        if lease_of(doc) is None:
            return False
        doc["attributes"][WRITER_KEY]["lease"]["expires"] = time.time() - 1.0
        backend.put_bytes("zarr.json", json.dumps(doc).encode())
        return True
