"""Key and prefix validation: every bad key is refused before storage is touched."""

from __future__ import annotations

import pytest

from zarr_vectors.exceptions import InvalidKeyError
from zarr_vectors.storage import normalize_prefix, validate_key
from zarr_vectors.storage.local import LocalBackend

BAD_KEYS = [
    ("", "empty"),
    ("/abs", "starts with '/'"),
    ("a//b", "empty segment"),
    ("a/", "empty segment"),
    ("a/./b", "'.' segment"),
    ("../x", "'..' segment"),
    ("a/..", "'..' segment"),
    ("a\\b", "backslash"),
    ("a\x00b", "NUL"),
]


@pytest.mark.parametrize(("key", "reason"), BAD_KEYS)
def test_bad_keys_are_refused_with_the_reason(key: str, reason: str) -> None:
    with pytest.raises(InvalidKeyError, match=reason.split()[-1] if reason != "empty" else "empty"):
        validate_key(key)


@pytest.mark.parametrize("key", [1, None, b"a"])
def test_non_string_keys_are_refused(key: object) -> None:
    with pytest.raises(InvalidKeyError, match="must be str"):
        validate_key(key)


@pytest.mark.parametrize("key", ["a", "a/b", ".zattrs", "0/vertices/c/0/0/0", "é/ü/雪", "a..b"])
def test_good_keys_pass(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    ("prefix", "normalized"), [("", ""), ("a", "a/"), ("a/", "a/"), ("a/b", "a/b/")]
)
def test_prefixes_are_directories(prefix: str, normalized: str) -> None:
    assert normalize_prefix(prefix) == normalized


@pytest.mark.parametrize("prefix", ["/", "a//", "../a", "a/../b"])
def test_bad_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(InvalidKeyError):
        normalize_prefix(prefix)


@pytest.mark.parametrize(("key", "_reason"), BAD_KEYS)
def test_backend_touches_nothing_for_bad_keys(tmp_path, key: str, _reason: str) -> None:
    root = tmp_path / "store"
    backend = LocalBackend(root)
    for call in (
        lambda: backend.put_bytes(key, b"x"),
        lambda: backend.get_bytes(key),
        lambda: backend.get_range(key, 0, 1),
        lambda: backend.exists(key),
        lambda: backend.delete(key),
        lambda: backend.put_many({key: b"x"}),
        lambda: backend.get_many([key]),
    ):
        with pytest.raises(InvalidKeyError):
            call()
    assert list(tmp_path.iterdir()) == [], "a refused key must not create anything"
