"""SWC neuron morphologies through MorphIO.

Why MorphIO: it is the maintained reader/writer of the Blue Brain / Open Brain
Institute projects for SWC (and ASC, H5), written in C++ with numpy arrays
out, and checks a file's structure (single-point or contour soma, sections,
types) as it reads; navis also reads SWC but brings a plotting stack along.
MorphIO gives sections (unbranched runs, the first point of a child section
repeating its parent's last); they are turned back into one node per point
with its parent, radius (half the diameter) and SWC type, which is what a
skeleton store holds (``write_graph(kind="skeleton")``: edges ``(child,
parent)``, vertex attributes ``radius`` and ``type``). On the way out the tree
is cut into sections again; a type is per section in MorphIO, so a node whose
type differs from its section's first node is noted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors._extras import require
from zarr_vectors.exceptions import ValidationError
from zarr_vectors.io.common import one_line, unreadable
from zarr_vectors.io.landing import landing

__all__ = ["SwcFile", "read_swc", "write_swc"]

_SWC_HINT = (
    "each line must be 'id type x y z radius parent' (numbers; parent -1 for the root or the id "
    "of another node of the file)"
)


@dataclass
class SwcFile:
    """One neuron: node positions, ``(child, parent)`` edges, radius and SWC type per node."""

    positions: npt.NDArray[np.float32]
    edges: npt.NDArray[np.int64]
    radius: npt.NDArray[np.float32]
    type: npt.NDArray[np.int32]
    #: MorphIO's warnings about the file (no soma, a disconnected neurite), one a line.
    notes: list[str] = field(default_factory=list)


def read_swc(path: str | Path) -> SwcFile:
    """The nodes of an SWC file (soma first), each with its parent, radius and type."""
    morphio = require("morphio", feature="SWC files", extra="io")
    # collected rather than printed by MorphIO on stderr, in colour, over several lines
    warnings = morphio.WarningHandlerCollector()
    with unreadable(path, "SWC", _SWC_HINT):
        m = morphio.Morphology(str(path), warning_handler=warnings)
    notes = [
        one_line(e.warning.msg(), path).replace("Warning: ", "", 1) for e in warnings.get_all()
    ]
    pos: list[Any] = []
    rad: list[Any] = []
    typ: list[Any] = []
    edges: list[tuple[int, int]] = []
    soma = np.asarray(m.soma.points, dtype=np.float32).reshape(-1, 3)
    for i, p in enumerate(soma):
        pos.append(p)
        rad.append(float(m.soma.diameters[i]) / 2)
        typ.append(1)
        if i:
            edges.append((i, i - 1))
    last: dict[int, int] = {}
    for sec in m.iter():
        pts = np.asarray(sec.points, dtype=np.float32)
        dia = np.asarray(sec.diameters, dtype=np.float32)
        parent = (len(soma) - 1 if len(soma) else -1) if sec.is_root else last[sec.parent.id]
        start = 0 if sec.is_root else 1  # a child section repeats its parent's last point
        for p, d in zip(pts[start:], dia[start:], strict=True):
            node = len(pos)
            pos.append(p)
            rad.append(float(d) / 2)
            typ.append(int(sec.type))
            if parent >= 0:
                edges.append((node, parent))
            parent = node
        last[sec.id] = parent
    return SwcFile(
        np.asarray(pos, np.float32).reshape(-1, 3),
        np.asarray(edges, np.int64).reshape(-1, 2),
        np.asarray(rad, np.float32),
        np.asarray(typ, np.int32),
        notes,
    )


def write_swc(
    path: str | Path,
    positions: npt.NDArray[Any],
    edges: npt.NDArray[np.int64],
    *,
    radius: npt.NDArray[Any] | None = None,
    types: npt.NDArray[Any] | None = None,
) -> list[str]:
    """Write one tree (edges ``(child, parent)``, root first) as SWC; returns notes."""
    morphio = require("morphio", feature="SWC files", extra="io")
    import importlib

    mut = importlib.import_module("morphio.mut")
    PointLevel, SectionType, SomaType = morphio.PointLevel, morphio.SectionType, morphio.SomaType
    Morphology = mut.Morphology

    n = len(positions)
    notes: list[str] = []
    rad = np.ones(n, np.float32) if radius is None else np.asarray(radius, np.float32)
    if radius is None:
        notes.append("the store has no 'radius': written as 1")
    typ = np.full(n, 3, np.int32) if types is None else np.asarray(types, np.int32)
    parent = np.full(n, -1, np.int64)
    parent[edges[:, 0]] = edges[:, 1]
    roots = np.flatnonzero(parent < 0)
    if len(roots) != 1:
        raise ValidationError(f"an SWC file holds one tree; these vertices hold {len(roots)}")
    kids: list[list[int]] = [[] for _ in range(n)]
    for c in np.argsort(parent, kind="stable")[len(roots) :].tolist():
        kids[int(parent[c])].append(c)
    root = int(roots[0])
    m = Morphology()
    m.soma.points = [positions[root].tolist()]
    m.soma.diameters = [float(2 * rad[root])]
    m.soma.type = SomaType.SOMA_SINGLE_POINT
    mixed = 0
    stack: list[tuple[Any, int, int]] = [(None, root, c) for c in reversed(kids[root])]
    while stack:
        owner, start, node = stack.pop()
        run = [node]
        while len(kids[run[-1]]) == 1:
            run.append(kids[run[-1]][0])
        idx = run if owner is None else [start, *run]
        mixed += int((typ[run] != typ[run[0]]).sum())
        level = PointLevel(positions[idx].tolist(), (2 * rad[idx]).tolist())
        kind = SectionType(int(typ[run[0]])) if 1 <= int(typ[run[0]]) <= 4 else SectionType.custom5
        sec = (
            m.append_root_section(level, kind)
            if owner is None
            else owner.append_section(level, kind)
        )
        stack.extend((sec, run[-1], c) for c in reversed(kids[run[-1]]))
    if mixed:
        notes.append(f"{mixed} node(s) whose SWC type differs from their section's took its type")
    with landing(path) as part:
        m.write(str(part))
    return notes
