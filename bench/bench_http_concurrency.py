"""How many requests in flight the obstore backend should keep, per kind of server.

HTTP: writes a point-cloud store to a temporary folder, serves it with
``python -m http.server`` (a subprocess on a free port on 127.0.0.1, stopped by
its pid at the end) and times ``read_points(url, bbox=BOX)`` through the
obstore backend at each ``max_concurrency`` of ``--values``. Python's server
accepts one connection per request with a listen backlog of 5; connections it
cannot queue are dropped and retried by TCP a second or more later, so too many
requests in flight make a simple server slow rather than fast.

S3 (``--s3``): the same question for an object store, with the harness of
``bench/bench_batch_io.py`` (its SeaweedFS setup, interleaved repeats and
report): ``get_many`` of ``--s3-objects`` objects at each of ``--s3-values``,
next to raw obstore with every request in flight at once.

Cases are interleaved (every value once per repeat, in a rotating order, after
one warm-up round) and the median is reported with its ratio to the best value;
the machine may be shared, so read ratios, not absolute times.

    uv run python bench/bench_http_concurrency.py [--points 200000] [--chunk 50] [--repeats 3]
    uv run python bench/bench_http_concurrency.py --s3 [--s3-objects 2000] [--s3-size 16384]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tests.helpers.servers.procs import free_port  # noqa: E402

BOX = ((0.0, 0.0, 0.0), (500.0, 500.0, 500.0))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--chunk", type=float, default=50.0, help="cell edge (cube 0..1000)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--values", default="1,4,8,16,32,64,128")
    parser.add_argument("--s3", action="store_true", help="also measure S3 (SeaweedFS)")
    parser.add_argument("--s3-only", action="store_true", help="measure S3 only")
    parser.add_argument("--s3-objects", type=int, default=2000)
    parser.add_argument("--s3-size", type=int, default=16 * 1024)
    parser.add_argument("--s3-values", default="8,32,128")
    return parser.parse_args()


def _values(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


@contextlib.contextmanager
def http_server(directory: Path) -> Iterator[str]:
    """``python -m http.server`` over ``directory``; yields its URL, kills it by pid after."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"python -m http.server exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(url + "/", timeout=2):
                    break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    raise SystemExit("python -m http.server did not start in 30 s") from None
                time.sleep(0.1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def interleaved(
    cases: dict[str, Callable[[], int]], repeats: int
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Every case once per round, rotating the order; round 0 only warms up.

    Returns the seconds of each timed run and, per case, how many of its runs
    failed (warm-up included). A failure, such as a request that timed out, is
    a result here and not the end of the run: its time until then is recorded.
    """
    names = list(cases)
    seconds: dict[str, list[float]] = {n: [] for n in names}
    failures: dict[str, int] = dict.fromkeys(names, 0)
    expected: int | None = None
    for round_index in range(repeats + 1):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            result: int | None = None
            try:
                result = cases[name]()
            except Exception as exc:
                failures[name] += 1
                print(f"  {name} failed: {str(exc)[:200]}", flush=True)
            elapsed = time.perf_counter() - started
            if result is not None:
                if expected is None:
                    expected = result
                elif result != expected:
                    raise SystemExit(f"{name} returned {result}, another case {expected}")
            if round_index:
                seconds[name].append(elapsed)
            print(f"  round {round_index} {name}: {elapsed:.2f} s", flush=True)
    return seconds, failures


def table(title: str, measured: tuple[dict[str, list[float]], dict[str, int]]) -> None:
    seconds, failures = measured
    medians = {n: statistics.median(v) for n, v in seconds.items()}
    best = min(medians.values())
    print(f"\n{title}")
    print(f"{'case':<24}{'median s':>10}{'min s':>9}{'max s':>9}{'x best':>9}{'failed':>8}")
    for name, median in medians.items():
        values = seconds[name]
        print(
            f"{name:<24}{median:>10.2f}{min(values):>9.2f}{max(values):>9.2f}"
            f"{median / best:>8.1f}x{failures[name]:>8}"
        )


def bench_http(args: argparse.Namespace) -> None:
    import numpy as np

    from zarr_vectors.storage.resolve import make_backend
    from zarr_vectors.types.points import read_points, write_points

    with tempfile.TemporaryDirectory(prefix="zv-bench-http-") as workdir:
        folder = Path(workdir)
        points = np.random.default_rng(0).uniform(0, 1000, (args.points, 3)).astype(np.float32)
        summary = write_points(
            folder / "cloud.zv",
            points,
            chunk_shape=(args.chunk,) * 3,
            bounds=((0.0, 0.0, 0.0), (1000.0, 1000.0, 1000.0)),
        )
        files = sum(1 for p in (folder / "cloud.zv").rglob("*") if p.is_file())
        inside = int(np.all((points >= BOX[0]) & (points <= BOX[1]), axis=1).sum())
        print(
            f"store: {args.points} points, {summary.cells_written} cells of {args.chunk:g}^3, "
            f"{files} files; box {BOX} holds {inside} points"
        )
        with http_server(folder) as base:
            url = f"{base}/cloud.zv"
            backends = {
                c: make_backend(url, backend="obstore", max_concurrency=c)
                for c in _values(args.values)
            }
            try:
                # One backend per value, reused across rounds: connection pools stay warm,
                # as they would for a program reading many boxes.
                cases = {
                    f"max_concurrency={c}": lambda b=b: len(read_points(b, bbox=BOX).positions)
                    for c, b in backends.items()
                }
                table(
                    f"read_points(bbox) over python -m http.server ({args.repeats} repeats)",
                    interleaved(cases, args.repeats),
                )
            finally:
                for backend in backends.values():
                    backend.close()


def bench_s3(args: argparse.Namespace) -> None:
    import bench_batch_io

    from zarr_vectors_obstore.backend import ObstoreBackend

    values = _values(args.s3_values)
    harness_args = argparse.Namespace(
        objects=args.s3_objects,
        size=args.s3_size,
        repeats=args.repeats,
        concurrency=max(values),
        only="",
    )
    with tempfile.TemporaryDirectory(prefix="zv-bench-s3-") as workdir:
        server = bench_batch_io.start_seaweedfs(Path(workdir))
        try:
            bucket = server.create_bucket()
            bench = bench_batch_io.Bench(server, bucket, harness_args)
            backends: list[ObstoreBackend] = []
            try:
                bench.fs_backend.put_many(dict.fromkeys(bench.keys, bench.payload))
                raw = "raw obstore get_async (gather)"
                cases: dict[str, bench_batch_io.Case] = {raw: bench.get_cases()[raw]}
                for c in values:
                    backend = ObstoreBackend(
                        f"s3://{bucket}",
                        endpoint=server.endpoint,
                        access_key_id=server.access_key,
                        secret_access_key=server.secret_key,
                        region=server.region,
                        max_concurrency=c,
                    )
                    backends.append(backend)
                    cases[f"get_many @ {c}"] = lambda b=backend: sum(
                        map(len, b.get_many(bench.keys).values())
                    )
                seconds = bench_batch_io.measure(bench, cases, args.repeats)
                bench_batch_io.report(
                    f"S3 (SeaweedFS) get_many of {args.s3_objects} x {args.s3_size} B",
                    seconds,
                    args.s3_objects * args.s3_size,
                    raw,
                )
            finally:
                for backend in backends:
                    backend.close()
                bench.close()
        finally:
            server.stop()


def main() -> None:
    args = parse_args()
    import obstore

    print(
        f"machine: {platform.machine()} {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}, "
        f"Python {platform.python_version()}, obstore {obstore.__version__}"
    )
    if not args.s3_only:
        bench_http(args)
    if args.s3 or args.s3_only:
        bench_s3(args)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
