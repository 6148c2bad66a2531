"""This project against an earlier commit of itself: local write, full read, box read, append.

The safety and data-path issues promise that their checks cost at most 10 % over
the code before them. This measures exactly that, in one run on one machine: the
earlier commit is checked out into a temporary git worktree, and workers of the
two trees run in alternating processes (``PYTHONPATH`` points each at its own
``zarr_vectors``; both use this workspace's libraries), on the same
``.npy`` of random float32 points in the cube 0..1000 (chunk shape 200, 125
cells, an ``id`` attribute per point). Each worker times 3 writes, 7 full reads
and 7 box reads (250..650 on every axis: 27 cells) of one store, and 5 appends
of 10,000 points to another, and reports its best time per operation; the table
shows the median over workers of both trees and their ratio (after / before), the
median of each round's own ratio (its two workers run back to back), and the ratio
of the two trees' best workers.

``--s3`` runs the same against a SeaweedFS S3 server on 127.0.0.1 through the
obstore plugin of each tree (started from ``tests/helpers/servers/procs.py``, stopped by
pid at the end); the options reach the workers in the environment.

    uv run python bench/bench_before_after.py [--before 5469d4e] [--points 1000000]
        [--rounds 5] [--s3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = "packages/zarr-vectors-core/src"
PLUGIN = "packages/zarr-vectors-obstore/src"
OPS = ("write", "read", "bbox", "append")

WORKER = r"""
import json, os, shutil, sys, tempfile, time
import numpy as np
from zarr_vectors.types.points import read_points, write_points

pts = np.load(sys.argv[1])
remote = os.environ.get("ZV_BENCH_URL")
options = json.loads(os.environ.get("ZV_BENCH_OPTIONS", "{}"))
ids = np.arange(len(pts))
kw = dict(chunk_shape=(200, 200, 200), bounds=((0, 0, 0), (1000, 1000, 1000)))
box = ((250.0,) * 3, (650.0,) * 3)
inside = int(np.all((pts >= 250) & (pts <= 650), axis=1).sum())
kw.update(options)
d = tempfile.mkdtemp(prefix="zv-ab-")
base = f"{remote}/{os.getpid()}" if remote else d
try:
    write_points(base + "/warm.zarr", pts[:1000], **kw)
    read_points(base + "/warm.zarr", **options)
    out = {op: [] for op in ("write", "read", "bbox", "append")}
    for i in range(3):
        t = time.perf_counter()
        write_points(base + f"/s{i}.zarr", pts, vertex_attributes={"id": ids}, **kw)
        out["write"].append(time.perf_counter() - t)
    for _ in range(7):
        t = time.perf_counter()
        got = read_points(base + "/s0.zarr", **options)
        out["read"].append(time.perf_counter() - t)
        assert got.vertex_count == len(pts)
        t = time.perf_counter()
        got = read_points(base + "/s0.zarr", bbox=box, **options)
        out["bbox"].append(time.perf_counter() - t)
        assert got.vertex_count == inside
    for _ in range(5):
        t = time.perf_counter()
        more = {"id": ids[:10000]}
        write_points(base + "/s1.zarr", pts[:10000], vertex_attributes=more, mode="a", **options)
        out["append"].append(time.perf_counter() - t)
finally:
    shutil.rmtree(d, ignore_errors=True)
print(json.dumps({op: min(times) for op, times in out.items()}))
"""


def worktree(ref: str, where: Path) -> Path:
    """A checkout of ``ref`` (removed by the caller with ``git worktree remove``)."""
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(where), ref],
        check=True,
        capture_output=True,
    )
    _shim_entry_points(where)
    return where


def _shim_entry_points(tree: Path) -> None:
    """Let a tree from before the layers move load the installed entry points.

    The installed distribution names the local backend's description at its
    current path (``zarr_vectors.storage.local_info``); an older tree has it at
    ``zarr_vectors.core.backends.local_info``, so its registry found no backend.
    The temporary checkout gets a module at the new path that re-exports the old one.
    """
    package = tree / SRC / "zarr_vectors"
    if (package / "storage").exists() or not (package / "core/backends/local_info.py").exists():
        return
    (package / "storage").mkdir()
    (package / "storage/__init__.py").write_text("")
    (package / "storage/local_info.py").write_text(
        "from zarr_vectors.core.backends.local_info import LOCAL  # noqa: F401\n"
    )


#: glibc's allocator, fixed for both sides. Its default threshold for giving large
#: blocks their own pages slides up when such a block is freed, so a worker's reads
#: depended on how much memory its own writes had freed: after writing, 132f820's
#: reads took 75-126 page faults each and today's 4,038 (today's write frees less),
#: while in processes that only read the counts were 6,039 and 2,527. With fixed
#: thresholds both sides reuse their memory and the table compares the code.
MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(256 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}


def run_worker(src: list[Path], npy: Path, remote: dict[str, str]) -> dict[str, float]:
    env = {**os.environ, **MALLOC, **remote, "PYTHONPATH": os.pathsep.join(map(str, src))}
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(npy)], env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"worker for {src} failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="5469d4e", help="git ref of the earlier code")
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--s3", action="store_true", help="on a SeaweedFS S3 server")
    args = parser.parse_args()

    import numpy as np

    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="zv-before-after-") as tmp:
        npy = Path(tmp) / "points.npy"
        rng = np.random.default_rng(0)
        np.save(npy, rng.uniform(0, 1000, (args.points, 3)).astype(np.float32))
        tree = worktree(args.before, Path(tmp) / "before")
        server = None
        remote: dict[str, str] = {}
        try:
            if args.s3:
                sys.path.insert(0, str(REPO))
                from tests.helpers.servers import procs

                server = procs.start_seaweedfs(Path(tmp) / "weed")
                remote = {
                    "ZV_BENCH_URL": f"s3://{server.create_bucket()}/ab",
                    "ZV_BENCH_OPTIONS": json.dumps(server.backend_options("obstore")),
                }
            sides = {
                side: [root / SRC, root / PLUGIN] if args.s3 else [root / SRC]
                for side, root in (("before", tree), ("after", REPO))
            }
            results: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
            for r in range(args.rounds):
                order = list(sides) if r % 2 == 0 else list(reversed(sides))
                for side in order:
                    results[side].append(run_worker(sides[side], npy, remote))
        finally:
            if server is not None:
                server.stop()
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                capture_output=True,
            )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{'S3 (SeaweedFS, obstore)' if args.s3 else 'local'}: "
        f"{args.points:,} points, before {args.before}, after {head} (working tree), "
        f"{args.rounds} rounds; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, load {load:.1f}"
    )
    print("| operation | before ms | after ms | after / before | paired ratio | best / best |")
    print("| --- | --- | --- | --- | --- | --- |")
    for op in OPS:
        befores = [x[op] for x in results["before"]]
        afters = [x[op] for x in results["after"]]
        before = statistics.median(befores) * 1000
        after = statistics.median(afters) * 1000
        # This machine has slow spells of seconds to minutes that slow a whole worker:
        # the two workers of a round run back to back and share a spell, so the median
        # of the rounds' own ratios cancels most of it; best / best shows the code's
        # cost when neither side was slowed.
        paired = statistics.median(a / b for a, b in zip(afters, befores, strict=True))
        best = min(afters) / min(befores)
        print(
            f"| {op} | {before:.1f} | {after:.1f} | {after / before:.2f} | {paired:.2f} "
            f"| {best:.2f} |"
        )


if __name__ == "__main__":
    main()
