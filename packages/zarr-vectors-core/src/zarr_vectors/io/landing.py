"""Output files that land whole or not at all.

A library writing a file (nibabel, trx-python, MorphIO, networkx) writes it
in place, so a failure half way leaves half a file under the name the user
asked for. :func:`landing` gives the writer a temporary name beside the
target, with the same suffix (libraries choose the format by it), and
renames it over the target only when the writer returned; otherwise the
temporary file is removed and the target is untouched.

A folder of files (``zarr-vectors new-backend``'s distribution) lands the same
way: the writer makes the folder at the temporary name, and the rename puts it
in place whole. A folder is renamed only onto nothing or an empty folder (the
rename fails on a folder with files: nothing is merged into another's).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

__all__ = ["landing"]


@contextlib.contextmanager
def landing(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to (a file or a folder); moved onto ``path``
    on success, removed otherwise."""
    target = Path(path)
    part = target.with_name(f".{target.stem}.zv-part-{os.getpid()}{target.suffix}")
    try:
        yield part
        os.replace(part, target)
    finally:
        if part.is_dir() and not part.is_symlink():
            shutil.rmtree(part, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
