"""Discovery of backend plugins through the ``zarr_vectors.backends`` entry-point group.

Every backend, the built-in ``local`` one included, is found the same way: an
entry point in the group ``zarr_vectors.backends`` whose name is the backend
name and whose object is a :class:`~zarr_vectors.storage.info.BackendInfo`.
Discovery reads entry points with :mod:`importlib_metadata`, loads each light
description in isolation (a plugin that fails to import is reported once as a
:class:`~zarr_vectors.exceptions.BackendPluginWarning` and listed as broken,
and the others are unaffected), and builds the scheme table from the good ones.
A plugin is data (one :class:`BackendInfo` per entry point), so no hook
machinery is involved. Discovery runs once per process;
:func:`refresh_backends` runs it again (after installing a plugin at run time).

Conflict rules (deterministic, each reported with a warning):

* **Same name.** The entry with the highest ``priority`` keeps the name; on a
  tie, the one from the distribution whose normalised name sorts first. The
  others are listed with status ``shadowed``.
* **Same scheme at the same priority.** The backend whose name sorts first is
  the default for the scheme; pass ``backend=`` to choose another.

Setting ``ZARR_VECTORS_DISABLE_PLUGINS=name1,name2`` skips those entry points
without loading them (a way out when a plugin breaks at import).
"""

from __future__ import annotations

import importlib
import os
import re
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import importlib_metadata

from zarr_vectors.exceptions import BackendPluginWarning, PluginError, StoreError
from zarr_vectors.storage.info import BackendInfo

__all__ = [
    "BACKENDS_GROUP",
    "DISABLE_ENV_VAR",
    "INSTALL_HINTS_GROUP",
    "PluginRecord",
    "Registry",
    "get_backend_info",
    "get_registry",
    "list_backends",
    "refresh_backends",
]

BACKENDS_GROUP = "zarr_vectors.backends"
INSTALL_HINTS_GROUP = "zarr_vectors.install_hints"
DISABLE_ENV_VAR = "ZARR_VECTORS_DISABLE_PLUGINS"

Status = Literal["ok", "broken", "shadowed", "disabled"]


@dataclass
class PluginRecord:
    """One entry point of the ``zarr_vectors.backends`` group and what became of it.

    The distribution's name and version are read from its metadata only when
    asked for: parsing every plugin's METADATA at discovery would double the
    cost of ``import zarr_vectors`` + resolving a URL.
    """

    name: str
    target: str
    status: Status
    dist: Any = field(default=None, repr=False)  # an importlib_metadata Distribution
    info: BackendInfo | None = None
    reason: str = ""
    error: BaseException | None = field(default=None, repr=False)

    @cached_property
    def distribution(self) -> str:
        return self.dist.name if self.dist is not None else "(unknown)"

    @cached_property
    def version(self) -> str:
        return self.dist.version if self.dist is not None else ""

    @property
    def schemes(self) -> tuple[str, ...]:
        return self.info.schemes if self.info else ()

    @property
    def priority(self) -> int | None:
        return self.info.priority if self.info else None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form, as printed by ``zarr-vectors backends --json``."""
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "entry_point": self.target,
            "schemes": list(self.schemes),
            "priority": self.priority,
            "status": self.status,
            "reason": self.reason,
            "install_hint": self.info.install_hint if self.info else "",
            "description": self.info.description if self.info else "",
            "options": dict(self.info.options) if self.info else {},
        }


def _normalise(dist_name: str) -> str:
    return re.sub(r"[-_.]+", "-", dist_name).lower()


_warned: set[tuple[str, str, str]] = set()


def _warn_once(kind: str, ident: str, message: str) -> None:
    token = (kind, ident, message)
    if token not in _warned:
        _warned.add(token)
        warnings.warn(message, BackendPluginWarning, stacklevel=4)


class Registry:
    """The result of one discovery: every plugin record, the scheme table and install hints."""

    def __init__(
        self, records: list[PluginRecord], hint_entry_points: list[importlib_metadata.EntryPoint]
    ) -> None:
        self.records = records
        self._hint_entry_points = hint_entry_points
        self.by_name: dict[str, PluginRecord] = {}
        self._resolve_names()
        self.scheme_table = self._build_scheme_table()

    @cached_property
    def install_hints(self) -> dict[str, str]:
        """scheme -> install command, from ``zarr_vectors.install_hints`` entry points.

        The entry point's value is the name of an extra of the distribution that
        declares it (the core declares ``s3 = "obstore"``), read as metadata and
        never loaded. Computed on first use: only error messages need it.
        """
        hints: dict[str, str] = {}
        for ep in self._hint_entry_points:
            scheme = ep.name.lower()
            if ep.dist is not None and scheme not in hints:
                hints[scheme] = f'pip install "{ep.dist.name}[{ep.value}]"'
        return hints

    def _resolve_names(self) -> None:
        groups: dict[str, list[PluginRecord]] = {}
        for record in self.records:
            if record.status != "disabled":
                groups.setdefault(record.name, []).append(record)
        for name, group in groups.items():
            usable = [r for r in group if r.status == "ok"]
            if not usable:
                self.by_name[name] = group[0]
                continue
            usable.sort(key=lambda r: (-(r.priority or 0), _normalise(r.distribution), r.target))
            winner, losers = usable[0], usable[1:]
            self.by_name[name] = winner
            for loser in losers:
                loser.status = "shadowed"
                loser.reason = (
                    f"backend name {name!r} is also registered by {winner.distribution} "
                    f"(priority {winner.priority}), which wins"
                )
                _warn_once(
                    "name",
                    name,
                    f"Two plugins register the zarr-vectors backend {name!r}: "
                    f"{winner.distribution} (priority {winner.priority}) and "
                    f"{loser.distribution} (priority {loser.priority}). Using "
                    f"{winner.distribution}'s (higher priority, then distribution name order). "
                    f"Uninstall one of them to silence this warning.",
                )

    def _build_scheme_table(self) -> dict[str, tuple[str, ...]]:
        claims: dict[str, list[BackendInfo]] = {}
        for info in self.ok_infos():
            for scheme in info.schemes:
                claims.setdefault(scheme, []).append(info)
        table: dict[str, tuple[str, ...]] = {}
        for scheme, infos in sorted(claims.items()):
            infos.sort(key=lambda i: (-i.priority, i.name))
            table[scheme] = tuple(i.name for i in infos)
            if len(infos) > 1 and infos[0].priority == infos[1].priority:
                tied = [i.name for i in infos if i.priority == infos[0].priority]
                shown = f"{scheme}://" if scheme else "bare paths"
                _warn_once(
                    "scheme",
                    scheme,
                    f"Backends {', '.join(tied)} all serve {shown} at priority "
                    f"{infos[0].priority}; using {infos[0].name!r} (first by name). "
                    "Pass backend=... to choose another.",
                )
        return table

    # -- queries ----------------------------------------------------------------------------
    def ok_infos(self) -> list[BackendInfo]:
        return [r.info for r in self.by_name.values() if r.status == "ok" and r.info]

    def available_names(self) -> list[str]:
        return sorted(n for n, r in self.by_name.items() if r.status == "ok")

    def schemes_where(self, attribute: str) -> frozenset[str]:
        found: set[str] = set()
        for info in self.ok_infos():
            found.update(getattr(info, attribute))
        return frozenset(found)

    def info(self, name: str) -> BackendInfo:
        record = self.by_name.get(name)
        if record is None:
            raise StoreError(
                f"Unknown zarr-vectors backend {name!r}. Available backends: "
                f"{', '.join(self.available_names()) or 'none'}. "
                "Run 'zarr-vectors backends' to see what is installed."
            )
        if record.status != "ok" or record.info is None:
            raise PluginError(
                f"The zarr-vectors backend {name!r} (from {record.distribution} "
                f"{record.version}) is broken: {record.reason}. Reinstall or upgrade "
                f"{record.distribution}, or disable it with {DISABLE_ENV_VAR}={name}."
            ) from record.error
        return record.info


def _load_record(entry_point: importlib_metadata.EntryPoint, disabled: set[str]) -> PluginRecord:
    record = PluginRecord(
        name=entry_point.name, target=entry_point.value, status="ok", dist=entry_point.dist
    )
    if entry_point.name in disabled:
        record.status = "disabled"
        record.reason = f"disabled by {DISABLE_ENV_VAR}"
        return record
    try:
        loaded = entry_point.load()
    except Exception as exc:  # a plugin's import error must not break discovery
        return _broken(record, f"{type(exc).__name__}: {exc}", exc)
    if not isinstance(loaded, BackendInfo):
        return _broken(
            record,
            f"entry point {entry_point.value!r} gives a {type(loaded).__name__}, "
            "not a zarr_vectors BackendInfo",
            None,
        )
    if loaded.name != entry_point.name:
        return _broken(
            record,
            f"entry point is named {entry_point.name!r} but its BackendInfo is named "
            f"{loaded.name!r}; the two must match",
            None,
        )
    record.info = loaded
    return record


def _broken(record: PluginRecord, reason: str, error: BaseException | None) -> PluginRecord:
    record.status = "broken"
    record.reason = reason
    record.error = error
    _warn_once(
        "broken",
        f"{record.distribution}:{record.name}",
        f"The zarr-vectors backend plugin {record.name!r} from {record.distribution} "
        f"{record.version} could not be loaded ({reason}); it is skipped. "
        f"Reinstall it, or set {DISABLE_ENV_VAR}={record.name} to skip it silently.",
    )
    return record


def _discover() -> Registry:
    disabled = {n.strip() for n in os.environ.get(DISABLE_ENV_VAR, "").split(",") if n.strip()}
    # One scan of the installed distributions serves both groups.
    everything = importlib_metadata.entry_points()
    entry_points: Iterable[importlib_metadata.EntryPoint] = everything.select(group=BACKENDS_GROUP)
    ordered = sorted(entry_points, key=lambda ep: (ep.name, ep.value))
    records = [_load_record(ep, disabled) for ep in ordered]
    return Registry(records, list(everything.select(group=INSTALL_HINTS_GROUP)))


_registry: Registry | None = None
_registry_lock = threading.Lock()


def get_registry() -> Registry:
    """The process-wide registry, discovered on first use and cached."""
    global _registry
    if _registry is None:
        with _registry_lock:
            if _registry is None:
                _registry = _discover()
    return _registry


def refresh_backends() -> Registry:
    """Forget the cached discovery and scan the entry points again."""
    global _registry
    with _registry_lock:
        importlib.invalidate_caches()  # see distributions added to sys.path since
        finder = getattr(importlib_metadata, "MetadataPathFinder", None)
        if finder is not None:
            finder.invalidate_caches()
        _registry = _discover()
    return _registry


def list_backends() -> list[PluginRecord]:
    """Every discovered plugin entry point, including broken, shadowed and disabled ones."""
    return list(get_registry().records)


def get_backend_info(name: str) -> BackendInfo:
    """The description of backend ``name``; StoreError if unknown, PluginError if broken."""
    return get_registry().info(name)
