"""Large point clouds on the local disk: write, full read, box read, peak memory, disk bandwidth.

The harness for issue 11's streaming work ("100,000,000 points written with
the process's peak resident memory under 1 GB, then read back exactly; record
time, peak memory and throughput against the disk's own write bandwidth
measured in the same run"). It runs today with the in-memory writer at small
sizes; the streaming writer will be measured with the same command.

Steps, in one run, all files under one fresh directory (``--dir``):

1. **Data**: ``--points`` float32 3-D points uniform in 0..1000 (seeded),
   generated ``--batch`` points at a time straight into a ``.npy`` memory map
   on disk, so generating 100M points (1.2 GB) needs ~``--batch`` x 12 bytes of
   memory. While generating, it keeps exact checksums for the verification
   (count and the per-axis sum of the float32 bit patterns, modulo 2**64,
   which does not depend on the order the points come back in) for all points
   and for those inside the box.
2. **Disk**: the sequential write bandwidth of the same file system: ``--disk-mb``
   MiB written in 16 MiB blocks, then ``os.fsync``; the time includes the sync
   (what ``dd ... conv=fdatasync`` measures). The file is deleted afterwards.
3. **write**: ``write_points(store, np.load(npy, mmap_mode="r"), chunk_shape=...,
   bounds=((0,)*3, (1000,)*3), **--write-kwargs)`` in a child process (the
   streaming writer); with ``--in-memory`` the child loads the ``.npy`` into
   memory first, untimed, and writes the array (the in-memory writer).
4. **full read**: ``read_points(store)`` in a child process; the count and the
   checksum must match (the store's metadata count is reported too).
5. **box read**: ``read_points(store, bbox=--box)`` in a child process; count
   and checksum of the points inside must match.

Each step runs in its own process so its peak memory is its own: ``peak RSS``
is the child's ``VmHWM`` (``/proc/self/status``, read by the child at its
end). Not ``resource.getrusage(RUSAGE_SELF).ru_maxrss``: on Linux that value
survives ``exec`` and so starts at the peak of the process that spawned the
child (this harness, whose peak includes the memory map it generated); it is
used only where ``/proc`` does not exist. ``peak anon`` is the largest
``RssAnon`` of ``/proc/<pid>/status`` seen while polling every 20 ms. The
difference matters for inputs read through a memory map: pages of the mapped
``.npy`` that the writer touched count in its RSS (file-backed, the kernel can
drop them) but not in ``RssAnon`` (memory the process allocated). A streaming
writer held to "peak RSS under 1 GB" must therefore read a memory map in
batches and release what it has read (``madvise(MADV_DONTNEED)``, or plain
reads instead of a map), or the map's pages alone reach 1.2 GB at 100M points.
Throughput is the bytes of the points a step moves (12 per point: all of
them, or those inside the box for the box read) over its wall time; ``vs
disk`` is that over the measured disk bandwidth.

Examples::

    uv run python bench/bench_large.py --points 2000000            # works today
    uv run python bench/bench_large.py --points 100000000 \\
        --write-kwargs '{"memory_limit": "1GB"}'                    # once streaming lands

Do not run the 100M default with the current in-memory writer: it holds
several copies of the cloud (about 7 GB at 100M points).
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
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

BOUNDS = ((0.0, 0.0, 0.0), (1000.0, 1000.0, 1000.0))
DEFAULT_BOX = ((250.0, 250.0, 250.0), (650.0, 650.0, 650.0))

# Runs in the child process: one operation, then its timings and peak RSS as JSON.
CHILD = r"""
import json, resource, sys, time
import numpy as np

job = json.loads(sys.argv[1])
out = {}
from zarr_vectors import open_zv, read_points, write_points  # imported before the clock starts

if job["op"] == "write":
    if job.get("in_memory"):
        pos = np.load(job["npy"])  # read into memory first; the clock starts after
    else:
        pos = np.load(job["npy"], mmap_mode="r")
    t0, c0 = time.perf_counter(), time.process_time()
    summary = write_points(
        job["store"], pos, chunk_shape=job["chunk"], bounds=job["bounds"], **job["kwargs"]
    )
    out["seconds"] = time.perf_counter() - t0
    out["cpu_seconds"] = time.process_time() - c0
    out["points_written"] = int(summary.points_written)
    out["cells_written"] = int(summary.cells_written)
else:
    box = job.get("box")
    t0, c0 = time.perf_counter(), time.process_time()
    res = read_points(job["store"], bbox=None if box is None else (box[0], box[1]))
    out["seconds"] = time.perf_counter() - t0  # the read only, not the checks below
    out["cpu_seconds"] = time.process_time() - c0
    pos = np.ascontiguousarray(res.positions, dtype=np.float32)
    out["count"] = int(len(pos))
    total = np.zeros(pos.shape[1], dtype=np.uint64)
    for s in range(0, len(pos), 1 << 20):  # in slices: the check adds ~1 MB to the peak
        total += pos[s : s + (1 << 20)].view(np.uint32).sum(axis=0, dtype=np.uint64)
    out["checksum"] = [int(v) for v in total]
    if box is None:
        with open_zv(job["store"]) as zv:
            out["metadata_count"] = int(zv.level(0).vertex_count)
try:  # this process's own peak (see the module docstring for why not ru_maxrss)
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")]
    out["peak_rss_bytes"] = int(hwm[0].split()[1]) * 1024
except (OSError, IndexError):
    out["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(out))
"""


def generate(
    path: Path, n: int, batch: int, box: tuple[tuple[float, ...], tuple[float, ...]], seed: int
) -> dict[str, Any]:
    """Write ``n`` random points to a ``.npy`` memmap in batches; return their checksums."""
    arr = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, 3))
    rng = np.random.default_rng(seed)
    lo, hi = np.asarray(box[0], np.float32), np.asarray(box[1], np.float32)
    total = np.zeros(3, dtype=np.uint64)
    in_box = np.zeros(3, dtype=np.uint64)
    n_box = 0
    for s in range(0, n, batch):
        e = min(n, s + batch)
        chunk = rng.random((e - s, 3), dtype=np.float32)
        chunk *= np.float32(1000.0)
        arr[s:e] = chunk
        total += _bit_sum(chunk)
        inside = np.all((chunk >= lo) & (chunk <= hi), axis=1)
        n_box += int(inside.sum())
        in_box += _bit_sum(chunk[inside])
    arr.flush()
    del arr
    return {
        "count": n,
        "checksum": [int(v) for v in total],
        "box_count": n_box,
        "box_checksum": [int(v) for v in in_box],
    }


def _bit_sum(points: npt.NDArray[np.float32]) -> npt.NDArray[np.uint64]:
    """Per-axis sum of the float32 bit patterns, modulo 2**64 (order independent, exact)."""
    if not len(points):
        return np.zeros(3, dtype=np.uint64)
    sums: npt.NDArray[np.uint64] = points.view(np.uint32).astype(np.uint64).sum(axis=0)
    return sums


def disk_bandwidth(directory: Path, megabytes: int) -> float:
    """Sequential write bandwidth (bytes/s) of ``directory``'s file system, fsync included."""
    block = os.urandom(16 << 20)  # incompressible, in case the file system compresses
    target = directory / "disk-bandwidth.bin"
    total = 0
    t0 = time.perf_counter()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while total < megabytes << 20:
            total += os.write(fd, block)
        os.fsync(fd)
    finally:
        os.close(fd)
    seconds = time.perf_counter() - t0
    target.unlink()
    return total / seconds


def _status_kb(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def run_child(job: dict[str, Any]) -> dict[str, Any]:
    """Run one operation in a child process; add the peak ``RssAnon`` seen by polling."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(job)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    peak_anon = 0
    stop = threading.Event()

    def poll() -> None:
        nonlocal peak_anon
        while not stop.is_set():
            kb = _status_kb(proc.pid, "RssAnon")
            if kb is not None:
                peak_anon = max(peak_anon, kb * 1024)
            stop.wait(0.02)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        out, err = proc.communicate()
    finally:
        stop.set()
        watcher.join()
    if proc.returncode != 0:
        raise SystemExit(f"{job['op']} failed:\n{err[-4000:]}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["peak_anon_bytes"] = peak_anon
    return result


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--points", type=int, default=100_000_000)
    ap.add_argument("--chunk", type=float, default=200.0, help="cell size on every axis")
    ap.add_argument("--batch", type=int, default=5_000_000, help="points generated at a time")
    ap.add_argument("--box", type=float, nargs=6, metavar=("X0", "Y0", "Z0", "X1", "Y1", "Z1"))
    ap.add_argument("--disk-mb", type=int, default=1024, help="MiB written to measure the disk")
    ap.add_argument(
        "--write-kwargs", default="{}", help="extra write_points arguments, as a JSON object"
    )
    ap.add_argument("--dir", type=Path, default=None, help="parent of the work directory")
    ap.add_argument("--keep", action="store_true", help="keep the .npy and the store")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-reads", action="store_true")
    ap.add_argument(
        "--in-memory",
        action="store_true",
        help="write from an array loaded into memory (not timed) instead of the memory map",
    )
    args = ap.parse_args()
    box = (
        (tuple(args.box[:3]), tuple(args.box[3:])) if args.box else (DEFAULT_BOX[0], DEFAULT_BOX[1])
    )
    write_kwargs = json.loads(args.write_kwargs)
    if not isinstance(write_kwargs, dict):
        raise SystemExit("--write-kwargs must be a JSON object")

    work = Path(tempfile.mkdtemp(prefix="zv-bench-large-", dir=args.dir))
    try:
        print(
            f"# {platform.platform()}, {os.cpu_count()} CPUs, numpy {np.__version__}, "
            f"work dir {work}, load average {os.getloadavg()[0]:.1f}"
        )
        npy = work / "points.npy"
        data_bytes = args.points * 12
        t0 = time.perf_counter()
        truth = generate(npy, args.points, args.batch, box, args.seed)
        print(
            f"# generated {args.points:,} points ({data_bytes / 1e6:,.0f} MB) in "
            f"{time.perf_counter() - t0:.1f} s; {truth['box_count']:,} inside the box {box}"
        )
        bandwidth = disk_bandwidth(work, args.disk_mb)
        print(f"# disk: {bandwidth / 1e6:,.0f} MB/s sequential write ({args.disk_mb} MiB + fsync)")

        store = str(work / "store.zarrvectors")
        base = {"store": store, "npy": str(npy), "chunk": [args.chunk] * 3, "bounds": BOUNDS}
        rows: list[tuple[str, dict[str, Any]]] = []
        res = run_child(
            {**base, "op": "write", "kwargs": write_kwargs, "in_memory": args.in_memory}
        )
        if res["points_written"] != args.points:
            raise SystemExit(f"write reported {res['points_written']} points, not {args.points}")
        rows.append(("write", res))
        if not args.skip_reads:
            res = run_child({**base, "op": "read"})
            if (res["count"], res["metadata_count"], res["checksum"]) != (
                args.points,
                args.points,
                truth["checksum"],
            ):
                raise SystemExit(f"full read does not match what was written: {res}")
            rows.append(("full read", res))
            res = run_child({**base, "op": "read", "box": [list(box[0]), list(box[1])]})
            if (res["count"], res["checksum"]) != (truth["box_count"], truth["box_checksum"]):
                raise SystemExit(f"box read does not match the points inside the box: {res}")
            rows.append(("box read", res))
        store_bytes = sum(f.stat().st_size for f in Path(store).rglob("*") if f.is_file())

        head = (
            f"{'step':<10} {'wall s':>8} {'cpu s':>8} {'peak RSS MB':>12} {'peak anon MB':>13} "
            f"{'MB/s':>8} {'vs disk':>8}"
        )
        print(head)
        print("-" * len(head))
        for name, r in rows:
            moved = data_bytes if name != "box read" else truth["box_count"] * 12
            mbps = moved / r["seconds"] / 1e6
            print(
                f"{name:<10} {r['seconds']:>8.2f} {r['cpu_seconds']:>8.2f} "
                f"{r['peak_rss_bytes'] / 1e6:>12,.0f} {r['peak_anon_bytes'] / 1e6:>13,.0f} "
                f"{mbps:>8,.1f} {mbps * 1e6 / bandwidth:>8.2f}"
            )
        print(
            f"# {args.points:,} points, chunk {args.chunk:g}, write kwargs {write_kwargs}"
            f"{' from memory' if args.in_memory else ' from the memory map'}; "
            f"store {store_bytes / 1e6:,.0f} MB in {rows[0][1]['cells_written']:,} cells; "
            "reads verified (count and checksum)" * (not args.skip_reads)
        )
    finally:
        if args.keep:
            print(f"# kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
