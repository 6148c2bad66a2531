"""What the kit runs against (target.py): a scratch location it opens, empties and cleans up.

A location already holding objects is refused and left alone; a read-only
backend is refused with the reason; a delete_prefix('') that leaves objects
behind is named; isolated examples move to sub-prefixes; a target made by name
can be sent to another process with its time limit.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from tests.helpers.kit_expected import FEWER, fault_target
from tests.helpers.kit_faulty import DictBackend
from zarr_vectors.exceptions import ConformanceError, StoreError
from zarr_vectors.testing import KitTarget, run_check, run_kit
from zarr_vectors.testing.guarded import GuardedBackend
from zarr_vectors.testing.model import MAX_KEY_BYTES
from zarr_vectors.testing.target import close_quietly


def test_a_location_holding_objects_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "precious").write_bytes(b"data")
    with pytest.raises(StoreError, match="already holds objects"):
        run_kit(KitTarget.from_name("local", str(tmp_path)), FEWER)
    assert (tmp_path / "precious").read_bytes() == b"data"


def test_a_read_only_backend_is_refused_with_a_reason() -> None:
    class ReadOnly(DictBackend):
        writable = False

    result = run_check("key-contract", fault_target(ReadOnly), FEWER)
    assert result.status == "failed" and "read-only (writable = False)" in result.message


def test_urls_of_unknown_schemes_keep_their_slashes() -> None:
    """A plugin's URL (sqlite:///file.db) is shown as given, with secrets still hidden."""
    from zarr_vectors.storage.secrets import redact_url

    assert redact_url("sqlite:///data/x.db") == "sqlite:///data/x.db"
    assert redact_url("sqlite:///data/x.db?token=abc") == "sqlite:///data/x.db?token=***"
    assert KitTarget.from_name("local", "sqlite:///data/x.db").url == "sqlite:///data/x.db"


def test_a_location_that_cannot_be_emptied_is_named() -> None:
    class KeepsOne(DictBackend):
        def _delete_prefix(self, prefix: str) -> None:
            for key in [k for k in self.objects if k != "stuck"]:
                del self.objects[key]

    target = fault_target(KeepsOne)
    target.open().put_bytes("stuck", b"x")
    with pytest.raises(ConformanceError, match=r"delete_prefix\(''\) left 1 object\(s\).*'stuck'"):
        target.fresh()


def test_fresh_opens_an_empty_guarded_backend_with_a_fresh_log() -> None:
    target = fault_target(DictBackend)
    first = target.fresh()
    first.put_bytes("a", b"1")
    assert target.guard.calls() == ["put_bytes('a', <1 bytes>) -> None"]
    second = target.fresh()
    assert isinstance(second, GuardedBackend) and isinstance(second.wrapped, DictBackend)
    assert target.guard.calls() == []  # the emptying is not part of the example
    assert list(second.list_prefix("", recursive=True)) == []
    close_quietly(first)
    close_quietly(second)


def test_examples_of_an_isolated_target_move_to_sub_prefixes(tmp_path: Path) -> None:
    target = KitTarget.from_name("local", str(tmp_path / "scratch")).isolated()
    assert target.isolating and target.max_key_bytes == MAX_KEY_BYTES - 16
    first = target.fresh()
    first.put_bytes("k", b"1")
    close_quietly(first)
    second = target.fresh()
    assert target.example_count == 2 and not second.exists("k")
    close_quietly(second)
    assert (tmp_path / "scratch" / "ex1" / "k").exists()
    target.cleanup()
    assert not list((tmp_path / "scratch").rglob("k"))
    with pytest.raises(ConformanceError, match=r"needs a target made by KitTarget\.from_name"):
        fault_target(DictBackend).isolated()


def test_object_stores_count_their_prefix_in_the_key_budget() -> None:
    assert KitTarget(lambda: None, url="s3://bucket/kit/run").max_key_bytes == 1024 - 8
    assert KitTarget(lambda: None, url="s3://bucket").max_key_bytes == 1024
    assert KitTarget(lambda: None, url="/tmp/kit/run").max_key_bytes == 1024


def test_a_target_made_by_name_travels_with_its_time_limit(tmp_path: Path) -> None:
    target = KitTarget.from_name("local", str(tmp_path), fsync=True)
    target.configure(7.5)
    copy = pickle.loads(pickle.dumps(target))
    assert copy.guard is not target.guard and copy.guard.timeout == 7.5
    assert copy.description == "local backend at " + str(tmp_path) + " with options {'fsync': True}"
    close_quietly(copy.open())
