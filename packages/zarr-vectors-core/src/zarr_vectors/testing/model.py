"""The reference a backend is compared with: a dict that follows the protocol to the letter.

Every answer the kit expects from a backend is computed here, from the
semantics written down in :mod:`zarr_vectors.storage.base` and the key
contract in ``docs/storage.md`` ("The key contract"), which this module states
in code: :func:`contract_problem` says whether a key is one every backend must
store, and :func:`explain_keys` names the usual ways a backend changes keys
(Unicode normalisation, percent-encoding, truncation) when a listing differs.
Kept free of hypothesis so that it can be read (and tested) on its own.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from urllib.parse import quote, unquote, unquote_plus

from zarr_vectors.exceptions import InvalidKeyError
from zarr_vectors.storage import children_of, normalize_prefix

__all__ = [
    "CORE_PRIVATE_KEYS",
    "MAX_KEY_BYTES",
    "MAX_SEGMENT_BYTES",
    "NON_PORTABLE",
    "PRIVATE_SEGMENT_PREFIX",
    "RESERVED_SEGMENT_PREFIX",
    "Model",
    "contract_problem",
    "explain_keys",
]

#: Every backend stores keys of up to this many bytes of UTF-8 (S3, GCS and Azure take 1,024).
MAX_KEY_BYTES = 1024
#: ... with segments of up to this many bytes: a file name on the common file systems.
MAX_SEGMENT_BYTES = 255
#: Characters a portable key never holds: Windows file names refuse ``:*?"<>|``, and SDKs
#: that build URLs cut a key at ``#`` (Azure through adlfs). A backend may refuse a key
#: holding one (with InvalidKeyError) but must never store it under another key.
NON_PORTABLE = frozenset(':*?"<>|#')
#: Segments starting with this are kept for a backend's own temporary files (the local
#: and fsspec backends write ``.zv-tmp-*`` beside a target and rename it); a backend may
#: hide or refuse such keys, and the kit never writes one.
RESERVED_SEGMENT_PREFIX = ".zv-tmp-"
#: Every other ``.zv-`` segment is zarr-vectors' own bookkeeping, written through the
#: backend like any object: commit records, writers' claims, a replace's staged copy.
#: A backend must store, list and read them exactly like other keys (one that hides
#: them passes reads and then breaks concurrent writers).
PRIVATE_SEGMENT_PREFIX = ".zv-"
#: Keys of the shapes the core writes under those prefixes (see format/journal.py,
#: format/lease.py and format/transaction.py).
CORE_PRIVATE_KEYS: tuple[str, ...] = (
    ".zv-log/000000000001.json",
    ".zv-log/000000000002.json",
    ".zv-claims/0f1e2d3c4b5a.json",
    ".zv-staged-0123456789ab/zarr.json",
    ".zv-staged-0123456789ab/0/vertices/c/0/0/0",
)


def contract_problem(key: str) -> str | None:
    """Why ``key`` is outside the key contract, or ``None`` if every backend must store it.

    The contract: a valid key (see :func:`~zarr_vectors.storage.keys.validate_key`)
    of at most :data:`MAX_KEY_BYTES` bytes of UTF-8, segments of at most
    :data:`MAX_SEGMENT_BYTES` bytes, holding any character but control characters,
    lone surrogates and :data:`NON_PORTABLE`; no segment starts or ends with a
    space, ends with '.', or starts with :data:`RESERVED_SEGMENT_PREFIX`. Other
    ``.zv-`` segments (:data:`CORE_PRIVATE_KEYS`) are inside the contract.
    """
    from zarr_vectors.storage import validate_key

    try:
        validate_key(key)
    except InvalidKeyError as exc:
        return str(exc)
    for char in key:
        if unicodedata.category(char) in ("Cc", "Cs") or char in NON_PORTABLE:
            return f"it holds {char!a}, which not every storage can keep in a name"
    size = len(key.encode("utf-8"))
    if size > MAX_KEY_BYTES:
        return f"it is {size} bytes of UTF-8, more than {MAX_KEY_BYTES}"
    for segment in key.split("/"):
        length = len(segment.encode("utf-8"))
        if length > MAX_SEGMENT_BYTES:
            return f"a segment is {length} bytes of UTF-8, more than {MAX_SEGMENT_BYTES}"
        if segment != segment.strip(" "):
            return "a segment starts or ends with a space (Windows file systems drop it)"
        if segment.endswith("."):
            return "a segment ends with '.' (Windows and Azure Blob Storage drop it)"
        if segment.startswith(RESERVED_SEGMENT_PREFIX):
            return (
                f"a segment starts with {RESERVED_SEGMENT_PREFIX!r}, kept for a backend's own "
                "temporary files"
            )
    return None


def _transforms() -> list[tuple[str, object]]:
    return [
        ("Unicode NFC normalisation", lambda k: unicodedata.normalize("NFC", k)),
        ("Unicode NFD normalisation", lambda k: unicodedata.normalize("NFD", k)),
        ("spaces stored as '%20'", lambda k: k.replace(" ", "%20")),
        ("spaces stored as '+'", lambda k: k.replace(" ", "+")),
        ("percent-encoding (URL quoting) of the key", lambda k: quote(k, safe="/")),
        ("percent-decoding of the key", unquote),
        ("'+' decoded to a space", unquote_plus),
        ("lower-casing", str.lower),
    ]


def explain_keys(got: Iterable[str], want: Iterable[str]) -> str:
    """What differs between two key listings, with the likely cause when one is recognised.

    Keys are shown with escapes (so ``'\\xe9'`` and ``'e\\u0301'`` differ on screen as
    they do in storage) and long keys by their start, end and length.
    """
    from zarr_vectors.testing.show import show_key, show_keys

    got_list, want_list = list(got), list(want)
    got_set, want_set = set(got_list), set(want_list)
    extra = [k for k in got_list if k not in want_set]
    missing = [k for k in want_list if k not in got_set]
    parts: list[str] = []
    if missing:
        parts.append(f"missing {show_keys(missing)}")
    if extra:
        parts.append(f"unexpected {show_keys(extra)}")
    if not extra and not missing:
        if len(got_list) != len(set(got_list)):
            repeated = sorted({k for k in got_list if got_list.count(k) > 1})
            parts.append(f"repeated {show_keys(repeated)}")
        elif got_list != want_list:
            parts.append("the same keys in another order (listings are sorted by code point)")
    for name, change in _transforms():
        hits = [
            (k, changed)
            for k in missing
            if (changed := change(k)) != k and changed in got_set  # type: ignore[operator]
        ]
        if hits:
            original, became = hits[0]
            parts.append(
                f"{show_key(original)} came back as {show_key(became)}: looks like "
                f"{name}; keys are byte-exact, stored and listed exactly as given"
            )
            break
    else:
        cut = [k for k in extra if any(m.startswith(k) and m != k for m in missing)]
        if cut:
            parts.append(f"{show_key(cut[0])} is a truncated key")
    return "; ".join(parts) if parts else "no difference"


class Model:
    """An in-memory store with the protocol's semantics.

    ``hierarchical`` mirrors :attr:`Backend.hierarchical_keys`: when true, a key
    cannot be both an object and the parent of another key (a file system).

    Besides the objects, the model remembers what it needs to judge version
    tokens (``head().version``, ``put_if``): how many writes each key has seen,
    and every version observed for it with the contents it stood for.
    """

    def __init__(self, hierarchical: bool = False) -> None:
        self.data: dict[str, bytes] = {}
        self.hierarchical = hierarchical
        #: writes (puts and deletes that removed something) per key
        self.generation: dict[str, int] = {}
        #: key -> version -> (generation, contents) when it was seen
        self.versions: dict[str, dict[str, tuple[int, bytes]]] = {}

    def conflicts(self, key: str, others: Iterable[str] | None = None) -> bool:
        """Whether storing ``key`` would make an object also a parent (hierarchical only)."""
        if not self.hierarchical:
            return False
        pool = self.data if others is None else others
        return any(o != key and (o.startswith(key + "/") or key.startswith(o + "/")) for o in pool)

    def _touch(self, key: str) -> None:
        self.generation[key] = self.generation.get(key, 0) + 1

    def put(self, key: str, value: bytes) -> None:
        self.data[key] = bytes(value)
        self._touch(key)

    def put_many(self, items: Iterable[tuple[str, bytes]]) -> None:
        """Apply a batch: a key given twice keeps its last value."""
        for key, value in items:
            self.put(key, value)

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def head(self, key: str) -> int | None:
        """The size ``head(key)`` must report, or ``None`` (KeyError) when missing."""
        value = self.data.get(key)
        return None if value is None else len(value)

    def get_range(self, key: str, start: int, length: int | None) -> bytes | None:
        value = self.data.get(key)
        if value is None:
            return None
        return value[start:] if length is None else value[start : start + length]

    def delete(self, key: str) -> None:
        if self.data.pop(key, None) is not None:
            self._touch(key)

    def delete_many(self, keys: Iterable[str]) -> None:
        """Missing keys and repeated keys are fine."""
        for key in keys:
            self.delete(key)

    def move_many(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Each source's value to its destination, the source gone; a missing source is
        skipped (moved already) and a move of a key onto itself changes nothing."""
        for source, destination in pairs:
            value = self.data.get(source)
            if value is None or source == destination:
                continue
            self.put(destination, value)
            self.delete(source)

    def delete_prefix(self, prefix: str) -> None:
        cut = normalize_prefix(prefix)
        for key in [k for k in self.data if k.startswith(cut)]:
            self.delete(key)

    def ls(self, prefix: str, recursive: bool) -> list[str]:
        return children_of(normalize_prefix(prefix), self.data, recursive)

    def listing(self) -> list[str]:
        return sorted(self.data)

    # -- versions ----------------------------------------------------------------------
    def version_problem(self, key: str, version: str | None) -> str | None:
        """Check a version token just read for ``key`` against every earlier one.

        A version must stay the same while the object is not written, and must
        differ from every version seen for other contents of the key (else a
        conditional write holding an old version could overwrite new contents).
        A rewrite with the same bytes may keep its version (an ETag is a hash)
        or change it. Records the observation; ``None`` means no problem.
        """
        if version is None or key not in self.data:
            return None
        generation = self.generation.get(key, 0)
        contents = self.data[key]
        seen = self.versions.setdefault(key, {})
        for old_version, (old_generation, _) in seen.items():
            if old_generation == generation and old_version != version:
                return (
                    f"the version changed from {old_version!r} to {version!r} although "
                    "the object was not written in between"
                )
        earlier = seen.get(version)
        if earlier is not None and earlier[1] != contents:
            return (
                f"version {version!r} was already given to other contents of this key; a "
                "version must change whenever the object does"
            )
        seen[version] = (generation, contents)
        return None

    def stale_version(self, key: str) -> str:
        """A version of ``key`` that must not match now: an old one for other contents."""
        current = self.data.get(key)
        contents = current
        for version, (_, old_contents) in self.versions.get(key, {}).items():
            if old_contents != contents:
                return version
        return "zv-kit-never-a-version"
