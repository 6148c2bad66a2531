"""Importing an optional library, and the one error when it is missing.

Every feature that needs a library outside the core's dependencies (pandas
for ``to_pandas()``, laspy for ``.las`` files, Dask, matplotlib...) imports it
through :func:`require`, which raises
:class:`~zarr_vectors.exceptions.MissingExtraError` naming the feature, the
library and the exact command that installs the ``zarr-vectors-core`` extra
bringing it. :data:`EXTRAS` mirrors ``[project.optional-dependencies]`` of
``packages/zarr-vectors-core/pyproject.toml`` (a test keeps the two equal).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from zarr_vectors.exceptions import MissingExtraError

__all__ = ["DISTRIBUTION", "EXTRAS", "install_command", "require"]

DISTRIBUTION = "zarr-vectors-core"

#: extra -> the distributions it brings, as ``pyproject.toml`` lists them (without versions).
EXTRAS: dict[str, tuple[str, ...]] = {
    "obstore": ("zarr-vectors-obstore",),
    "fsspec": ("zarr-vectors-fsspec",),
    "icechunk": ("zarr-vectors-icechunk",),
    "cloud": ("zarr-vectors-obstore",),
    "all": ("zarr-vectors-obstore", "zarr-vectors-fsspec"),
    "testing": ("hypothesis", "pytest"),
    "io": ("laspy", "plyfile", "pandas", "trimesh", "nibabel", "morphio"),
    "draco": ("DracoPy",),
    "crs": ("pyproj",),
    "xarray": ("xarray", "pandas"),
    "dask": ("dask", "distributed", "pandas"),
    "viz": ("matplotlib",),
    "serve": ("aiohttp",),
    "neuroglancer": ("aiohttp", "neuroglancer"),
    "trx": ("trx-python",),
    "graphml": ("networkx",),
}

#: import name -> distribution name, where the two differ.
_DISTRIBUTIONS = {"google_crc32c": "google-crc32c", "trx": "trx-python"}


def distribution_of(module: str) -> str:
    """The distribution that installs the (top-level package of) ``module``."""
    top = module.split(".", 1)[0]
    return _DISTRIBUTIONS.get(top, top)


def install_command(extra: str | None, library: str = "") -> str:
    """``pip install "zarr-vectors-core[EXTRA]"``; for a core dependency (no extra), the library."""
    if extra is None:
        return f'pip install "{library}"'
    if extra not in EXTRAS:
        raise ValueError(f"{DISTRIBUTION} has no extra {extra!r}; its extras: {', '.join(EXTRAS)}")
    return f'pip install "{DISTRIBUTION}[{extra}]"'


def require(module: str, *, feature: str, extra: str | None) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtraError` saying how to install it.

    ``feature`` names what needs it (``"to_xarray()"``, ``"reading .ply files"``);
    ``extra`` is the ``zarr-vectors-core`` extra that brings it, or ``None`` for a
    dependency of the core itself (then the command installs the library).
    """
    library = distribution_of(module)
    command = install_command(extra, library)
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or ""
        if isinstance(exc, ModuleNotFoundError) and _same_package(missing, module):
            why = "which is not installed"
        elif isinstance(exc, ModuleNotFoundError) and missing:
            why = f"whose dependency {distribution_of(missing)} is not installed"
        else:
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())
            why = f"which is installed but fails to import ({reason})"
        message = f"{feature} needs the {library} library, {why}; install it with: {command}"
        raise MissingExtraError(message, feature=feature, library=library, command=command) from exc


def _same_package(missing: str, module: str) -> bool:
    """Whether the module that was not found is ``module``, a parent or a child of it."""
    if not missing:
        return False
    return (
        missing == module
        or module.startswith(missing + ".")
        or missing.startswith(module.split(".", 1)[0] + ".")
        or missing == module.split(".", 1)[0]
    )
