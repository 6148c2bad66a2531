"""What the tractogram formats (TRK, TCK, TRX) share: the streamlines of a file, in RAS+ mm.

:mod:`.trk` and :mod:`.tck` read and write their files through nibabel's
``nibabel.streamlines`` (the reference reader of both formats), :mod:`.trx`
through trx-python; this module holds the in-memory form all three return,
so the CLI and the store see one shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["TractFile", "per_point", "per_streamline"]


@dataclass
class TractFile:
    """Streamlines in RAS+ millimetres with the file's values and header.

    ``vertex_attributes[name]`` is a list of arrays, one per streamline;
    ``object_attributes[name]`` one row per streamline; ``header`` what the
    format records about the space (kept in the store's root attributes).
    """

    streamlines: list[npt.NDArray[np.float32]]
    vertex_attributes: dict[str, list[npt.NDArray[Any]]] = field(default_factory=dict)
    object_attributes: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    header: dict[str, Any] = field(default_factory=dict)
    #: What the file held that the store does not (e.g. TRX per-group data).
    notes: list[str] = field(default_factory=list)
    #: Named groups of streamlines (TRX): name -> indices into ``streamlines``.
    groups: dict[str, npt.NDArray[np.int64]] = field(default_factory=dict)


def per_point(data: Any) -> dict[str, list[npt.NDArray[Any]]]:
    """nibabel's ``data_per_point`` as lists of arrays, single columns flattened."""
    out: dict[str, list[npt.NDArray[Any]]] = {}
    for name, seq in data.items():
        out[name] = [
            np.asarray(a)[:, 0] if np.asarray(a).shape[1:] == (1,) else np.asarray(a) for a in seq
        ]
    return out


def per_streamline(data: Any) -> dict[str, npt.NDArray[Any]]:
    """nibabel's ``data_per_streamline``, single columns flattened."""
    out: dict[str, npt.NDArray[Any]] = {}
    for name, values in data.items():
        arr = np.asarray(values)
        out[name] = arr[:, 0] if arr.shape[1:] == (1,) else arr
    return out
