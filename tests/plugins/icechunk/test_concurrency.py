"""Concurrent writers of one Icechunk repository on S3 (SeaweedFS, conditional writes).

Icechunk moves a branch with a conditional write of its reference, so of two
commits made from the same parent one wins and the other is refused. An append
that is refused is redone by the core on the new tip; a replace is not, and
raises naming the commit that won.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarr_vectors_icechunk as zi
from zarr_vectors.exceptions import TransactionConflictError
from zarr_vectors.types.points import read_points, write_points
from zarr_vectors_icechunk.backend import IcechunkBackend

pytestmark = pytest.mark.servers

BOUNDS = ((0.0, 0.0, 0.0), (100.0, 100.0, 100.0))
WRITERS = int(__import__("os").environ.get("ZV_IC_WRITERS", "4"))
APPENDS = 4

_WRITER = textwrap.dedent(
    """
    import faulthandler, json, os, sys, time
    import numpy as np
    from zarr_vectors.types.points import write_points

    url, options, start, index, appends = sys.argv[1:]
    options = json.loads(options)
    faulthandler.dump_traceback_later(500, exit=True)  # a hang shows where, then ends
    while not os.path.exists(start):  # all writers begin together
        time.sleep(0.01)
    for k in range(int(appends)):
        rows = np.random.default_rng(1000 * int(index) + k).uniform(0, 100, (300, 3))
        print("append", index, k, time.time(), file=sys.stderr, flush=True)
        write_points(url, rows.astype(np.float32), mode="a", backend="icechunk",
                     message=f"writer {index} append {k}", **options)
    """
)


def _points(n: int, seed: int) -> np.ndarray[Any, Any]:
    return np.random.default_rng(seed).uniform(0, 100, (n, 3)).astype(np.float32)


def _sorted(rows: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return rows[np.lexsort(rows.T[::-1])]


@pytest.fixture
def s3_repo(s3_server: Any, s3_bucket: str) -> tuple[str, dict[str, Any]]:
    options = s3_server.backend_options("obstore")  # the same option names
    return f"s3://{s3_bucket}/repo-{uuid.uuid4().hex[:8]}", options


@pytest.mark.slow
def test_concurrent_appenders_give_exactly_the_union(
    s3_repo: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    url, options = s3_repo
    first = _points(1000, seed=1)
    write_points(
        url,
        first,
        chunk_shape=(25.0,) * 3,
        bounds=BOUNDS,
        backend="icechunk",
        message="survey",
        **options,
    )
    start = tmp_path / "start"
    writers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WRITER,
                url,
                json.dumps(options),
                str(start),
                str(i),
                str(APPENDS),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(WRITERS)
    ]
    start.touch()
    for proc in writers:
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-3000:]
    expected = [first] + [
        np.random.default_rng(1000 * i + k).uniform(0, 100, (300, 3)).astype(np.float32)
        for i in range(WRITERS)
        for k in range(APPENDS)
    ]
    got = read_points(url, backend="icechunk", **options).positions
    np.testing.assert_array_equal(_sorted(got), _sorted(np.concatenate(expected)))
    messages = [e.message for e in zi.history(url, **options)]
    assert len(messages) == 2 + WRITERS * APPENDS  # initialization, survey, one per append
    assert sorted(m for m in messages if m.startswith("writer")) == sorted(
        f"writer {i} append {k}" for i in range(WRITERS) for k in range(APPENDS)
    )


def test_the_losing_commit_on_s3_names_the_winner(s3_repo: tuple[str, dict[str, Any]]) -> None:
    url, options = s3_repo
    write_points(
        url,
        _points(100, seed=2),
        chunk_shape=(25.0,) * 3,
        bounds=BOUNDS,
        backend="icechunk",
        **options,
    )
    head = zi.history(url, **options)[0].id
    with IcechunkBackend(url, **options) as one, IcechunkBackend(url, **options) as two:
        one.begin_transaction()
        two.begin_transaction()
        one.put_bytes("0/zarr.json", b'{"zarr_format": 3, "node_type": "group"}')
        two.put_bytes("0/zarr.json", b'{"zarr_format": 3, "node_type": "group"}')
        won = one.commit_transaction("one")
        with pytest.raises(TransactionConflictError) as info:
            two.commit_transaction("two")
    assert info.value.other == won and won in str(info.value) and head in str(info.value)
    assert [e.id for e in zi.history(url, **options)][:2] == [won, head]
