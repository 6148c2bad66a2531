"""The options every object type's ``write_*`` takes from its caller and passes on as they are.

``write_lines``, ``write_polylines``, ``write_graph`` and ``write_mesh`` each take ``mode``,
``axes``, ``consolidate``, ``lock_timeout`` and the store's backend options from
the user and hand them, with what the type itself adds (its geometry type, links
convention and name), to :func:`~zarr_vectors.types._objects.write_store` or
:func:`~zarr_vectors.types._objects.write_stream`. They are gathered here once,
so a new such option is added in one place rather than in every type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["WriteOptions"]


@dataclass(frozen=True)
class WriteOptions:
    """A write's options as its caller gave them, in the public functions' order."""

    mode: str
    axes: Sequence[Any] | None
    consolidate: bool
    lock_timeout: float | None
    storage_options: Mapping[str, Any] | None
    backend: str | None
    backend_kwargs: Mapping[str, Any]

    def keywords(
        self,
        caller: Callable[..., Any],
        geometry_type: str,
        links_convention: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """These options and the type's own, as ``write_store``/``write_stream`` keywords.

        ``caller`` is the public function, so that a misspelled argument of it is
        reported as such rather than taken for a backend option.
        """
        return {
            **vars(self),
            "caller": caller,
            "geometry_type": geometry_type,
            "links_convention": links_convention,
            "metadata": metadata,
        }
