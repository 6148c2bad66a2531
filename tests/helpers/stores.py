"""Opening a store the tests wrote, to look at it as the format layer sees it.

Several format tests wrote the same two lines each time (a ``LocalBackend`` on the
path, then :func:`~zarr_vectors.format.snapshot.load_snapshot`); this is their one home.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from zarr_vectors.format.snapshot import Snapshot, load_snapshot
from zarr_vectors.storage.local import LocalBackend


@contextmanager
def snapshot_of(path: Path) -> Iterator[Snapshot]:
    """The committed state of the local store at ``path``; its backend closes on leaving."""
    with LocalBackend(path) as backend:
        yield load_snapshot(backend)
