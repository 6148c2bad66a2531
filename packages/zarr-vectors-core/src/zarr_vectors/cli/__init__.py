"""The ``zarr-vectors`` command.

Each sub-command lives in its own module, named in :data:`COMMANDS` and
imported only when that command runs (or when ``--help`` lists it), so that
``zarr-vectors backends`` never pays for zarr or numpy. A command whose module
is missing is left out of the listing rather than breaking the others.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from zarr_vectors._version import __version__

__all__ = ["COMMANDS", "main"]

#: command name -> "module:attribute" of its :class:`click.Command`.
COMMANDS: dict[str, str] = {
    "backends": "zarr_vectors.cli.backends_cmd:backends",
    "check-backend": "zarr_vectors.cli.check_backend_cmd:check_backend",
    "new-backend": "zarr_vectors.cli.new_backend_cmd:new_backend",
    "write-points": "zarr_vectors.cli.points_cmd:write_points_cmd",
    "read-points": "zarr_vectors.cli.points_cmd:read_points_cmd",
    "write": "zarr_vectors.cli.files_cmd:write_cmd",
    "read": "zarr_vectors.cli.files_cmd:read_cmd",
    "info": "zarr_vectors.cli.info_cmd:info",
    "demo": "zarr_vectors.cli.demo_cmd:demo",
    "preview": "zarr_vectors.cli.preview_cmd:preview",
    "verify": "zarr_vectors.cli.verify_cmd:verify",
    "serve": "zarr_vectors.cli.serve_cmd:serve",
    "view": "zarr_vectors.cli.serve_cmd:view",
}


def _load(target: str) -> click.Command | None:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:  # the command is not part of this build
            return None
        raise
    command: click.Command = getattr(module, attr)
    return command


class LazyGroup(click.Group):
    """A group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        names.update(n for n, t in COMMANDS.items() if _load(t) is not None)
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            return _load(COMMANDS[cmd_name])
        return super().get_command(ctx, cmd_name)


def overlap_warning() -> str | None:
    """A warning when the published ``zarr-vectors`` distribution is installed here too.

    Both install the top-level package ``zarr_vectors``, so whichever was
    installed last has replaced files of the other, and commands fail in ways
    that do not point at the cause.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("zarr-vectors")
    except PackageNotFoundError:
        return None
    return (
        f"Warning: the published zarr-vectors {found} is installed in this environment too; "
        "it uses the same import name (zarr_vectors), so one package's files replace the "
        "other's. Uninstall it (pip uninstall zarr-vectors) or keep each in its own virtual "
        "environment."
    )


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zarr-vectors")
def main(**_: Any) -> None:
    """Store and read vector geometry (point clouds, ...) in Zarr v3 stores anywhere."""
    warning = overlap_warning()
    if warning is not None:
        click.echo(warning, err=True)
