"""Curves and the published zarr-vectors 0.9.2, both ways: its stores read here, ours read there."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.upstream_env import run_published
from zarr_vectors.types.graphs import read_graph, write_graph
from zarr_vectors.types.lines import read_lines, write_lines
from zarr_vectors.types.polylines import read_polylines, write_polylines

FIXTURES = (
    Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "upstream-0.9.2-geometry"
)
if not FIXTURES.exists():  # the shared folder beside the repository
    FIXTURES = Path("/work/shared/fixtures/upstream-0.9.2-geometry")
CS = (250.0, 250.0, 250.0)
B = ([0.0, 0.0, 0.0], [1000.0, 1000.0, 1000.0])


def truth(name: str) -> dict[str, np.ndarray]:
    return dict(np.load(FIXTURES / f"{name}.npz"))


def streamlines() -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, dict[int, list[int]]]:
    t = truth("streamlines")
    off = t["offsets"]
    lines = [t["vertices"][off[i] : off[i + 1]] for i in range(len(off) - 1)]
    fa = [t["fa"][off[i] : off[i + 1]] for i in range(len(off) - 1)]
    groups = {g: np.flatnonzero(t["group_of"] == g).tolist() for g in range(3)}
    return lines, fa, t["length"], groups


def edge_set(pos: np.ndarray, edges: np.ndarray, directed: bool) -> set:
    out = set()
    for a, b in edges:
        pair = (tuple(pos[a].tolist()), tuple(pos[b].tolist()))
        out.add(pair if directed else frozenset(pair))
    return out


def test_every_fixture_store_is_read_exactly() -> None:
    t = truth("lines")
    got = read_lines(FIXTURES / "lines.zarrvectors")
    np.testing.assert_array_equal(got.endpoints, t["endpoints"])
    np.testing.assert_array_equal(got.vertex_attributes["weight"], t["weight"])
    np.testing.assert_array_equal(got.object_attributes["line_id"], t["line_id"])
    lines, fa, length, groups = streamlines()
    got_p = read_polylines(FIXTURES / "streamlines.zarrvectors")
    for a, b, x, y in zip(got_p.polylines, lines, got_p.vertex_attributes["fa"], fa, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(got_p.object_attributes["length"], length)
    assert (
        read_polylines(FIXTURES / "streamlines.zarrvectors", group_ids=[2]).object_ids.tolist()
        == groups[2]
    )
    t = truth("skeletons")
    got_g = read_graph(FIXTURES / "skeletons.zarrvectors")
    assert got_g.kind == "skeleton"
    assert edge_set(got_g.positions, got_g.edges, True) == edge_set(
        t["positions"], t["edges"], True
    )
    have = sorted(
        zip(
            map(tuple, got_g.positions.tolist()),
            got_g.object_ids.tolist(),
            got_g.vertex_attributes["radius"].tolist(),
            strict=False,
        )
    )
    want = sorted(
        zip(
            map(tuple, t["positions"].tolist()),
            t["object_ids"].tolist(),
            t["radius"].tolist(),
            strict=False,
        )
    )
    assert have == want
    t = truth("graph")
    got_g = read_graph(FIXTURES / "graph.zarrvectors")
    want_w = {
        frozenset((tuple(t["positions"][a].tolist()), tuple(t["positions"][b].tolist()))): w
        for (a, b), w in zip(t["edges"], t["length"].tolist(), strict=True)
    }
    have_w = {
        frozenset((tuple(got_g.positions[a].tolist()), tuple(got_g.positions[b].tolist()))): w
        for (a, b), w in zip(got_g.edges, got_g.link_attributes["length"].tolist(), strict=True)
    }
    assert have_w == want_w


READ_OURS = r"""
import json, sys
import numpy as np
from zarr_vectors.types.lines import read_lines
from zarr_vectors.types.polylines import read_polylines
from zarr_vectors.types.graphs import read_graph
root = sys.argv[1]
out = {}
r = read_lines(root + "/lines")
out["lines"] = [r["endpoints"].tolist(), r["vertex_attributes"]["weight"].tolist()]
for name in ("streamlines", "streamlines_sharded"):
    r = read_polylines(root + "/" + name)
    out[name] = [[np.concatenate(p).tolist() for p in r["polylines"]], list(map(int, r["object_ids"])),
                 r["vertex_attributes"]["fa"].tolist(),
                 list(map(int, read_polylines(root + "/" + name, group_ids=[1])["object_ids"]))]
for name in ("skeletons", "graph"):
    r = read_graph(root + "/" + name)
    out[name] = [r["positions"].tolist(), r["edges"].tolist()]
print(json.dumps(out))
"""


@pytest.mark.slow
def test_the_published_package_reads_our_stores_exactly(tmp_path: Path) -> None:
    t = truth("lines")
    write_lines(
        tmp_path / "lines",
        t["endpoints"],
        chunk_shape=CS,
        bounds=B,
        vertex_attributes={"weight": t["weight"]},
        object_attributes={"line_id": t["line_id"]},
    )
    lines, fa, length, groups = streamlines()
    for name, shards in (("streamlines", None), ("streamlines_sharded", 2)):
        write_polylines(
            tmp_path / name,
            lines,
            chunk_shape=CS,
            bounds=B,
            vertex_attributes={"fa": fa},
            object_attributes={"length": length},
            groups=groups,
            shard_shape=shards,
        )
    sk = truth("skeletons")
    write_graph(
        tmp_path / "skeletons",
        sk["positions"],
        sk["edges"],
        kind="skeleton",
        chunk_shape=CS,
        bounds=B,
        vertex_attributes={"radius": sk["radius"]},
        object_ids=sk["object_ids"],
    )
    g = truth("graph")
    write_graph(
        tmp_path / "graph",
        g["positions"],
        g["edges"],
        chunk_shape=CS,
        bounds=B,
        link_attributes={"length": g["length"]},
    )
    out = json.loads(run_published(READ_OURS, str(tmp_path)).stdout)
    np.testing.assert_array_equal(np.array(out["lines"][0], np.float32), t["endpoints"])
    np.testing.assert_array_equal(np.array(out["lines"][1], np.float32), t["weight"].reshape(-1))
    for name in ("streamlines", "streamlines_sharded"):
        polys, ids, fa_flat, g1 = out[name]
        assert ids == list(range(len(lines))) and g1 == groups[1]
        for p, want in zip(polys, lines, strict=True):
            np.testing.assert_array_equal(np.array(p, np.float32), want)
        np.testing.assert_array_equal(np.array(fa_flat, np.float32), np.concatenate(fa))
    pos, edges = (np.array(v) for v in out["skeletons"])
    assert edge_set(pos.astype(np.float32), edges, True) == edge_set(
        sk["positions"], sk["edges"], True
    )
    pos, edges = (np.array(v) for v in out["graph"])
    assert edge_set(pos.astype(np.float32), edges, False) == edge_set(
        g["positions"], g["edges"], False
    )


WRITE_SHARDED = r"""
import sys, numpy as np
from zarr_vectors.types.polylines import write_polylines
from zarr_vectors.types.graphs import write_graph
d = np.load(sys.argv[2]); off = d["offsets"]
lines = [d["vertices"][off[i]:off[i+1]] for i in range(len(off) - 1)]
B = ([0.0] * 3, [1000.0] * 3)
write_polylines(sys.argv[1] + "/pl", lines, chunk_shape=(250.0,) * 3, bounds=B, shard_shape=2,
                vertex_attributes={"fa": [d["fa"][off[i]:off[i+1]] for i in range(len(off) - 1)]})
s = np.load(sys.argv[3])
write_graph(sys.argv[1] + "/sk", s["positions"], s["edges"], kind="skeleton", chunk_shape=(250.0,) * 3,
            bounds=B, object_ids=s["object_ids"], shard_shape=3)
"""


@pytest.mark.slow
def test_sharded_stores_of_the_published_package_are_read_and_appended_to(tmp_path: Path) -> None:
    run_published(
        WRITE_SHARDED,
        str(tmp_path),
        str(FIXTURES / "streamlines.npz"),
        str(FIXTURES / "skeletons.npz"),
    )
    lines, fa, _, _ = streamlines()
    got = read_polylines(tmp_path / "pl")
    for a, b in zip(got.polylines, lines, strict=True):
        np.testing.assert_array_equal(a, b)
    sk = truth("skeletons")
    got_g = read_graph(tmp_path / "sk")
    assert edge_set(got_g.positions, got_g.edges, True) == edge_set(
        sk["positions"], sk["edges"], True
    )
    # appended to by this package: still sharded, the old objects kept, 0.9.2 still reads it
    # (0.9.2 reads a whole store as ids 0..num_objects-1, so the new ids follow on)
    extra = [lines[0] + 1.0, lines[1] + 1.0]
    n = len(lines)
    write_polylines(
        tmp_path / "pl", extra, object_ids=[n, n + 1], mode="a", vertex_attributes={"fa": fa[:2]}
    )
    got = read_polylines(tmp_path / "pl")
    assert got.object_ids.tolist() == list(range(n + 2))
    np.testing.assert_array_equal(got.polylines[-1], extra[1])
    doc = json.loads((tmp_path / "pl" / "0" / "vertices" / "zarr.json").read_text())
    assert doc["codecs"][0]["name"] == "sharding_indexed"
    out = run_published(
        "import sys; from zarr_vectors.types.polylines import read_polylines as r; "
        "x = r(sys.argv[1]); print(len(x['polylines']), sum(len(s) for p in x['polylines'] for s in p))",
        str(tmp_path / "pl"),
    ).stdout.split()
    assert out == [str(len(lines) + 2), str(sum(map(len, lines)) + len(extra[0]) + len(extra[1]))]
    shutil.rmtree(tmp_path / "sk")
