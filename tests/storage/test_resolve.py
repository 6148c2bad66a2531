"""Which backend serves a URL (zarr_vectors.storage.resolve): the resolution matrix, its errors.

Plugins are the installed ones (obstore, fsspec), switched off through
``ZARR_VECTORS_DISABLE_PLUGINS``; discovery itself is in test_registry.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.registry import CLOUD, rediscover
from zarr_vectors.exceptions import BackendOptionError, StoreError
from zarr_vectors.storage import make_backend, resolve_backend_name
from zarr_vectors.storage.local import LocalBackend


@pytest.mark.parametrize(
    "url",
    ["/data/cloud.zarr", "relative/dir", "C:\\data\\x", "c:/data/x", "D:", "file:///tmp/a"],
)
def test_paths_and_file_urls_are_local(fresh_registry: None, url: str) -> None:
    assert resolve_backend_name(url) == "local"
    assert resolve_backend_name(Path("/tmp/x")) == "local"


@pytest.mark.parametrize("scheme", CLOUD)
def test_cloud_schemes_prefer_obstore(fresh_registry: None, scheme: str) -> None:
    assert resolve_backend_name(f"{scheme}://bucket/key") == "obstore"
    assert resolve_backend_name(f"{scheme.upper()}://bucket/key") == "obstore"


@pytest.mark.parametrize("scheme", CLOUD)
def test_cloud_schemes_fall_back_to_fsspec(
    fresh_registry: None, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    monkeypatch.setenv("ZARR_VECTORS_DISABLE_PLUGINS", "obstore")
    rediscover()
    assert resolve_backend_name(f"{scheme}://bucket/key") == "fsspec"


@pytest.mark.parametrize("scheme", CLOUD)
def test_cloud_scheme_with_no_plugin_says_what_to_install(
    fresh_registry: None, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    monkeypatch.setenv("ZARR_VECTORS_DISABLE_PLUGINS", "obstore,fsspec")
    rediscover()
    with pytest.raises(StoreError) as info:
        resolve_backend_name(f"{scheme}://bucket/key")
    message = str(info.value)
    assert f"'{scheme}://'" in message
    assert 'pip install "zarr-vectors-core[obstore]"' in message


@pytest.mark.parametrize("url", ["foo://x/y", "nosuch://bucket"])
def test_unknown_scheme_names_it_and_installed_backends(
    fresh_registry: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError) as info:
        make_backend(url)
    message = str(info.value)
    assert url.split("://")[0] in message
    assert "local" in message and "obstore" in message
    assert list(tmp_path.iterdir()) == [], "no directory may be created for an unserved URL"


def test_memory_without_fsspec_is_refused_not_made_local(
    fresh_registry: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZARR_VECTORS_DISABLE_PLUGINS", "fsspec")
    rediscover()
    with pytest.raises(StoreError, match="memory://"):
        make_backend("memory://store")
    assert list(tmp_path.iterdir()) == []


def test_explicit_beats_environment_beats_scheme(
    fresh_registry: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZARR_VECTORS_BACKEND", "fsspec")
    assert resolve_backend_name("s3://b/k") == "fsspec"
    assert resolve_backend_name("/local/path") == "fsspec"
    assert resolve_backend_name("s3://b/k", explicit="obstore") == "obstore"
    monkeypatch.setenv("ZARR_VECTORS_BACKEND", "nonesuch")
    with pytest.raises(StoreError, match="nonesuch"):
        resolve_backend_name("s3://b/k")
    assert resolve_backend_name("s3://b/k", explicit="local") == "local"


def test_unknown_backend_name_lists_available(fresh_registry: None) -> None:
    with pytest.raises(StoreError) as info:
        make_backend("/tmp/x", backend="nonesuch")
    assert "nonesuch" in str(info.value)
    for name in ("local", "obstore", "fsspec"):
        assert name in str(info.value)


def test_backend_kwargs_reach_the_constructor(fresh_registry: None, tmp_path: Path) -> None:
    backend = make_backend(tmp_path, fsync=True, max_concurrency=3)
    assert isinstance(backend, LocalBackend)
    assert backend.fsync is True and backend.max_concurrency == 3
    with pytest.raises(BackendOptionError) as info:
        make_backend(tmp_path, region="eu-west-1")
    assert "'local'" in str(info.value) and "region" in str(info.value)
    assert isinstance(info.value, TypeError)
    assert make_backend(backend) is backend
