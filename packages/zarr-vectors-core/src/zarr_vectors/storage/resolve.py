"""Choosing and constructing a backend for a URL.

Order of precedence: an explicit ``backend=`` argument, then the
``ZARR_VECTORS_BACKEND`` environment variable, then the URL scheme looked up in
the scheme table built from the installed plugins. A bare path (a Windows
drive letter included) has the scheme ``""`` and ``file://`` has ``"file"``;
both are served by the built-in ``local`` backend.

Two mistakes are refused here, before any backend is made or anything is
written: a misspelled URL that would otherwise be a bare path (``s3:/b/x``,
``s3:b/x``, ``s3//b/x`` would make a local folder named ``s3:``) or an unknown
scheme one letter away from a known one (``htps://``), see
:func:`check_url_spelling`; and a backend chosen by name (``backend=`` or the
environment variable) for a URL whose scheme it does not serve.
"""

from __future__ import annotations

import inspect
import os
import re
from typing import Any

from zarr_vectors.exceptions import BackendOptionError, PluginError, StoreError
from zarr_vectors.storage.base import AsyncStorageBackend, Backend, StorageBackend
from zarr_vectors.storage.info import BackendInfo
from zarr_vectors.storage.registry import get_registry
from zarr_vectors.storage.secrets import redact_url

__all__ = [
    "BACKEND_ENV_VAR",
    "check_url_spelling",
    "make_backend",
    "resolve_backend_name",
    "url_scheme",
]

BACKEND_ENV_VAR = "ZARR_VECTORS_BACKEND"

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_DRIVE = re.compile(r"^[A-Za-z]:([\\/]|$)")
#: ``name:`` not followed by ``//`` (``s3:/b``, ``s3:b``, ``s3:``).
_COLON_WITHOUT_SLASHES = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):(?!//)(.*)$", re.DOTALL)
#: ``name//`` (the colon left out: ``s3//b``).
_SLASHES_WITHOUT_COLON = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)//(.*)$", re.DOTALL)
#: Real schemes that are never taken for a misspelling, whether or not a backend serves them.
_REAL_SCHEMES = frozenset(
    {
        "s3", "s3a", "s3n", "gs", "gcs", "az", "azure", "abfs", "abfss", "adl", "wasb", "wasbs",
        "http", "https", "ftp", "ftps", "sftp", "ssh", "hdfs", "webhdfs", "smb", "memory",
        "file", "zip", "tar", "oci", "r2", "hf", "github", "gdrive", "dropbox", "dbfs",
    }
)  # fmt: skip


def url_scheme(url: str | os.PathLike[str]) -> str:
    """The lower-case scheme of ``url``; ``""`` for a bare path (``C:\\data`` included)."""
    text = os.fspath(url)
    if _DRIVE.match(text):
        return ""
    match = _SCHEME.match(text)
    return match.group(1).lower() if match else ""


def _describe_scheme(scheme: str) -> str:
    return f"'{scheme}://'" if scheme else "bare paths"


def _known_schemes() -> set[str]:
    """Every scheme an installed backend serves, or the packaging knows an install for."""
    registry = get_registry()
    return {s for s in registry.scheme_table if s} | set(registry.install_hints) | {"file"}


def _distance(a: str, b: str) -> int:
    """Edits (insert, delete, replace, swap of neighbours) turning ``a`` into ``b``."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def _closest_scheme(scheme: str, known: set[str]) -> str | None:
    """The known scheme ``scheme`` is most likely a misspelling of, if any is close enough."""
    served = get_registry().scheme_table
    scored = []
    for candidate in known:
        distance = _distance(scheme, candidate)
        if distance <= (2 if min(len(scheme), len(candidate)) >= 5 else 1):
            scored.append((distance, candidate not in served, candidate))
    return min(scored)[2] if scored else None


def _suggest(scheme: str, rest: str) -> str:
    rest = rest.lstrip("/")
    return f"file:///{rest}" if scheme == "file" else f"{scheme}://{rest}"


def _shown(text: str, url: str) -> str:
    """``text`` (a misspelling of ``url``) with the credentials ``url`` carries hidden.

    :func:`redact_url` would rewrite the misspelling itself (``https:/h`` becomes
    ``https:///h``); the values it hides are hidden in ``text`` as they stand.
    """
    from urllib.parse import parse_qsl, urlsplit

    redacted = redact_url(url)
    if redacted == url:
        return text
    parts = urlsplit(url)
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if value and f"{name}={value}" not in redacted:
            text = text.replace(f"{name}={value}", f"{name}=***")
    if parts.password and f":{parts.password}@" not in redacted:
        text = text.replace(f":{parts.password}@", ":***@")
    return text


def check_url_spelling(url: str | os.PathLike[str]) -> None:
    """Refuse a misspelled URL with :class:`StoreError` saying what was probably meant.

    Refused: a known scheme followed by ``:`` without ``//`` (``s3:/bucket/x``,
    ``s3:bucket/x``, ``file:/tmp/x``) or by ``//`` without the colon
    (``s3//bucket/x``) -- each would otherwise be a bare path and make a local
    folder -- and an unknown ``xxx://`` scheme one edit from a known one
    (``htps://``, ``s4://``). Kept: every other path (``C:\\data``,
    ``notes:1``, ``./s3:/x``, ``data/s3/x``) and every scheme a backend serves.
    Known schemes are those of the installed backends and of the install hints.
    """
    text = os.fspath(url)
    if _DRIVE.match(text):
        return
    known = _known_schemes()
    match = _SCHEME.match(text)
    if match:
        scheme = match.group(1).lower()
        if scheme in known or scheme in _REAL_SCHEMES:
            return
        close = _closest_scheme(scheme, known)
        if close is not None:
            meant = _suggest(close, text[match.end() :])
            raise StoreError(
                f"Unknown URL scheme '{scheme}://' in '{_shown(text, meant)}'; did you mean "
                f"'{redact_url(meant)}'?"
            )
        return
    for pattern, what in (
        (_COLON_WITHOUT_SLASHES, "'//' missing after the colon"),
        (_SLASHES_WITHOUT_COLON, "':' missing before '//'"),
    ):
        match = pattern.match(text)
        if match and match.group(1).lower() in known:
            scheme = match.group(1).lower()
            meant = _suggest(scheme, match.group(2))
            where = _shown(text, meant)
            raise StoreError(
                f"'{where}' is not a valid {scheme}:// URL ({what}) and is not taken as a local "
                f"path; did you mean '{redact_url(meant)}'? (For a local path named so, write "
                f"'./{where}'.)"
            )


def resolve_backend_name(url: str | os.PathLike[str], explicit: str | None = None) -> str:
    """Name of the backend that will serve ``url``.

    ``explicit`` (the ``backend=`` argument) always wins, then the environment
    variable ``ZARR_VECTORS_BACKEND``, then the highest-priority installed
    backend for the URL's scheme. Raises :class:`StoreError` when nothing
    installed serves the scheme; the message names the scheme, the installed
    backends and, where the packaging metadata knows one, the install command.
    """
    check_url_spelling(url)
    registry = get_registry()
    chosen = explicit or os.environ.get(BACKEND_ENV_VAR) or None
    if chosen:
        registry.info(chosen)  # unknown -> StoreError, broken -> PluginError
        return chosen
    scheme = url_scheme(url)
    candidates = registry.scheme_table.get(scheme, ())
    if candidates:
        return candidates[0]
    installed = ", ".join(registry.available_names())
    hint = registry.install_hints.get(scheme)
    where = redact_url(os.fspath(url))
    if hint:
        raise StoreError(
            f"No installed zarr-vectors backend serves {_describe_scheme(scheme)} URLs "
            f"({where}). Install one with: {hint}. Installed backends: {installed or 'none'}."
        )
    raise StoreError(
        f"No installed zarr-vectors backend serves {_describe_scheme(scheme)} URLs ({where}). "
        f"Installed backends: {installed or 'none'}. Install a plugin for this scheme or pass "
        "backend=NAME to choose one."
    )


def _check_options(name: str, factory: Any, url: str, options: dict[str, Any]) -> None:
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return
    parameters = signature.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return
    accepted = [
        p.name
        for p in parameters
        if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ][1:]  # the first parameter takes the URL
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        documented = get_registry().info(name).options
        described = [f"{a} ({documented[a]})" if a in documented else a for a in accepted]
        raise BackendOptionError(
            f"The {name!r} backend does not accept the option(s) {', '.join(unknown)}. "
            f"It accepts: {', '.join(described) or 'no options'}."
        )


def _check_forced_backend(info: BackendInfo, url: str, *, explicit: bool) -> None:
    """Refuse a backend chosen by name that would take a URL for a local path.

    A backend that serves local paths (it declares ``""``, ``file`` or a local
    scheme) and is given a URL of a scheme it does not declare would read
    ``s3://bucket/x`` as a folder ``s3:`` -- the local backend does. Refused
    here, before its constructor runs. Left alone: local paths given to any
    backend (plugins such as fsspec serve them without declaring it, and are
    chosen by name for that), and backends that take no paths, whose
    constructors check the URL themselves and may serve schemes they do not
    claim as a default (obstore serves ``memory://`` when chosen by name).
    """
    scheme = url_scheme(url)
    takes_paths = bool({"", "file"} & set(info.schemes)) or bool(info.local_schemes)
    if scheme in ("", "file") or info.serves(scheme) or not takes_paths:
        return
    registry = get_registry()
    chosen = f"backend={info.name!r}" if explicit else f"{BACKEND_ENV_VAR}={info.name}"
    described = [_describe_scheme(s) for s in info.schemes]
    serves = (
        " and ".join([", ".join(described[:-1]), described[-1]])
        if len(described) > 1
        else "".join(described) or "no URLs"
    )
    others = [n for n in registry.scheme_table.get(scheme, ()) if n != info.name]
    if others:
        fix = (
            f"Backends installed for '{scheme}://': {', '.join(others)}; pass "
            f"backend={others[0]!r}"
            + (" or leave backend= out." if explicit else f" or unset {BACKEND_ENV_VAR}.")
        )
    else:
        hint = registry.install_hints.get(scheme)
        fix = f"No installed backend serves '{scheme}://'" + (
            f"; install one with: {hint}." if hint else "; install a plugin that does."
        )
    raise StoreError(
        f"The {info.name!r} backend ({chosen}) cannot serve '{redact_url(url)}': it serves "
        f"{serves}, not '{scheme}://'. {fix}"
    )


def make_backend(
    url: str | os.PathLike[str] | StorageBackend,
    backend: str | None = None,
    **backend_kwargs: Any,
) -> Backend:
    """Construct the backend that serves ``url`` (see :func:`resolve_backend_name`).

    ``backend_kwargs`` are passed to the backend's constructor; an option it
    does not take raises :class:`BackendOptionError` naming both. An already
    constructed backend is returned as it is.
    """
    if isinstance(url, StorageBackend) and isinstance(url, AsyncStorageBackend):
        if backend_kwargs:
            raise BackendOptionError(
                "Backend options were given together with an already constructed backend "
                f"({url!r}); pass them when constructing it instead."
            )
        return url  # type: ignore[return-value]
    if not isinstance(url, str | os.PathLike):
        raise StoreError(
            f"Cannot make a backend from a {type(url).__name__}; pass a path, a URL or a "
            "backend implementing both storage protocols."
        )
    name = resolve_backend_name(url, backend)
    info = get_registry().info(name)
    if backend or os.environ.get(BACKEND_ENV_VAR):
        _check_forced_backend(info, os.fspath(url), explicit=bool(backend))
    try:
        factory = info.load_factory()
    except Exception as exc:
        raise PluginError(
            f"The zarr-vectors backend {name!r} could not be imported "
            f"({type(exc).__name__}: {exc}). Install it with: {info.install_hint}."
        ) from exc
    text = os.fspath(url)
    _check_options(name, factory, text, backend_kwargs)
    instance: Backend = factory(text, **backend_kwargs)
    return instance
