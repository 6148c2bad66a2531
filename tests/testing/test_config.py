"""How hard the kit pushes (config.py): two profiles by URL, each field checked and adjustable."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import Phase

from tests.helpers.kit_routes import faulty_dist
from zarr_vectors.exceptions import ValidationError
from zarr_vectors.testing import KitConfig


def test_remote_defaults_are_gentler_and_adjustable() -> None:
    local, remote = KitConfig.for_url("/tmp/x"), KitConfig.for_url("s3://bucket/x")
    assert remote.max_examples < local.max_examples
    assert remote.deadline is not None and local.deadline is not None
    assert remote.deadline > local.deadline
    assert remote.call_timeout > local.call_timeout
    assert KitConfig.for_url("memory://x") == local == KitConfig.for_url("file:///x")
    tuned = remote.with_changes(max_examples=3, deadline=timedelta(minutes=5))
    assert (tuned.max_examples, tuned.deadline) == (3, timedelta(minutes=5))
    assert tuned.settings().max_examples == 3


def test_servers_on_this_machine_get_the_local_profile() -> None:
    assert KitConfig.for_url("s3://127.0.0.1:9000/b") == KitConfig.for_url("http://localhost/x")
    assert KitConfig.for_url("http://[::1]:8080/x") == KitConfig.local()
    assert KitConfig.for_url("http://example.com/x") == KitConfig.remote()
    assert KitConfig.for_url("http://[bad/x") == KitConfig.remote()  # no host to read


def test_effort_follows_the_schemes_a_plugin_declares_local(tmp_path: Path) -> None:
    code = (
        "from zarr_vectors.testing import KitConfig\n"
        "print(KitConfig.for_url('dict://x') == KitConfig.local())"
    )
    for local, expected in ((True, "True"), (False, "False")):
        env = faulty_dist(tmp_path / f"site-{local}", None, local=local)
        run = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert run.stdout.strip() == expected


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"skip": frozenset({"persistance"})}, "persistance"),
        ({"max_examples": 0}, "max_examples must be >= 1"),
        ({"stateful_step_count": 0}, "stateful_step_count must be >= 1"),
        ({"roundtrip_examples": 0}, "roundtrip_examples must be >= 1"),
        ({"call_timeout": 0}, "call_timeout must be a number of seconds > 0"),
        ({"batch_keys": 0}, "batch_keys must be >= 1"),
        ({"shrink_seconds": 0.0}, "shrink_seconds must be > 0"),
        ({"max_value_size": -1}, "max_value_size must be >= 0"),
    ],
)
def test_a_bad_setting_is_refused_by_name(changes: dict[str, object], named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        KitConfig(**changes)  # type: ignore[arg-type]


def test_skip_is_kept_as_a_frozenset_and_none_changes_nothing() -> None:
    config = KitConfig(skip={"persistence"})  # type: ignore[arg-type]
    assert config.skip == frozenset({"persistence"})
    assert config.with_changes(seed=None, max_examples=None) == config


def test_the_hypothesis_settings_follow_the_fields() -> None:
    config = KitConfig(max_examples=7, stateful_step_count=9, derandomize=True)
    settings = config.settings()
    assert settings.max_examples == 7 and settings.derandomize and settings.database is None
    assert Phase.shrink in settings.phases
    assert config.settings(examples=2).max_examples == 2
    assert config.settings(stateful=True).stateful_step_count == 9
    assert Phase.shrink not in config.with_changes(shrink=False).settings().phases


def test_a_seed_is_applied_unless_derandomized() -> None:
    def test() -> None: ...

    assert KitConfig().seeded(test) is test
    assert KitConfig(seed=5, derandomize=True).seeded(test) is test
    seeded = KitConfig(seed=5).seeded(test)
    assert getattr(seeded, "_hypothesis_internal_use_seed", None) == 5
