"""Validation of store keys and prefixes.

Keys are checked before any storage is touched, so that a malformed key can
never reach a file system path or an object-store request. The rules are those
of an object-store key that is also a safe relative POSIX path.
"""

from __future__ import annotations

from collections.abc import Iterable

from zarr_vectors.exceptions import InvalidKeyError

__all__ = ["children_of", "normalize_prefix", "validate_key"]


def _problem(key: str) -> str | None:
    if key == "":
        return "it is empty"
    if "\x00" in key:
        return "it contains a NUL character"
    if "\\" in key:
        return "it contains a backslash (use '/' to separate segments)"
    if key.startswith("/"):
        return "it starts with '/' (keys are relative to the store root)"
    for segment in key.split("/"):
        if segment == "":
            return "it has an empty segment ('//' or a trailing '/')"
        if segment in (".", ".."):
            return f"it has a '{segment}' segment"
    return None


def validate_key(key: object) -> str:
    """Return ``key`` if it is a valid object key, else raise :class:`InvalidKeyError`.

    A valid key is a non-empty string of '/'-separated segments, none of them
    empty, '.' or '..', with no leading '/', no backslash and no NUL.
    """
    if not isinstance(key, str):
        raise InvalidKeyError(
            f"Store keys must be str, got {type(key).__name__}: {key!r}. "
            "Pass the key as a '/'-separated string such as '0/vertices/zarr.json'."
        )
    problem = _problem(key)
    if problem is not None:
        raise InvalidKeyError(
            f"Invalid store key {key!r}: {problem}. Keys are '/'-separated relative paths "
            "such as '0/vertices/c/0/0/0'."
        )
    return key


def normalize_prefix(prefix: object) -> str:
    """Validate a listing/deletion prefix and return it with exactly one trailing '/'.

    A prefix names a directory: ``"a"`` and ``"a/"`` both mean everything under
    ``a/`` and never ``ab``. The empty prefix means the whole store and is
    returned as ``""``.
    """
    if not isinstance(prefix, str):
        raise InvalidKeyError(
            f"Store prefixes must be str, got {type(prefix).__name__}: {prefix!r}."
        )
    if prefix == "":
        return ""
    stripped = prefix[:-1] if prefix.endswith("/") else prefix
    validate_key(stripped)
    return stripped + "/"


def children_of(prefix: str, keys: Iterable[str], recursive: bool) -> list[str]:
    """List helper for flat key spaces (object stores, dicts, SQL tables).

    ``prefix`` is normalised ('' or ending in '/'); ``keys`` are all object keys
    under it (any order). Returns what :meth:`Backend._list` must return.
    """
    if recursive:
        return sorted(k for k in keys if k.startswith(prefix))
    found: set[str] = set()
    cut = len(prefix)
    for key in keys:
        if not key.startswith(prefix):
            continue
        rest = key[cut:]
        slash = rest.find("/")
        found.add(key if slash < 0 else prefix + rest[: slash + 1])
    return sorted(found)
