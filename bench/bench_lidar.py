"""A LiDAR survey through zarr-vectors against laspy, in the same run.

Builds a survey by tiling laspy's ``autzen_trim.laz`` (``tests/data/las``) N
times side by side, then measures, each in its own process (so peak memory is
the process's own) and alternating the contenders, medians of ``--repeats``:

* laspy reading the LAZ and writing it again (the time a LiDAR user compares with);
* ``zarr-vectors write-points`` with its defaults (LAS integers with the file's
  scale and offset, Blosc-compressed, sharded, with an overview) and with each
  choice undone (floats, zstd, no overview, no sharding, 0.9.2's defaults), and
  the smallest store on request (``--compressor lzma``, with and without the
  overview): seconds, CPU seconds, peak RSS, store bytes and objects;
* a box read: ``zarr-vectors read-points --bbox`` of the default store and of the
  ``--compressor lzma`` one, alternating, against laspy reading the whole LAZ and
  keeping the box, plus the cost of importing what the command needs;
* ``zarr-vectors preview`` of the default store: which level it drew and whether
  whole (the survey) or a sample of its cells.

Usage::

    uv run python bench/bench_lidar.py [--tiles 10] [--chunk 500] [--repeats 3]
    uv run python bench/bench_lidar.py --cells STORE
    uv run python bench/bench_lidar.py --lzma STORE --repeats 1
    uv run python bench/bench_lidar.py --phases

Prints ratios against laspy, in seconds and in CPU seconds (user + system of each
process, which a loaded machine moves far less); no assertion on time (the machine
may be loaded). ``--cells`` prints each level-0 array's bytes a point and compression
CPU, with the filters a cell cannot take (:func:`cells_report`); ``--lzma`` every cell
array's bytes and CPU with blosc and LZMA variants (:func:`lzma_report`); ``--phases`` the CPU
seconds of ``write-points``' imports, LAZ reading and write (:func:`phases_report`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "tests" / "data" / "las" / "autzen_trim.laz"
CLI = str(Path(sys.executable).with_name("zarr-vectors"))

TILE = r"""
import sys
import laspy, numpy as np
src = laspy.read(sys.argv[1])
n = int(sys.argv[3])
w = src.header.maxs - src.header.mins
pts = laspy.ScaleAwarePointRecord.zeros(len(src.points) * n, header=src.header)
for name in src.point_format.dimension_names:
    pts[name] = np.tile(np.asarray(src[name]), n)
step_x = int(round((w[0] + 1) / src.header.scales[0]))
step_y = int(round((w[1] + 1) / src.header.scales[1]))
pts["X"] = np.concatenate([np.asarray(src.X) + (i % 5) * step_x for i in range(n)])
pts["Y"] = np.concatenate([np.asarray(src.Y) + (i // 5) * step_y for i in range(n)])
out = laspy.LasData(src.header)
out.points = pts
out.update_header()
out.write(sys.argv[2])
"""

LASPY_REWRITE = r"""
import sys, laspy
las = laspy.read(sys.argv[1])
las.write(sys.argv[2])
"""

LASPY_BOX = r"""
import sys, laspy, numpy as np
lo = np.array([float(v) for v in sys.argv[2].split(",")[:3]])
hi = np.array([float(v) for v in sys.argv[2].split(",")[3:]])
las = laspy.read(sys.argv[1])
xyz = np.column_stack([las.x, las.y, las.z])
keep = np.all((xyz >= lo) & (xyz <= hi), axis=1)
np.save(sys.argv[3], xyz[keep])
"""

API_WRITE = r"""
import sys, json
from pathlib import Path
from zarr_vectors.io.points_files import open_point_file
from zarr_vectors.types.points import write_points
opts = json.loads(sys.argv[3])
reader = open_point_file(Path(sys.argv[1]))
if opts.get("scale_offset") == "file":
    opts["scale_offset"] = reader.scale_offset
data = reader.read()
write_points(sys.argv[2], data.positions, vertex_attributes=data.attributes,
             crs=reader.crs, metadata=reader.metadata, **opts)
"""


#: ``write-points`` run in one process with the CPU seconds (every thread) at the end of
#: each phase: importing, reading the LAZ into arrays, ``write_points`` (``--phases``).
PHASES = r"""
import sys, time
marks = [time.process_time()]
import laspy
import zarr_vectors.cli.points_cmd as cmd
import zarr_vectors.io.las
import zarr_vectors.types.points as points
from zarr_vectors.cli import main
marks.append(time.process_time())
read, write = cmd._read_input, points.write_points
def timed_read(*a, **k):
    out = read(*a, **k); marks.append(time.process_time()); return out
def timed_write(*a, **k):
    out = write(*a, **k); marks.append(time.process_time()); return out
cmd._read_input, points.write_points = timed_read, timed_write
main(["write-points", *sys.argv[1:]], standalone_mode=False)
print(*(b - a for a, b in zip(marks, marks[1:])))
"""

IMPORTS = "import zarr, zarr_vectors.cli.points_cmd, zarr_vectors.types.points, zarr_vectors.io.las"
OWN_TIME = re.compile(r" in ([0-9.]+) s; saved to")


#: The contenders run as Python normally does, caching compiled modules: an environment
#: that turns that off (PYTHONDONTWRITEBYTECODE) would charge every run the compiling of
#: every module imported, several seconds on a loaded machine, the same for every run.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


#: CPU seconds (user + system, every thread) of the last process :func:`timed` ran: on a
#: machine shared with other jobs this moves far less with the load than the seconds.
LAST_CPU = [0.0]


def timed(cmd: list[str], said: list[str] | None = None) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one process; what it printed is appended to ``said``;
    its CPU seconds in :data:`LAST_CPU`."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=ENV)
        _, status, usage = os.wait4(proc.pid, 0)  # this process's own peak memory
        took = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd} failed: {err.read().decode()}")
        if said is not None:
            said.append(out.read().decode())
    LAST_CPU[0] = usage.ru_utime + usage.ru_stime
    return took, usage.ru_maxrss / 1024


def cells_report(store: Path, repeat: int = 3) -> None:
    """Bytes a point and compression CPU of each level-0 array of ``store``, with its
    default codec and with filters the format cannot take (``--cells``).

    A cell is one ``vlen-bytes`` element, so a Zarr codec after it sees only bytes:
    ``transpose`` and ``numcodecs.delta`` (array-to-array) have no numbers to work on.
    The rows marked "not a codec" measure what they would give if they could, on the
    same payloads: positions as three runs of x, y and z, each difference-coded; GPS
    times as their 64-bit patterns difference-coded (exact, unlike a float64 delta)."""
    import numpy as np
    import zarr
    from numcodecs import blosc  # type: ignore[import-untyped]

    from zarr_vectors.format.cells import CellCodec, codec_chain, typed_codecs

    def measured(encode: Any, parts: list[bytes]) -> tuple[int, float]:
        """(bytes, best CPU seconds) of ``encode`` over ``parts``."""
        best = float("inf")
        for _ in range(repeat):
            start = time.thread_time()
            size = sum(len(encode(b)) for b in parts)
            best = min(best, time.thread_time() - start)
        return size, best

    def zstd_shuffled(level: int, typesize: int) -> Any:
        return lambda b: blosc.compress(b, b"zstd", level, 1, 0, typesize)

    level0 = store / "0"
    names = ["vertices"] + [
        f"vertex_attributes/{p.name}"
        for p in sorted((level0 / "vertex_attributes").iterdir())
        if p.is_dir()
    ]
    rows: list[tuple[str, int, float]] = []
    count = 0
    for name in names:
        array = zarr.open_array(str(level0 / name), mode="r")
        cells: Any = array[...]
        attrs: dict[str, Any] = dict(array.attrs)
        parts = [bytes(v) for v in cells.ravel() if v is not None and len(v)]
        dtype = np.dtype(attrs.get("dtype", "float32"))
        width = 3 if name == "vertices" else int(np.prod(attrs.get("row_shape") or [1]))
        chain = typed_codecs(codec_chain("blosc"), dtype.itemsize * width, str(dtype))
        rows.append((name, *measured(CellCodec(tuple(chain)).encode, parts)))
        if name == "vertices":
            count = sum(len(b) for b in parts) // (dtype.itemsize * 3)
            runs = [np.frombuffer(b, dtype).reshape(-1, 3).T.copy() for b in parts]
            plain = [r.tobytes() for r in runs]
            deltas = [np.diff(r, axis=1, prepend=0).astype(dtype).tobytes() for r in runs]
            rows.append(("  x, y, z runs (not a codec)", *measured(zstd_shuffled(4, 4), plain)))
            rows.append(
                ("  x, y, z runs, delta (not a codec)", *measured(zstd_shuffled(4, 4), deltas))
            )
        if name.endswith("gps_time"):
            bits = [np.diff(np.frombuffer(b, np.int64), prepend=0).tobytes() for b in parts]
            rows.append(
                ("  64-bit pattern delta (not a codec)", *measured(zstd_shuffled(6, 8), bits))
            )
    print(f"level 0 of {store}: {count:,} points; best of {repeat}")
    print(f"{'array':44s} {'bytes/pt':>8s} {'CPU s':>6s}")
    for name, size, seconds in rows:
        print(f"{name:44s} {size / max(count, 1):8.3f} {seconds:6.3f}")
    stored = sum(s for n, s, _ in rows if not n.startswith(" "))
    print(f"{'level 0 in all':44s} {stored / max(count, 1):8.3f}")


#: The LZMA chains ``--lzma`` compares, as (label, overrides of LZMA2's filter options,
#: form); the first is ``compressor="lzma"``'s (a byte shuffle by the value size, then
#: a delta by the values per row, then LZMA2); form "row" is a delta over the whole row
#: with no shuffle (this pass's first choice), "row+1" that with 1-byte rows too.
LZMA_VARIANTS: list[tuple[str, dict[str, int], str]] = [
    ("shuffle, delta, preset 1 normal (compressor='lzma')", {}, ""),
    ("  no shuffle, delta by the row size", {}, "row"),
    ("  the same, delta on 1-byte rows too", {}, "row+1"),
    ("  shuffle, delta, preset 1 fast mode", {"mode": 1}, ""),
    ("  shuffle, delta, hash chains, nice 16, depth 8", {"mf": 4, "nice_len": 16, "depth": 8}, ""),
    ("  shuffle, delta, preset 6 (binary trees, nice 64)", {"preset": 6, "mode": 2}, ""),
]


def lzma_report(store: Path, repeat: int = 1) -> None:
    """Bytes and compression CPU of every cell array of ``store`` (all levels), with the
    default ``blosc`` codec and with ``compressor="lzma"``'s chain and its variants
    (``--lzma``): what chose preset 1 in normal mode and the delta by the row size."""
    import numpy as np
    import zarr

    from zarr_vectors.format.cells import CellCodec, codec_chain, typed_codecs

    def cost(chain: list[dict[str, Any]], parts: list[bytes]) -> tuple[int, float]:
        codec, best = CellCodec(tuple(chain)), float("inf")
        for _ in range(repeat):
            start = time.thread_time()
            size = sum(len(codec.encode(b)) for b in parts)
            best = min(best, time.thread_time() - start)
        return size, best

    arrays = []
    for level in sorted(p for p in store.iterdir() if p.name.isdigit()):
        for doc in sorted(level.rglob("zarr.json")):
            if json.loads(doc.read_text()).get("node_type") != "array":
                continue
            array = zarr.open_array(str(doc.parent), mode="r")
            attrs: dict[str, Any] = dict(array.attrs)
            cells: Any = array[...]
            parts = [bytes(v) for v in cells.ravel() if v is not None and len(v)]
            dtype = np.dtype(attrs.get("dtype", "uint8"))
            width = (
                3 if doc.parent.name == "vertices" else int(np.prod(attrs.get("row_shape") or [1]))
            )
            arrays.append(
                (str(doc.parent.relative_to(store)), parts, dtype.itemsize * width, str(dtype))
            )
    print(f"cell arrays of {store}, without checksums; CPU best of {repeat}")
    print(f"{'array':40s} {'blosc B':>10s} {'lzma B':>10s} {'blosc s':>8s} {'lzma s':>7s}")
    variants = [("blosc (default)", {}, ""), *LZMA_VARIANTS]
    totals = {label: [0, 0.0] for label, _, _ in variants}
    for name, parts, rb, dt in arrays:
        row = []
        for label, extra, form in variants:
            if label.startswith("blosc"):
                chain = typed_codecs(codec_chain("blosc", checksum=False), rb, dt)
            else:
                chain = typed_codecs(codec_chain("lzma", checksum=False), rb, dt)
                lz = chain[-1]
                filters = [dict(f) for f in lz["configuration"]["filters"]]
                if form:  # no shuffle: the delta over the whole row
                    chain = [chain[0], lz]
                    filters = filters[-1:]
                    if rb > 1 or form == "row+1":
                        filters.insert(0, {"id": 3, "dist": min(rb, 256)})
                filters[-1].update(extra)
                lz["configuration"] = {**lz["configuration"], "filters": filters}
            size, seconds = cost(chain, parts)
            totals[label][0] += size
            totals[label][1] += seconds
            row.append((size, seconds))
        print(f"{name:40s} {row[0][0]:10,d} {row[1][0]:10,d} {row[0][1]:8.3f} {row[1][1]:7.3f}")
    print(f"{'in all':40s} {'bytes':>10s} {'CPU s':>8s}")
    for label, (size, seconds) in totals.items():
        print(f"{label:52s} {size:12,d} {seconds:8.2f}")


def make_survey(work: Path, tiles: int) -> Path:
    """``tiles`` copies of autzen_trim.laz side by side, as one LAZ file in ``work``."""
    laz = work / "survey.laz"
    subprocess.run([sys.executable, "-c", TILE, str(SOURCE), str(laz), str(tiles)], check=True)
    return laz


def phases_report(tiles: int, chunk: float, repeat: int) -> None:
    """CPU seconds of ``write-points``' phases, each run its own process (``--phases``)."""
    with tempfile.TemporaryDirectory(prefix="zv-lidar-") as tmp:
        laz = make_survey(Path(tmp), tiles)
        runs = []
        for i in range(repeat + 1):  # the first one untimed: compiles what it imports
            out = Path(tmp) / f"store{i}.zv"
            said = subprocess.run(
                [sys.executable, "-c", PHASES, str(laz), str(out), "-c", str(chunk)],
                check=True,
                capture_output=True,
                text=True,
                env=ENV,
            ).stdout.split()
            runs.append([float(v) for v in said[-3:]])
        names = ("imports", "reading the LAZ", "write_points")
        medians = [statistics.median(r[k] for r in runs[1:]) for k in range(3)]
        print(
            f"write-points CPU seconds, medians of {repeat}: "
            + ", ".join(f"{n} {m:.2f}" for n, m in zip(names, medians, strict=True))
        )


def tree(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=10)
    parser.add_argument("--chunk", type=float, default=500.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--cells",
        type=Path,
        default=None,
        metavar="STORE",
        help="only report the bytes a point and compression CPU of each level-0 array of "
        "STORE (a store written from LAS), with the filters a cell cannot take",
    )
    parser.add_argument(
        "--lzma",
        type=Path,
        default=None,
        metavar="STORE",
        help="only report the bytes and compression CPU of every cell array of STORE with "
        "blosc, the lzma codec and its variants (presets, modes, delta filters)",
    )
    parser.add_argument(
        "--phases",
        action="store_true",
        help="only report the CPU seconds of write-points' phases (imports, reading the "
        "LAZ, the write), medians of --repeats processes",
    )
    args = parser.parse_args()
    if args.cells is not None:
        cells_report(args.cells, args.repeats)
        return
    if args.lzma is not None:
        lzma_report(args.lzma, args.repeats)
        return
    if args.phases:
        phases_report(args.tiles, args.chunk, args.repeats)
        return
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="zv-lidar-") as tmp:
        work = Path(tmp)
        laz = make_survey(work, args.tiles)
        laz_bytes = laz.stat().st_size
        chunk = str(args.chunk)
        cli = [CLI, "write-points", str(laz)]
        variants = {
            "write-points (defaults)": lambda out: [*cli, str(out), "-c", chunk],
            "  floats (--dtype float64)": lambda out: [
                *cli,
                str(out),
                "-c",
                chunk,
                "--dtype",
                "float64",
            ],
            "  zstd (--compressor zstd)": lambda out: [
                *cli,
                str(out),
                "-c",
                chunk,
                "--compressor",
                "zstd",
            ],
            "  lzma (--compressor lzma)": lambda out: [
                *cli,
                str(out),
                "-c",
                chunk,
                "--compressor",
                "lzma",
            ],
            "  lzma, no overview (--compressor lzma --levels 1)": lambda out: [
                *cli,
                str(out),
                "-c",
                chunk,
                "--compressor",
                "lzma",
                "--levels",
                "1",
            ],
            "  no overview (--levels 1)": lambda out: [
                *cli,
                str(out),
                "-c",
                chunk,
                "--levels",
                "1",
            ],
            "  no sharding (API)": lambda out: [
                py,
                "-c",
                API_WRITE,
                str(laz),
                str(out),
                f'{{"chunk_shape": [{chunk}, {chunk}, {chunk}], "compressor": "blosc", '
                '"scale_offset": "file"}',
            ],
            "  0.9.2's defaults (API: floats, no compression, no sharding)": lambda out: [
                py,
                "-c",
                API_WRITE,
                str(laz),
                str(out),
                f'{{"chunk_shape": [{chunk}, {chunk}, {chunk}]}}',
            ],
        }
        # one untimed run of each, so every timed one finds the modules compiled
        timed([py, "-c", LASPY_REWRITE, str(laz), str(work / "again.laz")])
        timed(variants["write-points (defaults)"](work / "warm.zv"))
        timed(
            [
                py,
                "-c",
                API_WRITE,
                str(laz),
                str(work / "warm2.zv"),
                '{"chunk_shape": [500, 500, 500]}',
            ]
        )
        times: dict[str, list[float]] = {k: [] for k in ["laspy read+rewrite", *variants]}
        peaks: dict[str, list[float]] = {k: [] for k in times}
        cpus: dict[str, list[float]] = {k: [] for k in times}
        sizes: dict[str, tuple[int, int]] = {}
        for _ in range(args.repeats):
            t, m = timed([py, "-c", LASPY_REWRITE, str(laz), str(work / "again.laz")])
            times["laspy read+rewrite"].append(t)
            peaks["laspy read+rewrite"].append(m)
            cpus["laspy read+rewrite"].append(LAST_CPU[0])
            sizes["laspy read+rewrite"] = ((work / "again.laz").stat().st_size, 1)
            for name, make in variants.items():
                out = work / "store.zv"
                shutil.rmtree(out, ignore_errors=True)
                t, m = timed(make(out))
                times[name].append(t)
                peaks[name].append(m)
                cpus[name].append(LAST_CPU[0])
                sizes[name] = tree(out)
        base = statistics.median(times["laspy read+rewrite"])
        base_cpu = statistics.median(cpus["laspy read+rewrite"])
        print(
            f"survey: {args.tiles} tiles of autzen_trim.laz, {laz_bytes:,} bytes of LAZ, "
            f"chunk {args.chunk:g}; medians of {args.repeats}"
        )
        print(
            f"{'':62s} {'seconds':>8s} {'x laspy':>8s} {'CPU s':>6s} {'x laspy':>8s} "
            f"{'peak MB':>8s} {'bytes':>12s} {'x LAZ':>6s} {'objects':>8s}"
        )
        for name in times:
            t = statistics.median(times[name])
            c = statistics.median(cpus[name])
            nbytes, objects = sizes[name]
            print(
                f"{name:62s} {t:8.2f} {t / base:8.2f} {c:6.2f} {c / base_cpu:8.2f} "
                f"{max(peaks[name]):8.0f} {nbytes:12,d} {nbytes / laz_bytes:6.2f} {objects:8,d}"
            )
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
        # a box read: a quarter of the first tile, from the default and the lzma store
        stores = {"defaults": [], "lzma": ["--compressor", "lzma"]}
        for kind, extra in stores.items():
            store = work / f"{kind}.zv"
            subprocess.run(
                [CLI, "write-points", str(laz), str(store), "-c", chunk, *extra],
                check=True,
                capture_output=True,
            )
        box = "636000,849000,0,636600,849300,1000"
        imports, laspy_box = [], []
        box_read: dict[str, list[float]] = {k: [] for k in stores}
        own: dict[str, list[float]] = {k: [] for k in stores}
        for _ in range(args.repeats):
            imports.append(timed([py, "-c", IMPORTS])[0])
            for kind in stores:
                said: list[str] = []
                store = work / f"{kind}.zv"
                cmd = [CLI, "read-points", str(store), "-o", str(work / "b.npy"), "--bbox", box]
                box_read[kind].append(timed(cmd, said)[0])
                found = OWN_TIME.search(said[-1])
                own[kind].append(float(found[1]) if found else float("nan"))
            laspy_box.append(timed([py, "-c", LASPY_BOX, str(laz), box, str(work / "c.npy")])[0])
        s, lb = statistics.median(imports), statistics.median(laspy_box)
        said = []
        timed([CLI, "preview", str(work / "defaults.zv"), "-o", str(work / "p.png")], said)
        print("preview:", said[-1].strip())
        print(
            f"box read {box}: Python importing the modules read-points needs {s:.2f} s; "
            f"laspy full read + filter {lb:.2f} s"
        )
        for kind in stores:
            b, o = statistics.median(box_read[kind]), statistics.median(own[kind])
            print(
                f"  {kind} store: read-points {b:.2f} s in all, of which the read itself "
                f"{o:.2f} s (as the command prints it); {b / lb:.2f}x laspy's"
            )


if __name__ == "__main__":
    main()
