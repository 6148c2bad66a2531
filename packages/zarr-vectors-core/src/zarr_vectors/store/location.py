"""Turning whatever a caller passes as ``store`` into one :class:`StoreLocation`, once.

Every public entry point (``create_store``, ``open_store``, ``open_zv``,
``write_points``, ``read_points``, the geometry types, Dask tasks, the CLI)
calls :meth:`StoreLocation.of` with its ``store``, ``backend``,
``storage_options`` and ``**backend_kwargs`` and opens the backend from the
location it gets; this module is the single place that decides what each kind
of ``store`` means (the :data:`StoreLike` forms):

* a ``str``, :class:`pathlib.Path` or URL: the backend that serves it, made by
  :func:`~zarr_vectors.storage.make_backend` (``backend=`` and
  ``**backend_kwargs`` choose and configure it); a local ``*.zip`` file opens
  zarr-python's :class:`~zarr.storage.ZipStore`, read-only;
* an already made backend: used as it is;
* a zarr-python store (``MemoryStore``, ``LocalStore``, ...) or ``StorePath``:
  adapted once by :func:`~zarr_vectors.storage.zarr_adapter.backend_for_zarr_store`;
* a ``UPath``: its local path, or its URL with its storage options;
* another object (an obstore store, an fsspec file system with a path, an
  ``FSMap``): handed to the installed plugin that declares it adopts that type
  (``BackendInfo.adopts``); the core names no plugin;
* a :class:`StoreLocation`: itself (it was resolved already).

Whoever opens closes: what a location made from a path is closed when the
``with`` block ends, on success or error; a backend or store the caller passed
in is left open for the caller. Whether the caller means to write is checked
before anything is touched: a writing mode on something that can only be read
raises :class:`~zarr_vectors.exceptions.ReadOnlyBackendError`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeAlias

from zarr_vectors.exceptions import (
    BackendOptionError,
    ReadOnlyBackendError,
    StoreError,
    ValidationError,
)
from zarr_vectors.storage.base import AsyncStorageBackend, Backend, StorageBackend
from zarr_vectors.storage.secrets import redact_options, redact_url
from zarr_vectors.store.modes import WRITE_MODES, check_mode

__all__ = ["StoreLike", "StoreLocation"]

#: What a ``store`` argument may be: a local path or URL (``str``, :class:`os.PathLike`,
#: ``UPath``), a :class:`StoreLocation`, a zarr-vectors backend, a zarr-python ``Store``
#: or ``StorePath``, or an object an installed plugin adopts (an obstore store, an fsspec
#: file system with a path, an ``FSMap``). The last forms are typed loosely because their
#: libraries are optional.
StoreLike: TypeAlias = "str | os.PathLike[str] | StoreLocation | Backend | Any"


@dataclass(frozen=True, repr=False)
class StoreLocation:
    """A ``store`` argument with its backend choice and options, resolved once.

    ``target`` is the URL or local path (a ``str``) when the store is addressable
    by one, else the object the caller passed (a backend, a zarr store, an
    object a plugin adopts). A location made from a URL can travel to Dask
    workers (:meth:`for_workers`), each opening its own backend; the options may
    hold credentials, so the repr is redacted and the Dask token is random.
    """

    target: Any
    backend: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    caller: Callable[..., Any] | None = field(default=None, compare=False)
    loose: frozenset[str] = field(default_factory=frozenset, compare=False)
    token: str = field(default_factory=lambda: uuid.uuid4().hex, compare=False)

    @classmethod
    def of(
        cls,
        store: StoreLike,
        *,
        backend: str | None = None,
        storage_options: Mapping[str, Any] | None = None,
        backend_kwargs: Mapping[str, Any] | None = None,
        caller: Callable[..., Any] | None = None,
    ) -> StoreLocation:
        """The location of ``store``; nothing is opened yet.

        ``storage_options`` (the zarr-python / xarray / fsspec convention) and the
        loose ``backend_kwargs`` are the same backend options; giving one name in
        both is an error. ``caller`` is the public function taking them, so that a
        misspelled argument of it is reported as such rather than as a backend option.
        """
        if isinstance(store, StoreLocation):
            if backend is not None or storage_options or backend_kwargs:
                raise BackendOptionError(
                    "A StoreLocation carries its own backend and options; pass them when "
                    "making it (StoreLocation.of(url, ...)), not again with it."
                )
            return store
        options = _merged_options(storage_options, backend_kwargs, caller)
        target, options = _unwrap(store, options)
        if isinstance(target, os.PathLike):
            target = os.fspath(target)
        return cls(target, backend, options, caller, frozenset(backend_kwargs or ()))

    @property
    def url(self) -> str | None:
        """The URL or local path of the store, when it has one."""
        return self.target if isinstance(self.target, str) else None

    def for_workers(self) -> StoreLocation:
        """This location as Dask tasks get it: by URL, a relative local path made absolute.

        Tasks get a location, never a live backend (a connection does not travel
        between processes), and each opens and closes its own backend.
        """
        from zarr_vectors.storage.resolve import url_scheme

        url = self.url
        if url is None:
            raise ValidationError(
                f"Dask workers open the store themselves, from a path or URL; got a "
                f"{type(self.target).__name__}. Pass the store's URL (with "
                "storage_options={...}) instead, or write with scheduler='driver' to stream "
                "through this process."
            )
        if url_scheme(url) == "":
            url = os.path.abspath(url)
        return replace(self, target=url, caller=None)

    @contextmanager
    def open(self, mode: str) -> Iterator[Backend]:
        """The backend for this location, opened for ``mode``; closed at the end if made here."""
        made, owned = self.resolve(mode)
        try:
            yield made
        finally:
            if owned:
                made.close()

    def resolve(self, mode: str) -> tuple[Backend, bool]:
        """``(backend, owned)``: ``owned`` says the caller must close it.

        For a handle that outlives one call (``open_zv``, ``open_store``); prefer
        :meth:`open` everywhere else.
        """
        check_mode(mode)
        store, backend, options = self.target, self.backend, dict(self.options)
        writing = mode in WRITE_MODES
        if _is_zarr_store(store) or _is_store_path(store):
            from zarr_vectors.storage.zarr_adapter import backend_for_zarr_store

            inner, prefix = (
                (store.store, _prefix(store.path)) if _is_store_path(store) else (store, "")
            )
            _no_options(backend, options, f"a zarr store ({type(store).__name__})")
            if writing and inner.read_only:
                raise ReadOnlyBackendError(
                    f"The zarr store {inner} was opened read-only and mode {mode!r} would "
                    "write to it; pass a writable store (read_only=False) or use mode='r'."
                )
            return backend_for_zarr_store(inner, prefix=prefix), True
        if isinstance(store, StorageBackend) and isinstance(store, AsyncStorageBackend):
            _no_options(backend, options, f"an already made backend ({store!r})")
            _check_writable(store, mode)
            return store, False  # type: ignore[return-value]
        if not isinstance(store, str):
            adopted = _adopt(store, options)
            if adopted is None:
                raise StoreError(
                    f"Cannot open a store from a {type(store).__name__}; pass a local path, a "
                    "URL (s3://, gs://, az://, http(s)://, file://), a pathlib.Path or UPath, a "
                    "zarr store or StorePath, a zarr-vectors backend, or an object an installed "
                    "backend plugin adopts (an obstore store, an fsspec file system with a "
                    "path, an FSMap)."
                )
            _check_writable(adopted, mode)
            return adopted, True
        from zarr_vectors.storage.resolve import check_url_spelling, make_backend

        check_url_spelling(store)  # "s3:/bucket/x" must not become a local folder, nor a .zip
        zip_path = _zip_path(store) if backend is None else None
        if zip_path is not None:
            return _open_zip(zip_path, mode, options), True
        try:
            made = make_backend(store, backend, **options)
        except BackendOptionError as exc:
            # Only an unknown option may be a misplaced argument; a wrong value is just that.
            caller = self.caller
            if caller is not None and self.loose and "does not accept the option" in str(exc):
                raise BackendOptionError(
                    f"{exc} If an option was meant as an argument of {caller.__name__}(), it "
                    f"is not one: see help({caller.__name__})."
                ) from None
            raise
        try:
            _check_writable(made, mode)
        except BaseException:
            made.close()
            raise
        return made, True

    def __repr__(self) -> str:
        shown = redact_options(self.options)
        where = redact_url(self.url) if self.url is not None else type(self.target).__name__
        return f"StoreLocation({where!r}, backend={self.backend!r}, options={shown})"

    def __dask_tokenize__(self) -> tuple[str, str]:
        return ("zarr-vectors-store", self.token)


def _merged_options(
    storage_options: Mapping[str, Any] | None,
    backend_kwargs: Mapping[str, Any] | None,
    caller: Callable[..., Any] | None,
) -> dict[str, Any]:
    """One dict of backend options, after telling misspelled arguments of ``caller`` apart."""
    if storage_options is not None and not isinstance(storage_options, Mapping):
        raise BackendOptionError(
            f"storage_options must be a dict of backend options, got "
            f"{type(storage_options).__name__}"
        )
    loose = dict(backend_kwargs or {})
    if caller is not None and loose:
        _check_not_misspelled(caller, loose)
    both = sorted(set(loose) & set(storage_options or {}))
    if both:
        raise BackendOptionError(
            f"Backend option(s) {', '.join(both)} given both in storage_options and as keyword "
            "arguments; give each once (storage_options={...} is the usual place)."
        )
    return {**dict(storage_options or {}), **loose}


def _check_not_misspelled(caller: Callable[..., Any], loose: Mapping[str, Any]) -> None:
    """Refuse a loose option that is close to one of ``caller``'s own parameters."""
    import difflib
    import inspect

    try:
        parameters = [
            p.name
            for p in inspect.signature(caller).parameters.values()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        return
    from zarr_vectors.storage.registry import get_registry

    # An option some installed backend documents is meant for it (``timeout`` is not a
    # misspelled ``lock_timeout``); the backend still refuses it if it is not its own.
    documented = {o for info in get_registry().ok_infos() for o in info.options}
    for name in loose:
        if name in documented:
            continue
        close = difflib.get_close_matches(name, parameters, n=1, cutoff=0.7)
        if close:
            raise BackendOptionError(
                f"{caller.__name__}() got an unexpected keyword argument {name!r}; did you mean "
                f"{close[0]!r}? (Backend options go in storage_options={{...}}.)"
            )


def _unwrap(store: Any, options: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """A universal-pathlib ``UPath`` as a local path, or as its URL plus its options."""
    kind = type(store)
    if not kind.__module__.startswith("upath"):
        return store, options
    protocol = getattr(store, "protocol", "") or ""
    if protocol in ("", "file", "local"):
        return os.fspath(store), options
    merged = {**dict(getattr(store, "storage_options", {}) or {}), **options}
    return str(store), merged


def _is_store_path(store: Any) -> bool:
    import sys

    if "zarr" not in sys.modules or isinstance(store, str | os.PathLike):
        return False
    from zarr.storage import StorePath

    return isinstance(store, StorePath)


def _prefix(path: str) -> str:
    path = path.strip("/")
    return f"{path}/" if path else ""


def _adopt(store: Any, options: dict[str, Any]) -> Backend | None:
    """A backend made by the installed plugin that adopts objects of ``store``'s type."""
    from zarr_vectors.storage.registry import get_registry

    sample = store[0] if isinstance(store, tuple) and store else store
    modules = [c.__module__ for c in type(sample).__mro__]
    for info in get_registry().ok_infos():
        if info.adopt is None or not any(
            m == p or m.startswith(p + ".") for m in modules for p in info.adopts
        ):
            continue
        made = info.load_adopter()(store, **options)
        if made is not None:
            return made  # type: ignore[no-any-return]
    return None


def _is_zarr_store(store: Any) -> bool:
    """Whether ``store`` is a zarr-python store (without importing zarr for a path)."""
    if isinstance(store, str | os.PathLike | Backend):
        return False
    import sys

    if "zarr" not in sys.modules:
        return False
    from zarr.abc.store import Store

    return isinstance(store, Store)


def _check_writable(made: Any, mode: str) -> None:
    if mode in WRITE_MODES and not getattr(made, "writable", True):
        raise ReadOnlyBackendError(
            f"{made.url} is served by the read-only {getattr(made, 'backend_name', '?')!r} "
            f"backend and mode {mode!r} would write to it; write to a writable location "
            "(a local path, s3://, gs://, az://) or use mode='r'."
        )


def _zip_path(path: str | os.PathLike[str]) -> Path | None:
    """The local file ``path`` names, if it is a ZIP archive (``*.zip`` and not a directory)."""
    from zarr_vectors.storage.local import local_path_from_url
    from zarr_vectors.storage.resolve import url_scheme

    if url_scheme(path) not in ("", "file") or not os.fspath(path).lower().endswith(".zip"):
        return None
    local = local_path_from_url(path)
    return None if local.is_dir() else local


def _open_zip(path: Path, mode: str, options: dict[str, Any]) -> Backend:
    from zarr.storage import ZipStore

    from zarr_vectors.storage.zarr_adapter import backend_for_zarr_store

    _no_options(None, options, f"a ZIP archive ({path})")
    if mode in WRITE_MODES:
        raise ReadOnlyBackendError(
            f"{path} is a ZIP archive, which is opened read-only; mode {mode!r} would write to "
            "it. Write the store to a directory and zip that directory afterwards."
        )
    if not path.is_file():
        raise StoreError(f"No ZIP archive at {path}; check the path.")
    return backend_for_zarr_store(
        ZipStore(path, mode="r", read_only=True), prefix=_zip_top_folder(path)
    )


def _zip_top_folder(path: Path) -> str:
    """The folder inside the archive that holds the store ("" when it is at the top).

    ``zip -r scan.zarrvectors.zip scan.zarrvectors/`` puts the store under one
    top folder; such an archive is read from that folder.
    """
    import zipfile

    if not zipfile.is_zipfile(path):
        raise StoreError(
            f"{path} is not a ZIP archive (its name ends in .zip but its bytes are not a ZIP "
            "file); check the file, or rename it if it is a store directory."
        )
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
    if "zarr.json" in names:
        return ""
    tops = {n.split("/", 1)[0] for n in names if "/" in n}
    if len(tops) == 1:
        top = tops.pop()
        if f"{top}/zarr.json" in names:
            return f"{top}/"
    return ""  # no store found: reads say so, and a plain zarr view still opens


def _no_options(backend: str | None, options: Mapping[str, Any], what: str) -> None:
    if backend is not None or options:
        given = sorted(options) + ([f"backend={backend!r}"] if backend else [])
        raise BackendOptionError(
            f"Backend options ({', '.join(given)}) were given for {what}, which is used as it "
            "is; configure it when making it, or pass a path or URL instead."
        )
