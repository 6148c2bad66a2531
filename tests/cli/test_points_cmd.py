"""The point commands of ``zarr-vectors``: write-points and read-points.

Most tests drive the commands in-process with click's ``CliRunner`` on real
local stores; one runs the installed console script on a pseudo-terminal, to
check the progress bar appears there (``test_demo_cmd`` runs it through a pipe,
where none does). ``demo`` and ``info`` have their own test files.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers.cli import run
from zarr_vectors.exceptions import ValidationError
from zarr_vectors.io.points_files import read_point_file
from zarr_vectors.types.points import read_points

SCRIPT = Path(sys.executable).with_name("zarr-vectors.exe" if os.name == "nt" else "zarr-vectors")


def as_set(*columns: np.ndarray) -> np.ndarray:
    table = np.column_stack([np.asarray(c, np.float64).reshape(len(c), -1) for c in columns])
    return table[np.lexsort(table.T[::-1])]


def write_ply(path: Path, pos: np.ndarray, labels: np.ndarray, fmt: str) -> None:
    """A PLY file with x/y/z floats, a uchar 'label', and a face element after the vertices."""
    header = (
        f"ply\nformat {fmt} 1.0\ncomment made by the tests\nelement vertex {len(pos)}\n"
        "property float x\nproperty float y\nproperty float z\nproperty uchar label\n"
        "element face 0\nproperty list uchar int vertex_indices\nend_header\n"
    ).encode()
    if fmt == "ascii":
        body = "".join(
            f"{x!r} {y!r} {z!r} {k}\n"
            for (x, y, z), k in zip(pos.tolist(), labels.tolist(), strict=True)
        ).encode()
    else:
        order = "<" if fmt == "binary_little_endian" else ">"
        dt = np.dtype([("x", order + "f4"), ("y", order + "f4"), ("z", order + "f4"), ("l", "u1")])
        rows = np.empty(len(pos), dt)
        rows["x"], rows["y"], rows["z"] = pos.T
        rows["l"] = labels
        body = rows.tobytes()
    path.write_bytes(header + body)


@pytest.mark.skipif(os.name == "nt", reason="needs a POSIX pseudo-terminal")
def test_installed_script_on_a_terminal_shows_a_live_progress_bar(
    tmp_path: Path, cloud: np.ndarray
) -> None:
    import pty

    big = np.random.default_rng(3).uniform(0, 1000, (300_000, 3)).astype(np.float32)
    np.save(tmp_path / "big.npy", big)
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100"}
    proc = subprocess.Popen(
        [str(SCRIPT), "write-points", str(tmp_path / "big.npy"), str(tmp_path / "s"), "-c", "50"],
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the terminal closed when the process exited
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=300) == 0
    os.close(leader)
    out = b"".join(chunks).decode(errors="replace")
    # every phase is labelled, the counted ones with their count, rate and time left
    assert "reading big.npy: 100%" in out and "300,000/300,000 points" in out
    assert "grouping points into cells: done in" in out
    assert re.search(r"writing cells: 100%.*\| ([\d,]+)/\1 points \[[\d:]+<[\d:]+, ", out)
    assert "committing: done in" in out
    assert "Wrote 300,000 3-D points" in out
    objects = re.search(r"writing cells: 100%.*\| ([\d,]+)/", out)
    assert (
        objects is not None and f"({objects[1]} points written)" in out
    )  # one count, bar and summary


def test_progress_true_draws_phase_bars_and_a_callable_passes_through(
    tmp_path: Path, cloud: np.ndarray, capsys: pytest.CaptureFixture[str]
) -> None:
    """``progress=`` of the Python API, through the helper write_points/read_points use."""
    from zarr_vectors.progress import READ_PHASES, WRITE_PHASES, progress_callback
    from zarr_vectors.types.points import write_points

    with progress_callback(True, WRITE_PHASES) as callback:
        write_points(tmp_path / "s", cloud, chunk_shape=(25.0,) * 3, progress=callback)
    with progress_callback(True, READ_PHASES) as callback:
        read_points(tmp_path / "s", progress=callback)
    err = capsys.readouterr().err
    for label in ("grouping points into cells: done", "committing: done", "decoding: done"):
        assert label in err
    assert re.search(r"writing cells: 100%.*\| ([\d,]+)/\1 points", err)
    assert re.search(r"reading cells: 100%.*\| (\d+)/\1 cells", err)

    calls: list[tuple[int, int]] = []
    with progress_callback(lambda d, t: calls.append((d, t)), WRITE_PHASES) as callback:
        write_points(tmp_path / "t", cloud, chunk_shape=(25.0,) * 3, progress=callback)
    assert calls[0][0] == 0 and calls[-1][0] == calls[-1][1] > 0
    with progress_callback(None, WRITE_PHASES) as callback:
        assert callback is None
    with pytest.raises(ValidationError, match="progress must be True"):  # noqa: SIM117
        with progress_callback("yes", WRITE_PHASES):
            pass


# -- write-points / read-points round trips --------------------------------------
def test_npy_round_trip_through_the_commands(tmp_path: Path, cloud: np.ndarray) -> None:
    np.save(tmp_path / "in.npy", cloud)
    code, out = run("write-points", tmp_path / "in.npy", tmp_path / "s", "--chunk-shape", "25")
    assert code == 0, out
    assert "Wrote 1,500 3-D points" in out
    code, out = run("read-points", tmp_path / "s", "-o", tmp_path / "out.npy")
    assert code == 0, out
    got = np.load(tmp_path / "out.npy")
    assert got.dtype == np.float32
    np.testing.assert_array_equal(as_set(got), as_set(cloud))


@pytest.mark.parametrize("fmt", ["ascii", "binary_little_endian", "binary_big_endian"])
def test_ply_vertices_and_properties_round_trip(
    tmp_path: Path, cloud: np.ndarray, labels: np.ndarray, fmt: str
) -> None:
    write_ply(tmp_path / "in.ply", cloud, labels, fmt)
    code, out = run("write-points", tmp_path / "in.ply", tmp_path / "s", "--chunk-shape", "30")
    assert code == 0, out
    assert "attributes ['label']" in out
    code, out = run("read-points", tmp_path / "s", "-o", tmp_path / "out.npz")
    assert code == 0, out
    got = np.load(tmp_path / "out.npz")
    assert got["positions"].dtype == np.float32
    assert got["label"].dtype == np.uint8
    np.testing.assert_array_equal(as_set(got["positions"], got["label"]), as_set(cloud, labels))


def test_csv_header_columns_become_attributes(tmp_path: Path, cloud: np.ndarray) -> None:
    weight = np.round(cloud[:, 0] / 3, 3)
    klass = np.arange(len(cloud)) % 4
    lines = ["Z,x,class,Y,weight"] + [
        f"{z!r},{x!r},{k},{y!r},{w!r}"
        for (x, y, z), k, w in zip(cloud.tolist(), klass.tolist(), weight.tolist(), strict=True)
    ]
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n")
    code, out = run("write-points", tmp_path / "in.csv", tmp_path / "s", "--chunk-shape", "50")
    assert code == 0, out
    got = read_points(tmp_path / "s")
    assert got.positions.dtype == np.float64  # text is read at full precision
    assert got.vertex_attributes["class"].dtype == np.int64  # whole numbers only
    assert got.vertex_attributes["weight"].dtype == np.float64
    np.testing.assert_array_equal(
        as_set(got.positions, got.vertex_attributes["class"]),
        as_set(cloud.astype(np.float64), klass),
    )


def test_csv_without_header_and_float32_dtype(tmp_path: Path, cloud: np.ndarray) -> None:
    np.savetxt(tmp_path / "in.csv", cloud[:, :2], delimiter=",", fmt="%.9g")
    code, out = run("write-points", tmp_path / "in.csv", tmp_path / "s", "--chunk-shape", "10,20")
    assert code == 0, out
    assert "2-D points" in out
    got = read_points(tmp_path / "s")
    assert got.positions.dtype == np.float64
    # %.9g round-trips float32 exactly once cast back to float32
    np.testing.assert_array_equal(as_set(got.positions.astype(np.float32)), as_set(cloud[:, :2]))
    code, out = run(
        "write-points",
        tmp_path / "in.csv",
        tmp_path / "t",
        "--chunk-shape",
        "10",
        "--dtype",
        "float32",
    )
    assert code == 0, out
    assert read_points(tmp_path / "t").positions.dtype == np.float32


def test_csv_with_byte_order_mark_and_spaces(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes("\ufeffx, y, z, i\n1, 2, 3, 7\n4, 5, 6, 8\n".encode())
    pf = read_point_file(tmp_path / "a.csv")
    np.testing.assert_array_equal(pf.positions, [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(pf.attributes["i"], [7, 8])
    (tmp_path / "b.csv").write_bytes("\ufeff1 2 3\n4 5 6\n".encode())
    np.testing.assert_array_equal(read_point_file(tmp_path / "b.csv").positions[1], [4, 5, 6])


def test_structured_npy_fields_become_attributes(tmp_path: Path, cloud: np.ndarray) -> None:
    rows = np.empty(len(cloud), [("x", "f4"), ("y", "f4"), ("z", "f4"), ("gps", "f8")])
    rows["x"], rows["y"], rows["z"] = cloud.T
    rows["gps"] = np.arange(len(cloud)) * 0.5
    np.save(tmp_path / "in.npy", rows)
    pf = read_point_file(tmp_path / "in.npy")
    np.testing.assert_array_equal(pf.positions, cloud)
    assert list(pf.attributes) == ["gps"]


def test_bbox_read_level_and_csv_output(tmp_path: Path, cloud: np.ndarray) -> None:
    np.save(tmp_path / "in.npy", cloud)
    code, out = run(
        "write-points",
        tmp_path / "in.npy",
        tmp_path / "s",
        "--chunk-shape",
        "20",
        "--levels",
        "2",
        "--compressor",
        "zstd",
        "--bounds",
        "0,0,0,100,100,100",
    )
    assert code == 0, out
    code, out = run(
        "read-points", tmp_path / "s", "--bbox", "10,20,30,60,70,80", "-o", tmp_path / "box.csv"
    )
    assert code == 0, out
    lo, hi = np.array([10, 20, 30]), np.array([60, 70, 80])
    inside = cloud[np.all((cloud >= lo) & (cloud <= hi), axis=1)]
    assert f"Read {len(inside):,} points inside" in out
    table = np.loadtxt(tmp_path / "box.csv", delimiter=",", skiprows=1, ndmin=2)
    assert (tmp_path / "box.csv").read_text().splitlines()[0] == "x,y,z"
    np.testing.assert_allclose(as_set(table), as_set(inside), rtol=1e-6)
    code, out = run("read-points", tmp_path / "s", "--level", "1", "-o", tmp_path / "l1.npy")
    assert code == 0, out
    level1 = np.load(tmp_path / "l1.npy")
    assert 0 < len(level1) <= 27  # one centroid per 40-unit bin of a 100-unit cube


def test_append_mode_and_no_consolidate(tmp_path: Path, cloud: np.ndarray) -> None:
    np.save(tmp_path / "a.npy", cloud[:1000])
    np.save(tmp_path / "b.npy", cloud[1000:])
    code, out = run(
        "write-points",
        tmp_path / "a.npy",
        tmp_path / "s",
        "--chunk-shape",
        "25",
        "--bounds",
        "0,0,0,100,100,100",
        "--no-consolidate",
    )
    assert code == 0, out
    assert json.loads(run("info", tmp_path / "s", "--json")[1])["consolidated"] is False
    code, out = run("write-points", tmp_path / "b.npy", tmp_path / "s", "--mode", "a")
    assert code == 0, out
    assert "Appended 500" in out and "1,500 points in the store" in out
    got = read_points(tmp_path / "s")
    np.testing.assert_array_equal(as_set(got.positions), as_set(cloud))
    facts = json.loads(run("info", tmp_path / "s", "--json")[1])
    assert facts["consolidated"] is True  # --consolidate is the default, appends included
    assert facts["levels"][0]["points"] == 1500


def test_help_lists_every_point_command() -> None:
    code, out = run("--help")
    assert code == 0
    for name in ("demo", "write-points", "read-points", "info"):
        assert name in out
    for name in ("demo", "write-points", "read-points", "info"):
        code, out = run(name, "--help")
        assert code == 0 and "Usage:" in out


# -- bad input: message, exit code, nothing written ------------------------------
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--chunk-shape", "0"], "positive sizes"),
        (["--chunk-shape", "a,b"], "not a list of numbers"),
        ([], "--chunk-shape is required"),
        (["--chunk-shape", "10", "--bounds", "0,0,0,5,5,5"], "lie outside the bounds"),
        (["--chunk-shape", "10", "--bounds", "0,0,0,5,5"], "even count"),
        (["--chunk-shape", "10,10", "--bounds", "0,0,0,100,100,100"], "chunk_shape has 2"),
        (["--chunk-shape", "10", "--option", "novalue"], "KEY=VALUE"),
        (["--chunk-shape", "10", "--mode", "x"], "Invalid value for '--mode'"),
    ],
)
def test_bad_write_options_exit_2_and_write_nothing(
    tmp_path: Path, cloud: np.ndarray, args: list[str], needle: str
) -> None:
    np.save(tmp_path / "in.npy", cloud)
    code, out = run("write-points", tmp_path / "in.npy", tmp_path / "s", *args)
    assert code == 2, out
    assert needle in out
    assert "Traceback" not in out
    assert not (tmp_path / "s").exists()


def test_outside_bounds_message_names_the_cli_option(tmp_path: Path, cloud: np.ndarray) -> None:
    np.save(tmp_path / "in.npy", cloud)
    _, out = run(
        "write-points",
        tmp_path / "in.npy",
        tmp_path / "s",
        "--chunk-shape",
        "10",
        "--bounds",
        "0,0,0,5,5,5",
    )
    assert "--bounds 0.0,0.0,0.0," in out


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("in.txt", b"1,2,3\n", "unknown point file type"),
        ("in.ply", b"not a ply\n", "not a PLY file"),
        (
            "in.ply",
            b"ply\nformat binary_little_endian 1.0\nelement vertex 5\n"
            b"property float x\nproperty float y\nend_header\n\x00\x00",
            "the file is truncated",
        ),
        ("in.ply", b"ply\nformat ascii 1.0\nelement face 1\nend_header\n", "no 'vertex'"),
        ("in.ply", b"ply\nformat weird 1.0\nend_header\n", "don't understand format 'weird'"),
        (
            "in.ply",
            b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float a\nend_header\n1\n",
            "needs columns named x and y",
        ),
        ("in.csv", b"", "empty"),
        ("in.csv", b"1,2,3,4\n5,6,7,8\n", "no header row"),
        ("in.csv", b"x,y\n1,oops\n", "not a table of numbers"),
        ("in.csv", b"x,y,z\n1,nan,3\n", "NaN or infinite"),
        ("in.npy", b"garbage", "not a readable .npy"),
    ],
)
def test_bad_point_files_exit_2_and_write_nothing(
    tmp_path: Path, name: str, content: bytes, needle: str
) -> None:
    (tmp_path / name).write_bytes(content)
    code, out = run("write-points", tmp_path / name, tmp_path / "s", "--chunk-shape", "10")
    assert code == 2, out
    assert needle in out
    assert "Traceback" not in out
    assert not (tmp_path / "s").exists()


def test_npy_of_wrong_shape_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "in.npy", np.zeros(10))
    with pytest.raises(ValidationError, match="shape"):
        read_point_file(tmp_path / "in.npy")


def test_missing_input_file(tmp_path: Path) -> None:
    code, out = run("write-points", tmp_path / "nope.npy", tmp_path / "s", "--chunk-shape", "10")
    assert code == 2
    assert "no such file" in out


def test_existing_store_exit_1_with_mode_hint(tmp_path: Path, cloud: np.ndarray) -> None:
    np.save(tmp_path / "in.npy", cloud)
    assert run("write-points", tmp_path / "in.npy", tmp_path / "s", "--chunk-shape", "25")[0] == 0
    code, out = run("write-points", tmp_path / "in.npy", tmp_path / "s", "--chunk-shape", "25")
    assert code == 1
    assert "--mode w" in out and "--mode a" in out
    code, out = run(
        "write-points", tmp_path / "in.npy", tmp_path / "s", "--chunk-shape", "25", "--mode", "w"
    )
    assert code == 0, out
    assert read_points(tmp_path / "s").vertex_count == len(cloud)


def test_bad_reads(tmp_path: Path, cloud: np.ndarray) -> None:
    np.save(tmp_path / "in.npy", cloud)
    run("write-points", tmp_path / "in.npy", tmp_path / "s", "--chunk-shape", "25")
    cases = [
        (["read-points", tmp_path / "nope", "-o", tmp_path / "o.npy"], 1, "no Zarr Vectors store"),
        (["read-points", tmp_path / "s", "-o", tmp_path / "o.txt"], 2, "unknown output type"),
        (["read-points", tmp_path / "s", "-o", tmp_path / "no/o.npy"], 2, "does not exist"),
        (["read-points", tmp_path / "s", "-o", tmp_path / "o.npy", "--level", "4"], 2, "level 4"),
        (["read-points", tmp_path / "s", "-o", tmp_path / "o.npy", "--bbox", "1,2"], 2, "3 values"),
        (
            ["read-points", tmp_path / "s", "-o", tmp_path / "o.npy", "--bbox", "5,5,5,1,1,1"],
            2,
            "minimum must be <=",
        ),
        (
            ["read-points", tmp_path / "s", "-o", tmp_path / "o.npy", "--attribute", "zz"],
            2,
            "do not exist",
        ),
        (["info", tmp_path / "nope"], 1, "no Zarr Vectors store"),
    ]
    for args, want, needle in cases:
        code, out = run(*args)
        assert (code, needle in out) == (want, True), (args, out)
        assert "Traceback" not in out
    assert not (tmp_path / "o.npy").exists()


def test_backend_option_secrets_never_printed(tmp_path: Path, cloud: np.ndarray) -> None:
    np.save(tmp_path / "in.npy", cloud)
    secret = "hunter2-SUPER-SECRET"
    code, out = run(
        "write-points",
        tmp_path / "in.npy",
        tmp_path / "s",
        "--chunk-shape",
        "25",
        "--option",
        f"secret_access_key={secret}",
    )
    assert code == 2, out
    assert "secret_access_key" in out  # the option is named ...
    assert secret not in out  # ... its value is not
    assert not (tmp_path / "s").exists()
    code, out = run("info", tmp_path / "s", "--option", f"password={secret}")
    assert code in (1, 2)
    assert secret not in out


# -- docs/cli.md: its examples are run, and its sample `info` output is real ----------
def test_docs_cli_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import re
    import shlex

    page = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
    blocks = re.findall(r"(<!--\s*no-run[^>]*-->\s*)?```(python|bash|text)\n(.*?)```", page, re.S)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    commands = 0
    last_info = ""
    for skip, lang, body in blocks:
        if skip:
            continue
        if lang == "python":
            exec(compile(body, "cli.md", "exec"), namespace)
        elif lang == "bash":
            for line in body.splitlines():
                if not line.startswith("zarr-vectors "):
                    continue
                code, out = run(*shlex.split(line)[1:])
                assert code == 0, (line, out)
                commands += 1
                if line.startswith("zarr-vectors info") and "--json" not in line:
                    last_info = out
        elif lang == "text":
            assert body.strip() == last_info.strip()  # the sample output is what info prints
    assert commands >= 10


# -- a remote store through --backend and --option --------------------------------------
@pytest.mark.servers
def test_commands_on_s3_with_backend_options(
    tmp_path: Path, cloud: np.ndarray, labels: np.ndarray, s3_server: Any, s3_bucket: str
) -> None:
    write_ply(tmp_path / "in.ply", cloud, labels, "binary_little_endian")
    url = f"s3://{s3_bucket}/clouds/a.zarrvectors"
    opts = [
        "--backend", "obstore",
        "--option", f"endpoint={s3_server.endpoint}",
        "--option", f"region={s3_server.region}",
        "--option", f"access_key_id={s3_server.access_key}",
        "--option", f"secret_access_key={s3_server.secret_key}",
        "--option", "allow_http=true",
    ]  # fmt: skip
    code, out = run("write-points", tmp_path / "in.ply", url, "-c", "25", *opts)
    assert code == 0, out
    code, out = run("info", url, "--json", *opts)
    assert code == 0, out
    facts = json.loads(out)
    assert facts["backend"] == "obstore"
    assert facts["levels"][0]["points"] == len(cloud)
    assert facts["consolidated"] is True
    code, out = run("read-points", url, "--bbox", "0,0,0,50,50,50", "-o", tmp_path / "b.npz", *opts)
    assert code == 0, out
    got = np.load(tmp_path / "b.npz")
    inside = np.all(cloud <= 50, axis=1)
    np.testing.assert_array_equal(
        as_set(got["positions"], got["label"]), as_set(cloud[inside], labels[inside])
    )
    # A wrong secret: refused by the server, exit 1, and the secret is not printed.
    bad = [*opts[:-4], "--option", "secret_access_key=wrong-secret-0123456789", *opts[-2:]]
    code, out = run("info", url, *bad)
    assert code == 1, out
    assert "wrong-secret-0123456789" not in out and s3_server.secret_key not in out
    assert "Traceback" not in out


def test_signed_url_secrets_never_printed(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/store?X-Amz-Signature=SIGsecret0123456789&sig=OTHERsecret98765"
    for args in (["info", url], ["read-points", url, "-o", str(tmp_path / "o.npy")]):
        code, out = run(*args, "--option", "timeout=2", "--option", "max_retries=0")
        assert code == 2, out  # a signed URL is refused before any request
        assert "SIGsecret0123456789" not in out and "OTHERsecret98765" not in out
        assert "127.0.0.1" in out and "Traceback" not in out


# -- write-points --shard-shape / --memory-limit / --spill-dir --------------------------
def _cell_array_layout(store: Path) -> tuple[list[int], list[str]]:
    """The chunk grid (cells per stored object) and codec names of level 0's cell array."""
    doc = json.loads((store / "0" / "vertices" / "zarr.json").read_text())
    return doc["chunk_grid"]["configuration"]["chunk_shape"], [c["name"] for c in doc["codecs"]]


@pytest.mark.parametrize(("given", "shard"), [("4", [4, 4, 4]), ("2,4,1", [2, 4, 1])])
def test_write_points_shard_shape_makes_a_sharded_store(
    tmp_path: Path, cloud: np.ndarray, labels: np.ndarray, given: str, shard: list[int]
) -> None:
    write_ply(tmp_path / "in.ply", cloud, labels, "binary_little_endian")
    code, out = run(
        "write-points", tmp_path / "in.ply", tmp_path / "s", "-c", "10", "--shard-shape", given
    )
    assert code == 0, out
    assert _cell_array_layout(tmp_path / "s") == (shard, ["sharding_indexed"])
    got = read_points(tmp_path / "s")
    np.testing.assert_array_equal(
        as_set(got.positions, got.vertex_attributes["label"]), as_set(cloud, labels)
    )
    code, out = run("write-points", tmp_path / "in.ply", tmp_path / "u", "-c", "10")
    assert code == 0, out
    grid, codecs = _cell_array_layout(tmp_path / "u")  # the default: one object per cell
    assert grid == [1, 1, 1] and "sharding_indexed" not in codecs


def test_write_points_memory_limit_and_spill_dir_round_trip(tmp_path: Path) -> None:
    # 200,000 float64 points: 4.8 MB, over a quarter of 16 MiB, so the write streams
    # through temporary files in --spill-dir instead of holding every cell in memory.
    points = np.random.default_rng(11).uniform(0, 1000, (200_000, 3))
    np.save(tmp_path / "in.npy", points)
    spill = tmp_path / "spill"
    spill.mkdir()
    code, out = run(
        "write-points", tmp_path / "in.npy", tmp_path / "s", "-c", "100",
        "--memory-limit", "16MiB", "--spill-dir", spill, "--shard-shape", "2",
    )  # fmt: skip
    assert code == 0, out
    assert "Wrote 200,000 3-D points" in out
    np.testing.assert_array_equal(as_set(read_points(tmp_path / "s").positions), as_set(points))
    assert list(spill.iterdir()) == [], "temporary files are removed after the write"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--memory-limit", "1MB"], "'1MB': give a size of at least 16 MiB"),
        (["--memory-limit", "lots"], "'lots': give a size of at least 16 MiB"),
        (["--memory-limit", "-5GB"], "'-5GB': give a size of at least 16 MiB"),
        (["--shard-shape", "0"], "'0': give whole numbers of cells per shard >= 1"),
        (["--shard-shape", "2.5"], "'2.5': give whole numbers of cells per shard >= 1"),
        (["--shard-shape", "4,4"], "--shard-shape must be a positive number of cells per shard"),
        (["--spill-dir", "{tmp}/nowhere"], "Directory '{tmp}/nowhere' does not exist"),
    ],
)
def test_write_points_bad_storage_options_exit_2(
    tmp_path: Path, cloud: np.ndarray, args: list[str], needle: str
) -> None:
    np.save(tmp_path / "in.npy", cloud)
    given = [a.format(tmp=tmp_path) for a in args]
    code, out = run("write-points", tmp_path / "in.npy", tmp_path / "s", "-c", "10", *given)
    assert code == 2, out
    assert needle.format(tmp=tmp_path) in out and "Traceback" not in out
    assert not (tmp_path / "s").exists()
