"""``zarr-vectors backends``: what storage backends are installed, and which work."""

from __future__ import annotations

import json

import click

__all__ = ["backends"]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def backends(as_json: bool) -> None:
    """List every discovered backend plugin: name, distribution, schemes, priority, status."""
    import warnings

    from zarr_vectors.storage.registry import list_backends

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # broken plugins are shown in the table instead
        records = list_backends()
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in records], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="zarr-vectors backends")
    for column in ("name", "distribution", "schemes", "priority", "status"):
        table.add_column(column)
    for record in records:
        schemes = ", ".join(s or "(path)" for s in record.schemes)
        status = "ok" if record.status == "ok" else f"{record.status}: {record.reason}"
        style = "green" if record.status == "ok" else "red"
        table.add_row(
            record.name,
            f"{record.distribution} {record.version}",
            schemes,
            "" if record.priority is None else str(record.priority),
            f"[{style}]{status}[/{style}]",
        )
    import sys

    # Piped output is for grep and logs: do not wrap rows at 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=240)
    console.print(table)
