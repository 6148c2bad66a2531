"""The ``zarr-vectors`` command.

Each sub-command lives in its own module and is attached to :data:`main` here,
so that ``zarr-vectors --help`` stays fast: heavy imports (zarr, numpy) happen
inside the commands that need them.
"""

from __future__ import annotations

import click

from zarr_vectors._version import __version__
from zarr_vectors.cli.backends_cmd import backends

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zarr-vectors")
def main() -> None:
    """Store and read vector geometry (point clouds, ...) in Zarr v3 stores anywhere."""


main.add_command(backends)
