"""Choosing and constructing a backend for a URL.

Order of precedence: an explicit ``backend=`` argument, then the
``ZARR_VECTORS_BACKEND`` environment variable, then the URL scheme looked up in
the scheme table built from the installed plugins. A bare path (a Windows
drive letter included) has the scheme ``""`` and ``file://`` has ``"file"``;
both are served by the built-in ``local`` backend.
"""

from __future__ import annotations

import inspect
import os
import re
from typing import Any

from zarr_vectors.core.backends.base import AsyncStorageBackend, Backend, StorageBackend
from zarr_vectors.core.backends.registry import get_registry
from zarr_vectors.core.backends.secrets import redact_url
from zarr_vectors.exceptions import BackendOptionError, PluginError, StoreError

__all__ = ["BACKEND_ENV_VAR", "make_backend", "resolve_backend_name", "url_scheme"]

BACKEND_ENV_VAR = "ZARR_VECTORS_BACKEND"

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_DRIVE = re.compile(r"^[A-Za-z]:([\\/]|$)")


def url_scheme(url: str | os.PathLike[str]) -> str:
    """The lower-case scheme of ``url``; ``""`` for a bare path (``C:\\data`` included)."""
    text = os.fspath(url)
    if _DRIVE.match(text):
        return ""
    match = _SCHEME.match(text)
    return match.group(1).lower() if match else ""


def _describe_scheme(scheme: str) -> str:
    return f"'{scheme}://'" if scheme else "bare paths"


def resolve_backend_name(url: str | os.PathLike[str], explicit: str | None = None) -> str:
    """Name of the backend that will serve ``url``.

    ``explicit`` (the ``backend=`` argument) always wins, then the environment
    variable ``ZARR_VECTORS_BACKEND``, then the highest-priority installed
    backend for the URL's scheme. Raises :class:`StoreError` when nothing
    installed serves the scheme; the message names the scheme, the installed
    backends and, where the packaging metadata knows one, the install command.
    """
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
