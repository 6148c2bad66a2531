"""Curves: write, full read and box read vs the published zarr-vectors 0.9.2.

Two data sets, made once with a fixed seed and saved as ``.npz`` so both sides
read the same arrays:

* ``streamlines``: 20,000 random-walk streamlines of 50 vertices each (1M
  vertices, float32) inside 0..1000, written with ``write_polylines(...,
  geometry_type="streamline")``;
* ``skeletons``: 1,000 random trees of 1,000 nodes (1M nodes), edges
  ``(child, parent)``, one object id per tree, written with
  ``write_graph(..., kind="skeleton")``.

Chunk shape 125 (8 cells per axis), bounds 0..1000, box 250..650 on every
axis. Each side runs in a process of its own with the same worker script
(this project with the workspace's Python, 0.9.2 in the venv that
``tests/upstream_env.py`` builds); each worker warms up on a tiny store, then
reports its best of ``--repeats`` for each operation, and checks the counts.
Targets (issue 21): write <= 0.3x, reads <= 0.5x of 0.9.2.

    uv run python bench/bench_curves.py [--repeats 3] [--only streamlines|skeletons]

``--streaming`` instead writes ``--streamlines`` (default 400,000, 20M vertices)
streamlines from a generator of batches of 20,000 and reports the time and the
worker's peak RSS (0.9.2 has no streaming write to compare with); with
``--append-stream`` a second worker then appends as many streamlines again from
batches (new ids) and reports its own time and peak RSS. ``--append``
appends 100 streamlines to the 20,000 twice in place and twice by the earlier
whole rewrite, with the time and the puts counted. ``--index-cost N`` appends
100 polylines to a store of N and counts the object index requests and bytes
read.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.helpers.upstream_env import VENV, venv_python  # noqa: E402

CS = 125.0
BOX = ((250.0, 250.0, 250.0), (650.0, 650.0, 650.0))

WORKER = r"""
import json, shutil, sys, time
import numpy as np

job = json.loads(sys.argv[1])
B = ([0.0] * 3, [1000.0] * 3)
CS = (job["cs"],) * 3
BOX = job["box"]
d = dict(np.load(job["data"]))  # each NpzFile lookup reads the array again
if job["kind"] == "streamlines":
    from zarr_vectors.types.polylines import read_polylines as read, write_polylines
    off = d["offsets"]
    lines = [d["vertices"][off[i]:off[i + 1]] for i in range(len(off) - 1)]
    def write(path, part=None):
        ls = lines if part is None else lines[:part]
        write_polylines(path, ls, chunk_shape=CS, bounds=B, geometry_type="streamline")
    def count(r):
        return len(r["polylines"])
else:
    from zarr_vectors.types.graphs import read_graph as read, write_graph
    def write(path, part=None):
        n = len(d["positions"]) if part is None else part
        e = d["edges"][d["edges"][:, 0] < n]
        write_graph(path, d["positions"][:n], e, chunk_shape=CS, bounds=B, kind="skeleton",
                    object_ids=d["object_ids"][:n])
    def count(r):
        return len(r["edges"])
out = {}
write(job["dir"] + "/warm", 2000)
read(job["dir"] + "/warm")
best = {"write": 1e9, "read": 1e9, "bbox": 1e9}
for i in range(job["repeats"]):
    path = job["dir"] + f"/s{i}"
    t = time.perf_counter(); write(path); best["write"] = min(best["write"], time.perf_counter() - t)
for i in range(job["repeats"]):
    t = time.perf_counter(); r = read(path); best["read"] = min(best["read"], time.perf_counter() - t)
    out["count"] = count(r)
    t = time.perf_counter(); r = read(path, bbox=BOX); best["bbox"] = min(best["bbox"], time.perf_counter() - t)
    out["bbox_count"] = count(r)
out.update(best)
print(json.dumps(out))
"""


def make_data(where: Path) -> dict[str, Path]:
    rng = np.random.default_rng(20261207)
    k, m = 20_000, 50
    start = rng.uniform(100, 900, (k, 1, 3))
    walk = np.clip(start + np.cumsum(rng.normal(0, 6, (k, m, 3)), axis=1), 0, 1000).astype(
        np.float32
    )
    np.savez(
        where / "streamlines.npz", vertices=walk.reshape(-1, 3), offsets=np.arange(0, k * m + 1, m)
    )
    trees, nodes = 1000, 1000
    parent = np.arange(nodes) - rng.integers(1, 6, nodes)  # a parent a few rows back
    parent = np.maximum(parent, 0)
    steps = rng.normal(0, 4, (trees, nodes, 3))
    pos = np.empty((trees, nodes, 3))
    pos[:, 0] = rng.uniform(150, 850, (trees, 3))
    for j in range(1, nodes):
        pos[:, j] = pos[:, parent[j]] + steps[:, j]
    base = (np.arange(trees) * nodes)[:, None]
    child = (base + np.arange(1, nodes)).reshape(-1)
    par = (base + parent[1:]).reshape(-1)
    np.savez(
        where / "skeletons.npz",
        positions=np.clip(pos.reshape(-1, 3), 0, 1000).astype(np.float32),
        edges=np.stack([child, par], axis=1),
        object_ids=np.repeat(np.arange(trees), nodes),
    )
    return {"streamlines": where / "streamlines.npz", "skeletons": where / "skeletons.npz"}


def run(python: Path, job: dict[str, Any], cwd: Path, script: str = WORKER) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    proc = subprocess.run(
        [str(python), "-c", script, json.dumps(job)],
        capture_output=True,
        text=True,
        cwd=str(cwd),
        env=env,
        timeout=3600,
    )
    if proc.returncode:
        raise SystemExit(
            f"worker exited {proc.returncode}: {proc.stderr[-3000:]}{proc.stdout[-500:]}"
        )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


STREAM_WORKER = r"""
import json, resource, shutil, sys, time
import numpy as np
from zarr_vectors.types.polylines import read_polylines, write_polylines

job = json.loads(sys.argv[1])
k, m, per = job["streamlines"], 50, 20_000
first = k if job["mode"] == "a" else 0  # an append: the next k ids, other walks

def batches():
    rng = np.random.default_rng(7 + first)
    for start in range(0, k, per):
        n = min(per, k - start)
        s = rng.uniform(100, 900, (n, 1, 3))
        walk = np.clip(s + np.cumsum(rng.normal(0, 6, (n, m, 3)), axis=1), 0, 1000)
        yield {"polylines": list(walk.astype(np.float32)),
               "object_ids": range(first + start, first + start + n)}

layout = {} if first else {"chunk_shape": (125.0,) * 3, "bounds": ([0.0] * 3, [1000.0] * 3)}
t = time.perf_counter()
summary = write_polylines(job["dir"] + "/s", batches(), mode=job["mode"],
                          memory_limit=job["memory_limit"], **layout)
took = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
r = read_polylines(job["dir"] + "/s", object_ids=[first, first + k - 1])
assert summary.vertex_count == k * m and len(r.polylines) == 2
print(json.dumps({"write": took, "peak_mb": peak, "vertices": summary.vertex_count}))
"""


def streaming(args: argparse.Namespace) -> None:
    """A streamed write of ``--streamlines`` x 50 vertices (ours only: 0.9.2 has none);
    with ``--append-stream`` then as many again appended from batches, in a process of
    its own (its own peak RSS)."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-curves-stream-"))
    try:
        print(
            f"machine: {platform.platform()}, {os.cpu_count()} cpus, python "
            f"{platform.python_version()}"
        )
        for mode in ("w", "a") if args.append_stream else ("w",):
            job = {
                "dir": str(tmp),
                "streamlines": args.streamlines,
                "memory_limit": args.memory_limit,
                "mode": mode,
            }
            env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
            proc = subprocess.run(
                [sys.executable, "-c", STREAM_WORKER, json.dumps(job)],
                capture_output=True,
                text=True,
                cwd=str(REPO),
                env=env,
                timeout=3600,
            )
            if proc.returncode:
                raise SystemExit(f"worker exited {proc.returncode}: {proc.stderr[-3000:]}")
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            what = "streamed write" if mode == "w" else "streamed append (onto the above)"
            print(
                f"{what} of {res['vertices']:,} vertices ({args.streamlines:,} streamlines, "
                f"memory_limit {args.memory_limit}): {res['write']:.1f} s, peak RSS "
                f"{res['peak_mb']:.0f} MB"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


APPEND_WORKER = r"""
import json, shutil, sys, tempfile, time
sys.path.insert(0, json.loads(sys.argv[1])["repo"])
import numpy as np
from tests.types.test_points_backends import CountingBackend
import zarr_vectors.types._objects as objects
from zarr_vectors.format.objgrow import CannotGrow
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.types.polylines import write_polylines

job = json.loads(sys.argv[1])
d = dict(np.load(job["data"]))
off = d["offsets"]
lines = [d["vertices"][off[i]:off[i + 1]] for i in range(len(off) - 1)]
rng = np.random.default_rng(3)
new = list(np.clip(500 + np.cumsum(rng.normal(0, 6, (100, 50, 3)), axis=1), 0, 1000).astype(np.float32))
in_place = objects.grow_level

def refuse(*args, **kwargs):
    raise CannotGrow("the earlier path: read every object, write the union")

out = {}
for name, grow in (("in place", in_place), ("rewrite", refuse)) * 2:
    where = tempfile.mkdtemp(dir=job["dir"])
    write_polylines(where + "/s", lines, chunk_shape=(job["cs"],) * 3, bounds=([0.0] * 3, [1000.0] * 3))
    objects.grow_level = grow
    backend = CountingBackend(LocalBackend(where + "/s"))
    t = time.perf_counter()
    write_polylines(backend, new, object_ids=range(len(lines), len(lines) + 100), mode="a")
    took = time.perf_counter() - t
    puts = sum(1 for op, _ in backend.requests if op == "put")
    gets = [k for op, k in backend.requests if op == "get"]
    index = sum(1 for k in gets if k.startswith(("0/object_index/", "0/object_attributes/")))
    out.setdefault(name, []).append([took, puts, len(gets), index])
    shutil.rmtree(where)
print(json.dumps(out))
"""


def appending(args: argparse.Namespace) -> None:
    """Append 100 streamlines to the 20,000: in place against the earlier whole rewrite."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-curves-append-"))
    try:
        data = make_data(tmp)
        job = {"dir": str(tmp), "data": str(data["streamlines"]), "cs": CS, "repo": str(REPO)}
        res = run(Path(sys.executable), job, REPO, script=APPEND_WORKER)
        for name, runs in res.items():
            times = ", ".join(f"{r[0]:.2f}" for r in runs)
            puts = ", ".join(f"{r[1]:,}" for r in runs)
            gets = ", ".join(f"{r[2]:,} ({r[3]} of the object index)" for r in runs)
            print(f"append 100 streamlines to 20,000, {name}: {times} s; {puts} puts; {gets} gets")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


INDEX_WORKER = r"""
import json, shutil, sys, tempfile, time
job = json.loads(sys.argv[1])
sys.path.insert(0, job["repo"])
import numpy as np
from tests.types.test_points_backends import CountingBackend
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.types.polylines import write_polylines

k = job["objects"]
rng = np.random.default_rng(0)
start = rng.uniform(50, 950, (k, 1, 3))
lines = list((start + rng.normal(0, 5, (k, 3, 3))).astype(np.float32))
where = tempfile.mkdtemp(dir=job["dir"])
write_polylines(where + "/s", lines, chunk_shape=(job["cs"],) * 3, bounds=([0.0] * 3, [1000.0] * 3),
                object_attributes={"w": np.arange(k, dtype=np.float64)})
INDEX = ("0/object_index/", "0/object_attributes/")

class Bytes(CountingBackend):
    index_bytes = 0

    def _get_many(self, keys):
        got = super()._get_many(keys)
        self.index_bytes += sum(len(v) for key, v in got.items() if key.startswith(INDEX))
        return got

backend = Bytes(LocalBackend(where + "/s"))
t = time.perf_counter()
write_polylines(backend, lines[:100], object_ids=range(k, k + 100), mode="a",
                object_attributes={"w": np.zeros(100)})
took = time.perf_counter() - t
gets = sum(1 for op, key in backend.requests if op == "get" and key.startswith(INDEX))
shutil.rmtree(where)
print(json.dumps({"append": took, "index_gets": gets, "index_bytes": backend.index_bytes}))
"""


def index_cost(args: argparse.Namespace) -> None:
    """Append 100 polylines (new, higher ids) to ``--index-cost`` objects: the object
    index read (requests and bytes through a counting backend) and the time."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-curves-index-"))
    try:
        job = {"dir": str(tmp), "objects": args.index_cost, "cs": CS, "repo": str(REPO)}
        res = run(Path(sys.executable), job, REPO, script=INDEX_WORKER)
        print(
            f"append 100 to {args.index_cost:,} objects: {res['append']:.2f} s; object index "
            f"read: {res['index_gets']} gets, {res['index_bytes']:,} bytes"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", choices=("streamlines", "skeletons"))
    ap.add_argument("--streaming", action="store_true", help="a streamed write, peak RSS")
    ap.add_argument("--streamlines", type=int, default=400_000, help="with --streaming")
    ap.add_argument("--memory-limit", default="512MB", help="with --streaming")
    ap.add_argument(
        "--append-stream",
        action="store_true",
        help="with --streaming: then append as many again from batches (its own peak RSS)",
    )
    ap.add_argument("--append", action="store_true", help="appends: in place vs rewrite")
    ap.add_argument("--index-cost", type=int, metavar="N", help="append 100 to N objects")
    args = ap.parse_args()
    if args.index_cost:
        index_cost(args)
        return
    if args.append:
        appending(args)
        return
    if args.streaming:
        streaming(args)
        return
    ours, published = Path(sys.executable), venv_python()
    tmp = Path(tempfile.mkdtemp(prefix="bench-curves-"))
    try:
        data = make_data(tmp)
        print(
            f"machine: {platform.platform()}, {os.cpu_count()} cpus, python {platform.python_version()}"
        )
        print(f"{'data':12} {'op':6} {'ours s':>9} {'0.9.2 s':>9} {'ratio':>7}  target")
        for kind, path in data.items():
            if args.only and kind != args.only:
                continue
            res = {}
            for side, py, cwd in (("0.9.2", published, VENV), ("ours", ours, REPO)):
                d = tmp / f"{kind}-{side}"
                d.mkdir()
                job = {
                    "kind": kind,
                    "data": str(path),
                    "dir": str(d),
                    "cs": CS,
                    "box": BOX,
                    "repeats": args.repeats,
                }
                res[side] = run(py, job, cwd)
                shutil.rmtree(d)
            for key in ("count", "bbox_count"):
                if res["ours"][key] != res["0.9.2"][key]:
                    print(
                        f"  note: {kind} {key}: ours {res['ours'][key]}, 0.9.2 {res['0.9.2'][key]}"
                    )
            for op, target in (("write", 0.3), ("read", 0.5), ("bbox", 0.5)):
                a, b = res["ours"][op], res["0.9.2"][op]
                print(f"{kind:12} {op:6} {a:9.3f} {b:9.3f} {a / b:7.2f}  <= {target}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
