"""Backend discovery and plugin faults, with real installed distributions.

Which backend a URL resolves to is in test_resolve.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from tests.helpers.plugin_dists import write_dist
from tests.helpers.registry import CLOUD, rediscover
from zarr_vectors import storage as zb
from zarr_vectors.exceptions import (
    BackendPluginWarning,
    PluginError,
)
from zarr_vectors.storage import (
    make_backend,
    refresh_backends,
    resolve_backend_name,
)


def test_scheme_tables_come_from_plugins(
    fresh_registry: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert frozenset({"", "file"}) == zb.SCHEMES_LOCAL
    assert set(CLOUD) <= zb.SCHEMES_OBJECT_STORE
    assert zb.SCHEME_BACKENDS["s3"][:2] == ("obstore", "fsspec")
    assert "memory" not in zb.SCHEMES_OBJECT_STORE
    monkeypatch.setenv("ZARR_VECTORS_DISABLE_PLUGINS", "obstore,fsspec")
    rediscover()
    assert frozenset() == zb.SCHEMES_OBJECT_STORE
    assert "s3" not in zb.SCHEME_BACKENDS


def test_discovery_is_cached_until_refreshed(fresh_registry: None) -> None:
    from zarr_vectors.storage.registry import get_registry

    first = get_registry()
    assert get_registry() is first
    assert refresh_backends() is not first


# -- faulty and conflicting plugins, installed as real distributions --------------------


def test_broken_plugin_is_reported_once_and_does_not_break_others(
    fresh_registry: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    write_dist(
        site,
        "zv-broken-plugin",
        "0.3",
        {"zarr_vectors.backends": {"brokenzv": "zv_broken_mod:INFO"}},
        {"zv_broken_mod": "raise ImportError('libfrob.so: cannot open shared object')\n"},
    )
    write_dist(
        site,
        "zv-wrong-type",
        "1.0",
        {"zarr_vectors.backends": {"wrongtype": "zv_wrong_mod:INFO"}},
        {"zv_wrong_mod": "INFO = {'name': 'wrongtype'}\n"},
    )
    monkeypatch.syspath_prepend(str(site))
    with pytest.warns(BackendPluginWarning) as caught:
        refresh_backends()
    messages = [str(w.message) for w in caught]
    assert sum("brokenzv" in m for m in messages) == 1
    assert sum("wrongtype" in m for m in messages) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", BackendPluginWarning)
        refresh_backends()  # reported once per process, not at every discovery

    records = {r.name: r for r in zb.list_backends()}
    assert records["brokenzv"].status == "broken"
    assert "libfrob.so" in records["brokenzv"].reason
    assert records["brokenzv"].distribution == "zv-broken-plugin"
    assert records["wrongtype"].status == "broken"
    assert records["local"].status == "ok" and records["obstore"].status == "ok"
    assert resolve_backend_name("s3://b/k") == "obstore"

    with pytest.raises(PluginError, match="brokenzv") as info:
        make_backend("/tmp/x", backend="brokenzv")
    assert isinstance(info.value.__cause__, ImportError)


def test_conflicting_plugins_resolve_deterministically(
    fresh_registry: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    module = """
        from zarr_vectors.storage.info import BackendInfo
        from zarr_vectors.storage.local import LocalBackend

        class {cls}(LocalBackend):
            backend_name = "{name}"

        INFO = BackendInfo(name="{name}", schemes=("zvtest",), priority={priority},
                           factory=__name__ + ":{cls}")
        """
    # Two distributions claim the same name at different priorities: the higher one wins.
    write_dist(
        site,
        "zv-dup-low",
        "1.0",
        {"zarr_vectors.backends": {"dupe": "zv_dup_low:INFO"}},
        {"zv_dup_low": module.format(cls="Low", name="dupe", priority=1)},
    )
    write_dist(
        site,
        "zv-dup-high",
        "1.0",
        {"zarr_vectors.backends": {"dupe": "zv_dup_high:INFO"}},
        {"zv_dup_high": module.format(cls="High", name="dupe", priority=5)},
    )
    # Two backends claim the scheme zvtie at the same priority: the first name wins.
    tie = module.replace("zvtest", "zvtie")
    write_dist(
        site,
        "zv-tie-b",
        "1.0",
        {"zarr_vectors.backends": {"tieb": "zv_tie_b:INFO"}},
        {"zv_tie_b": tie.format(cls="TieB", name="tieb", priority=7)},
    )
    write_dist(
        site,
        "zv-tie-a",
        "1.0",
        {"zarr_vectors.backends": {"tiea": "zv_tie_a:INFO"}},
        {"zv_tie_a": tie.format(cls="TieA", name="tiea", priority=7)},
    )
    monkeypatch.syspath_prepend(str(site))
    with pytest.warns(BackendPluginWarning) as caught:
        refresh_backends()
    messages = " ".join(str(w.message) for w in caught)
    assert "dupe" in messages and "zvtie" in messages

    records = [r for r in zb.list_backends() if r.name == "dupe"]
    assert {r.distribution: r.status for r in records} == {
        "zv-dup-high": "ok",
        "zv-dup-low": "shadowed",
    }
    backend = make_backend(
        "zvtest://anything/at/all".replace("zvtest://", str(tmp_path) + "/"), backend="dupe"
    )
    assert type(backend).__name__ == "High"
    assert resolve_backend_name("zvtie://x") == "tiea"
    assert resolve_backend_name("zvtest://x") == "dupe"


# -- import cost ----------------------------------------------------------------------------

LIGHT = """
import sys
import zarr_vectors
from zarr_vectors.storage import list_backends, resolve_backend_name, get_backend_info
list_backends()
assert resolve_backend_name("s3://bucket/key") == "obstore"
get_backend_info("fsspec")
HEAVY = {"obstore", "fsspec", "s3fs", "gcsfs", "adlfs", "zarr", "numpy"}
heavy = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
print(",".join(heavy))
"""


def test_import_and_resolution_import_no_heavy_library() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZARR_VECTORS_")}
    out = subprocess.run(
        [sys.executable, "-c", LIGHT], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "", f"heavy modules imported: {out.stdout.strip()}"
