"""The light description a backend plugin publishes through its entry point.

A plugin's entry point in the ``zarr_vectors.backends`` group resolves to a
:class:`BackendInfo`. Loading it must stay cheap: it names the backend class
as a ``"module:attribute"`` string, and that module (which imports the heavy
library: obstore, fsspec, a database driver) is imported only when a backend
is actually constructed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BackendInfo"]


@dataclass(frozen=True)
class BackendInfo:
    """What the registry knows about a backend before importing it.

    Attributes
    ----------
    name:
        The name users pass as ``backend=`` (``"local"``, ``"obstore"``...).
    schemes:
        URL schemes the backend serves, lower case, without ``://``. The empty
        string stands for a bare path.
    factory:
        ``"package.module:Class"`` (imported lazily) or a callable taking the URL
        and the backend options and returning a backend.
    priority:
        Among backends serving the same scheme, the highest priority is chosen.
    install_hint:
        The command that installs this backend, shown in messages.
    local_schemes, object_store_schemes:
        The subsets of ``schemes`` that are local paths or object stores; they
        populate :data:`SCHEMES_LOCAL` and :data:`SCHEMES_OBJECT_STORE`.
    description:
        One line for ``zarr-vectors backends``.
    options:
        Option name -> one-line description, for the constructor's keyword
        arguments; shown by ``zarr-vectors backends --json`` and in the message
        that refuses an unknown option.
    adopts, adopt:
        Module names (``"obstore"``, ``"fsspec"``) whose objects this plugin
        can turn into a backend, and ``"module:function"`` doing it:
        ``adopt(obj, **options)`` returns a backend, or ``None`` when it does not
        take that object after all. Lets users pass their own store objects.
    container_user_schemes:
        The subset of ``schemes`` whose URLs name a container in their user part
        (Azure's ``abfs://container@account.dfs.core.windows.net/path``): it is
        shown in messages. In any other URL a user part is hidden, since it may
        be a token (``https://TOKEN@host``); a password is hidden in every URL.
    """

    name: str
    schemes: tuple[str, ...]
    factory: str | Callable[..., Any]
    priority: int = 0
    install_hint: str = ""
    local_schemes: tuple[str, ...] = ()
    object_store_schemes: tuple[str, ...] = ()
    description: str = ""
    options: dict[str, str] = field(default_factory=dict)
    adopts: tuple[str, ...] = ()
    adopt: str | Callable[..., Any] | None = None
    container_user_schemes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "schemes", tuple(s.lower() for s in self.schemes))
        object.__setattr__(self, "local_schemes", tuple(s.lower() for s in self.local_schemes))
        for name in ("object_store_schemes", "container_user_schemes"):
            object.__setattr__(self, name, tuple(s.lower() for s in getattr(self, name)))

    def load_factory(self) -> Callable[..., Any]:
        """Import and return the backend constructor (this is where heavy imports happen)."""
        return _load(self.factory)

    def load_adopter(self) -> Callable[..., Any]:
        """Import and return the ``adopt`` function (see the class docstring)."""
        if self.adopt is None:
            raise TypeError(f"backend {self.name!r} adopts no objects")
        return _load(self.adopt)

    def serves(self, scheme: str) -> bool:
        """Whether this backend serves URLs of ``scheme`` (``""`` = a bare path)."""
        return scheme.lower() in self.schemes


def _load(target: str | Callable[..., Any]) -> Callable[..., Any]:
    """The callable ``target`` names (``"package.module:attribute"``), imported now."""
    if callable(target):
        return target
    module_name, _, attribute = target.partition(":")
    found: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        if part:
            found = getattr(found, part)
    if not callable(found):
        raise TypeError(f"{target!r} is not callable")
    return found  # type: ignore[no-any-return]
