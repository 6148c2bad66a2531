"""Dask writes and reads of a large cloud with 1, 2 and 4 worker processes, in one run.

Issue 11 ("Many machines: Dask"): "Benchmark: 1, 2 and 4 worker processes on
30,000,000 points, same run; report the scaling honestly on this 2-core
machine and explain it."

Steps, all files under one fresh directory (``--dir``):

1. **Data**: ``--points`` float32 3-D points uniform in 0..1000 (seeded),
   generated in batches into a ``.npy`` file, with order-independent checksums
   (``bench_large.generate``).
2. **Single process** (the reference): ``write_points(store, np.load(npy))``,
   the whole cloud in one process's memory, timed; then the Dask-array input
   streamed through this process (``scheduler="driver"``), timed.
3. **Dask**, for each worker count in ``--workers``: a fresh
   ``distributed.LocalCluster(n_workers=k, threads_per_worker=1,
   processes=True)``, once per Dask shuffle method in ``--shuffle`` (``p2p``, the
   default on a cluster, and ``tasks``); the input is a Dask array whose blocks (``--block``
   points each) the workers read from the ``.npy`` file themselves, so no point
   passes through this process. Timed: the write (bin, shuffle, put, commit;
   ``bounds=`` given, so no extent pass), then ``read_points(...,
   as_dask=True)`` counted by the workers (``map_partitions(len)``) and a box
   read through Dask. Every store is read back in this process and checked:
   count and checksum of all points, and of the box.

With ``--s3`` the Dask writes go to a SeaweedFS cluster (master, two volume
servers, filer with the S3 gateway; started by ``tests/helpers/servers/procs.py`` and
killed by pid at the end) instead of the local disk.

Example::

    uv run python bench/bench_dask.py --points 30000000 --workers 1,2,4
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_large import _bit_sum, generate

BOUNDS = ((0.0, 0.0, 0.0), (1000.0, 1000.0, 1000.0))
BOX = ((250.0, 250.0, 250.0), (650.0, 650.0, 650.0))
NUMPY = "one process, numpy in memory"
DRIVER = "one process, Dask array via driver"


def load_rows(path: str, lo: int, hi: int) -> np.ndarray:
    """Rows ``lo:hi`` of the ``.npy`` file (a task: run by a worker, read from its disk)."""
    return np.array(np.load(path, mmap_mode="r")[lo:hi])


def dask_input(path: Path, n: int, block: int) -> Any:
    import dask
    import dask.array as da

    blocks = [
        da.from_delayed(
            dask.delayed(load_rows, pure=True)(str(path), lo, min(n, lo + block)),
            shape=(min(n, lo + block) - lo, 3),
            dtype=np.float32,
        )
        for lo in range(0, n, block)
    ]
    return da.concatenate(blocks, axis=0)


def _warm_worker() -> None:
    import importlib

    for name in ("pandas", "pyarrow", "dask.dataframe", "distributed.shuffle", "zarr_vectors.dask"):
        importlib.import_module(name)


def check(store: str, expect: dict[str, Any], options: dict[str, Any]) -> None:
    from zarr_vectors import read_points

    got = read_points(store, **options)
    assert got.vertex_count == expect["count"], (got.vertex_count, expect["count"])
    assert [int(v) for v in _bit_sum(got.positions)] == expect["checksum"], "checksum"
    box = read_points(store, bbox=BOX, **options)
    assert box.vertex_count == expect["box_count"], "box count"
    assert [int(v) for v in _bit_sum(box.positions)] == expect["box_checksum"], "box checksum"


def run_dask(
    workers: int,
    shuffle: str,
    array: Any,
    store: str,
    chunk: float,
    expect: dict[str, Any],
    options: dict[str, Any],
) -> dict[str, Any]:
    import dask
    from distributed import Client, LocalCluster

    from zarr_vectors import read_points, write_points

    row: dict[str, Any] = {"case": f"dask {shuffle}, {workers} worker process(es)"}
    t0 = time.perf_counter()
    with (
        dask.config.set({"dataframe.shuffle.method": shuffle}),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            memory_limit=f"{max(2, 8 // workers)}GiB",
        ) as cluster,
        Client(cluster) as client,
    ):
        row["cluster start s"] = round(time.perf_counter() - t0, 1)
        # Warm-up, not timed: every worker imports what a write needs (zarr_vectors,
        # pandas, pyarrow for the shuffle, the storage client) and joins a small write
        # whose input has four partitions per worker, to a scratch store.
        t0 = time.perf_counter()
        client.run(_warm_worker)
        write_points(
            f"{store}-warmup",
            array[:200_000].rechunk((-(-200_000 // (4 * workers)), 3)),
            chunk_shape=(chunk,) * 3,
            bounds=BOUNDS,
            storage_options=options,
        )
        row["warm-up s"] = round(time.perf_counter() - t0, 1)
        row["load before"] = round(os.getloadavg()[0], 1)
        cpu0 = sum(client.run(time.process_time).values()) + time.process_time()
        t0 = time.perf_counter()
        write_points(store, array, chunk_shape=(chunk,) * 3, bounds=BOUNDS, storage_options=options)
        row["write s"] = round(time.perf_counter() - t0, 2)
        cpu1 = sum(client.run(time.process_time).values()) + time.process_time()
        row["cpu s"] = round(cpu1 - cpu0, 1)  # workers and this process (scheduler excluded)
        t0 = time.perf_counter()
        frame = read_points(store, as_dask=True, storage_options=options)
        counted = int(frame.map_partitions(len).compute().sum())
        row["dask full read s"] = round(time.perf_counter() - t0, 2)
        row["dask partitions"] = int(frame.npartitions)
        assert counted == expect["count"], (counted, expect["count"])
        t0 = time.perf_counter()
        boxed = read_points(store, as_dask=True, bbox=BOX, storage_options=options).compute()
        row["dask box read s"] = round(time.perf_counter() - t0, 2)
        assert len(boxed) == expect["box_count"]
        del client
    check(store, expect, {"storage_options": options})
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=30_000_000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--block", type=int, default=2_500_000, help="points per input block")
    parser.add_argument("--chunk", type=float, default=200.0)
    parser.add_argument(
        "--shuffle", default="p2p,tasks", help="Dask shuffle methods to run (p2p, tasks)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="runs of every case, interleaved")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--s3", action="store_true", help="write to a SeaweedFS cluster")
    parser.add_argument("--skip-single", action="store_true", help="no single-process reference")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from zarr_vectors import write_points

    base = Path(tempfile.mkdtemp(prefix="zv-bench-dask-", dir=args.dir))
    server = None
    rows: list[dict[str, Any]] = []
    try:
        t0 = time.perf_counter()
        npy = base / "points.npy"
        expect = generate(npy, args.points, 2_000_000, BOX, seed=11)
        print(f"generated {args.points:,} points in {time.perf_counter() - t0:.1f} s", flush=True)
        array = dask_input(npy, args.points, args.block)
        options: dict[str, Any] = {}
        prefix = str(base)
        if args.s3:
            from tests.helpers.servers import procs

            server = procs.start_seaweedfs_cluster(base / "s3")
            bucket = server.create_bucket()
            prefix = f"s3://{bucket}"
            options = {
                "endpoint": server.endpoint,
                "access_key_id": server.access_key,
                "secret_access_key": server.secret_key,
                "region": server.region,
            }
        if not args.skip_single:
            t0 = time.perf_counter()
            write_points(
                f"{prefix}/driver.zarr",
                array,
                chunk_shape=(args.chunk,) * 3,
                bounds=BOUNDS,
                scheduler="driver",
                storage_options=options,
            )
            rows.append({"case": DRIVER, "write s": round(time.perf_counter() - t0, 2)})
            check(f"{prefix}/driver.zarr", expect, {"storage_options": options})
            if not args.s3:
                shutil.rmtree(base / "driver.zarr")
            print(rows[-1], flush=True)
        cases = [(m, int(k)) for m in args.shuffle.split(",") for k in args.workers.split(",")]
        for round_ in range(args.rounds):
            if not args.skip_single:
                store = f"{prefix}/single-r{round_}.zarr"
                rows.append(single(npy, store, args.chunk, expect, options))
                print(rows[-1], flush=True)
            for method, k in cases:
                store = f"{prefix}/dask-{method}-{k}-r{round_}.zarr"
                row = run_dask(k, method, array, store, args.chunk, expect, options)
                print(row, flush=True)
                rows.append(row)
                if not args.s3:
                    shutil.rmtree(store, ignore_errors=True)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(base, ignore_errors=True)
    summary(rows, args)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


def single(
    npy: Path, store: str, chunk: float, expect: dict[str, Any], options: dict[str, Any]
) -> dict[str, Any]:
    """The reference: the whole cloud in this process's memory, one ``write_points``."""
    from zarr_vectors import write_points

    points = np.load(npy)
    load = round(os.getloadavg()[0], 1)
    cpu0, t0 = time.process_time(), time.perf_counter()
    write_points(store, points, chunk_shape=(chunk,) * 3, bounds=BOUNDS, storage_options=options)
    row = {
        "case": NUMPY,
        "write s": round(time.perf_counter() - t0, 2),
        "cpu s": round(time.process_time() - cpu0, 1),
        "load before": load,
    }
    del points
    check(store, expect, {"storage_options": options})
    if not options:
        shutil.rmtree(store)
    return row


def summary(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """Per case: the median write time over the rounds, every sample, and the ratios."""
    import statistics

    mb = args.points * 12 / 1e6
    print()
    print(
        f"{args.points:,} float32 3-D points ({mb:,.0f} MB), chunk {args.chunk:g}, blocks of "
        f"{args.block:,}, store on {'SeaweedFS (S3)' if args.s3 else 'local disk'}; "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {args.rounds} round(s), "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )
    cases: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        cases.setdefault(r["case"], []).append(r)
    median = {c: statistics.median(r["write s"] for r in rs) for c, rs in cases.items()}
    print(
        f"{'case':38} {'write s':>8} {'MB/s':>6} {'vs 1 worker':>11} {'vs numpy':>8} "
        f"{'CPU s':>6}  samples (s) [load average before]"
    )
    for case, rs in cases.items():
        w = median[case]
        one = median.get(case.split(",")[0] + ", 1 worker process(es)")
        vs1 = f"{one / w:.2f}x" if one and case.startswith("dask") else "-"
        vsn = f"{median[NUMPY] / w:.2f}x" if NUMPY in median else "-"
        cpu = [r["cpu s"] for r in rs if "cpu s" in r]
        cpu_text = f"{statistics.median(cpu):6.1f}" if cpu else f"{'-':>6}"
        samples = ", ".join(f"{r['write s']:.1f} [{r.get('load before', '-')}]" for r in rs)
        print(f"{case:38} {w:8.2f} {mb / w:6.1f} {vs1:>11} {vsn:>8} {cpu_text}  {samples}")
    print()
    for case, rs in cases.items():
        for r in rs:
            if "dask full read s" in r:
                print(
                    f"{case}: cluster start {r['cluster start s']} s, warm-up write of 200,000 "
                    f"points {r['warm-up s']} s, Dask full read (count) {r['dask full read s']} "
                    f"s in {r['dask partitions']} partitions, Dask box read "
                    f"{r['dask box read s']} s"
                )


if __name__ == "__main__":
    main()
