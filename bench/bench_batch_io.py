"""Batch I/O against a real S3 server: the two cloud backends against raw clients and zarr's stores.

Starts its own SeaweedFS (``tests/helpers/servers/procs.py``) on 127.0.0.1, then, in
interleaved repeats, fetches N objects of SIZE bytes with

* the obstore backend's ``get_many`` and ``aget_many``,
* the fsspec backend's ``get_many`` and ``aget_many``,
* raw obstore (``obstore.get_async`` for every key, gathered: the limit), and
  the same with at most ``--concurrency`` requests in flight (as the backends run),
* raw s3fs (its own batch coroutine ``_cat``),
* zarr-python's ``zarr.storage.ObjectStore`` and ``FsspecStore`` (``get`` of
  every key in one gather),

and the same for writes (``put_many`` / ``aput_many``, ``obstore.put_async``,
s3fs ``_pipe``, the zarr stores' ``set``). It prints the median throughput of
each case and its ratio to raw obstore measured in the same run.

    uv run python bench/bench_batch_io.py [--objects 2000] [--size 65536] [--repeats 5]

Targets (issue 3): the obstore backend >= 0.9x raw obstore, and ahead of both
zarr stores. Every client gets the same connection budget (``--concurrency``)
where it has such a setting; raw obstore and the zarr stores run unbounded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.servers.procs import S3Server, start_seaweedfs  # noqa: E402

Case = Callable[[], Any]  # a sync call, or a coroutine function run on the bench loop


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--size", type=int, default=64 * 1024)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--only", default="", help="comma-separated case-name substrings")
    return parser.parse_args()


class Bench:
    """All clients, built once against one bucket, driven from one event loop."""

    def __init__(self, server: S3Server, bucket: str, args: argparse.Namespace) -> None:
        self.server = server
        self.bucket = bucket
        self.args = args
        self.loop = asyncio.new_event_loop()
        self.payload = os.urandom(args.size)
        self.keys = [f"get/{i:05d}" for i in range(args.objects)]
        self.items = {f"{i:05d}": self.payload for i in range(args.objects)}
        self._build()

    def run(self, coro: Awaitable[Any]) -> Any:
        return self.loop.run_until_complete(coro)

    # -- clients ------------------------------------------------------------------------------
    def _build(self) -> None:
        import obstore
        import s3fs
        import zarr.storage
        from obstore.store import S3Store

        from zarr_vectors_fsspec.backend import FsspecBackend
        from zarr_vectors_obstore.backend import ObstoreBackend

        s, a = self.server, self.args
        url = f"s3://{self.bucket}"
        self.obstore = obstore
        self.ob_backend = ObstoreBackend(
            url,
            endpoint=s.endpoint,
            access_key_id=s.access_key,
            secret_access_key=s.secret_key,
            region=s.region,
            allow_http=True,
            max_concurrency=a.concurrency,
        )
        fs_options = {
            "key": s.access_key,
            "secret": s.secret_key,
            "endpoint_url": s.endpoint,
            "client_kwargs": {"region_name": s.region},
        }
        self.fs_backend = FsspecBackend(url, max_concurrency=a.concurrency, **fs_options)
        self.raw_store = S3Store(
            self.bucket,
            endpoint=s.endpoint,
            access_key_id=s.access_key,
            secret_access_key=s.secret_key,
            region=s.region,
            client_options={"allow_http": True},
        )
        pool = {"config_kwargs": {"max_pool_connections": a.concurrency}}

        async def async_clients() -> None:
            self.raw_s3fs = s3fs.S3FileSystem(
                asynchronous=True, skip_instance_cache=True, **fs_options, **pool
            )
            await self.raw_s3fs.set_session()
            self.zarr_object_store = zarr.storage.ObjectStore(
                S3Store(
                    self.bucket,
                    endpoint=s.endpoint,
                    access_key_id=s.access_key,
                    secret_access_key=s.secret_key,
                    region=s.region,
                    client_options={"allow_http": True},
                )
            )
            self.zarr_fsspec_store = zarr.storage.FsspecStore.from_url(
                f"s3://{self.bucket}", storage_options={**fs_options, **pool}
            )

        self.run(async_clients())
        from zarr.core.buffer import default_buffer_prototype

        self.prototype = default_buffer_prototype()

    # -- cases ----------------------------------------------------------------------------------
    def get_cases(self) -> dict[str, Case]:
        keys, bucket = self.keys, self.bucket
        ob, raw = self.obstore, self.raw_store

        async def raw_obstore() -> int:
            async def one(key: str) -> int:
                result = await ob.get_async(raw, key)
                return len(await result.bytes_async())

            return sum(await asyncio.gather(*(one(k) for k in keys)))

        async def raw_obstore_bounded() -> int:
            # The same, at most --concurrency requests in flight: what the backends do.
            semaphore = asyncio.Semaphore(self.args.concurrency)

            async def one(key: str) -> int:
                async with semaphore:
                    result = await ob.get_async(raw, key)
                    return len(await result.bytes_async())

            return sum(await asyncio.gather(*(one(k) for k in keys)))

        async def raw_s3fs() -> int:
            got = await self.raw_s3fs._cat([f"{bucket}/{k}" for k in keys])
            return sum(len(v) for v in got.values())

        async def zarr_store(store: Any) -> int:
            got = await asyncio.gather(*(store.get(k, self.prototype) for k in keys))
            return sum(len(v.to_bytes()) for v in got)

        async def ob_async() -> int:
            return sum(map(len, (await self.ob_backend.aget_many(keys)).values()))

        async def fs_async() -> int:
            return sum(map(len, (await self.fs_backend.aget_many(keys)).values()))

        return {
            "raw obstore get_async (gather)": raw_obstore,
            "raw obstore get_async (bounded)": raw_obstore_bounded,
            "obstore backend get_many": lambda: sum(
                map(len, self.ob_backend.get_many(keys).values())
            ),
            "obstore backend aget_many": ob_async,
            "fsspec backend get_many": lambda: sum(
                map(len, self.fs_backend.get_many(keys).values())
            ),
            "fsspec backend aget_many": fs_async,
            "raw s3fs _cat": raw_s3fs,
            "zarr ObjectStore get (gather)": lambda: zarr_store(self.zarr_object_store),
            "zarr FsspecStore get (gather)": lambda: zarr_store(self.zarr_fsspec_store),
        }

    def put_cases(self) -> dict[str, Case]:
        items, bucket = self.items, self.bucket
        ob, raw = self.obstore, self.raw_store

        def keyed(case: str) -> dict[str, bytes]:
            return {f"put/{case}/{k}": v for k, v in items.items()}

        per_case = {
            name: keyed(name)
            for name in (
                *("raw-ob", "raw-ob-bounded", "ob-sync", "ob-async"),
                *("fs-sync", "fs-async", "s3fs", "zo", "zf"),
            )
        }

        async def raw_obstore() -> int:
            await asyncio.gather(*(ob.put_async(raw, k, v) for k, v in per_case["raw-ob"].items()))
            return len(items) * self.args.size

        async def raw_obstore_bounded() -> int:
            semaphore = asyncio.Semaphore(self.args.concurrency)

            async def one(key: str, data: bytes) -> None:
                async with semaphore:
                    await ob.put_async(raw, key, data)

            await asyncio.gather(*(one(k, v) for k, v in per_case["raw-ob-bounded"].items()))
            return len(items) * self.args.size

        async def raw_s3fs() -> int:
            await self.raw_s3fs._pipe({f"{bucket}/{k}": v for k, v in per_case["s3fs"].items()})
            return len(items) * self.args.size

        async def zarr_store(store: Any, case: str) -> int:
            buffer = self.prototype.buffer.from_bytes(self.payload)
            await asyncio.gather(*(store.set(k, buffer) for k in per_case[case]))
            return len(items) * self.args.size

        def sync(backend: Any, case: str) -> Case:
            def call() -> int:
                backend.put_many(per_case[case])
                return len(items) * self.args.size

            return call

        def asynchronous(backend: Any, case: str) -> Case:
            async def call() -> int:
                await backend.aput_many(per_case[case])
                return len(items) * self.args.size

            return call

        return {
            "raw obstore put_async (gather)": raw_obstore,
            "raw obstore put_async (bounded)": raw_obstore_bounded,
            "obstore backend put_many": sync(self.ob_backend, "ob-sync"),
            "obstore backend aput_many": asynchronous(self.ob_backend, "ob-async"),
            "fsspec backend put_many": sync(self.fs_backend, "fs-sync"),
            "fsspec backend aput_many": asynchronous(self.fs_backend, "fs-async"),
            "raw s3fs _pipe": raw_s3fs,
            "zarr ObjectStore set (gather)": lambda: zarr_store(self.zarr_object_store, "zo"),
            "zarr FsspecStore set (gather)": lambda: zarr_store(self.zarr_fsspec_store, "zf"),
        }

    def timed(self, case: Case) -> tuple[float, int]:
        started = time.perf_counter()
        result = case()
        if asyncio.iscoroutine(result):
            result = self.run(result)
        return time.perf_counter() - started, int(result)

    def close(self) -> None:
        self.ob_backend.close()
        self.fs_backend.close()

        async def close_s3fs_clients() -> None:
            for fs in (self.raw_s3fs, self.zarr_fsspec_store.fs):
                client = getattr(fs, "_s3", None)
                if client is not None:
                    await client.close()

        self.run(close_s3fs_clients())
        self.loop.close()


def measure(bench: Bench, cases: dict[str, Case], repeats: int) -> dict[str, list[float]]:
    """Interleave: every case once per repeat, in a rotating order; one warm-up round first."""
    expected = bench.args.objects * bench.args.size
    names = list(cases)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(repeats + 1):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            elapsed, moved = bench.timed(cases[name])
            if moved != expected:
                raise SystemExit(f"{name} moved {moved} bytes, expected {expected}")
            if round_index:  # round 0 warms connections and caches
                seconds[name].append(elapsed)
    return seconds


def report(title: str, seconds: dict[str, list[float]], total_bytes: int, base: str) -> None:
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    base_rate = total_bytes / medians[base] / 1e6
    print(f"\n{title}")
    print(f"{'case':<34}{'MB/s':>9}{'vs raw obstore':>16}{'spread':>9}")
    for name, median in medians.items():
        rate = total_bytes / median / 1e6
        spread = (max(seconds[name]) - min(seconds[name])) / median
        print(f"{name:<34}{rate:>9.1f}{rate / base_rate:>15.2f}x{spread:>8.0%}")


def main() -> None:
    args = parse_args()
    import obstore
    import s3fs
    import zarr

    total = args.objects * args.size
    print(
        f"{args.objects} objects x {args.size} B = {total / 1e6:.1f} MB per case; "
        f"{args.repeats} interleaved repeats after one warm-up; concurrency {args.concurrency}"
    )
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}, "
        f"obstore {obstore.__version__}, s3fs {s3fs.__version__}, zarr {zarr.__version__}"
    )
    with tempfile.TemporaryDirectory(prefix="zv-bench-") as workdir:
        server = start_seaweedfs(Path(workdir))
        try:
            bucket = server.create_bucket()
            bench = Bench(server, bucket, args)
            try:
                bench.fs_backend.put_many(dict.fromkeys(bench.keys, bench.payload))
                only = [o for o in args.only.split(",") if o]

                def pick(cases: dict[str, Case]) -> dict[str, Case]:
                    base = next(iter(cases))
                    return {
                        n: c
                        for n, c in cases.items()
                        if n == base or not only or any(o in n for o in only)
                    }

                gets = pick(bench.get_cases())
                report("GET", measure(bench, gets, args.repeats), total, next(iter(gets)))
                puts = pick(bench.put_cases())
                report("PUT", measure(bench, puts, args.repeats), total, next(iter(puts)))
            finally:
                bench.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
