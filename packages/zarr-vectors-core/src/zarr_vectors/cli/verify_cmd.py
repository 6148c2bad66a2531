"""``zarr-vectors verify STORE``: check a whole store and list every problem.

Exit codes: 0 when the store is sound (warnings may be printed), 1 when it has
problems that make reads fail or return wrong data, 2 when there is nothing to
check (no store at the URL) or an option is wrong. A missing store is not a
damaged one, so it is not 1 here, where every other command says 1 for it: a
script running ``verify`` takes 1 to mean "repair or restore this store".
"""

from __future__ import annotations

import json

import click

from zarr_vectors.cli._errors import InputError, handle_errors, message_for
from zarr_vectors.cli.points_cmd import backend_options, store_kwargs

__all__ = ["verify"]


@click.command("verify")
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--repair",
    is_flag=True,
    help="First repair what killed writers left (roll back an unfinished append, drop "
    "leftover staged copies), under the write lease.",
)
@backend_options
@handle_errors
def verify(
    url: str, as_json: bool, repair: bool, backend: str | None, options: tuple[str, ...]
) -> None:
    """Check every cell of the store at URL against its metadata."""
    from zarr_vectors.cli._progress import is_terminal
    from zarr_vectors.exceptions import StoreNotFoundError
    from zarr_vectors.store import verify_store

    kwargs = store_kwargs(url, backend, options)
    progress = _bar() if is_terminal() and not as_json else None
    try:
        report = verify_store(url, progress=progress, repair=repair, **kwargs)
    except StoreNotFoundError as exc:
        secrets = click.get_current_context().meta.get("zv_secrets", [])
        raise InputError(message_for(exc, secrets)) from None
    finally:
        if progress is not None:
            progress.close()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "url": report.url,
                    "ok": report.ok,
                    "levels": report.levels,
                    "cells_checked": report.cells_checked,
                    "points_checked": report.points_checked,
                    "repaired": report.repaired,
                    "problems": [
                        {"severity": p.severity, "where": p.where, "what": p.what}
                        for p in report.problems
                    ],
                },
                indent=2,
            )
        )
    else:
        for done in report.repaired:
            click.echo(f"repaired: {done}")
        for problem in report.problems:
            click.echo(str(problem), err=problem.severity == "error")
        state = "sound" if report.ok else f"DAMAGED ({len(report.errors)} problem(s))"
        click.echo(
            f"{report.url}: {state}; {report.levels} level(s), {report.cells_checked} cell(s), "
            f"{report.points_checked} point(s) checked"
        )
    if not report.ok:
        raise SystemExit(1)


class _bar:
    """A tqdm bar driven by ``progress(done, total)`` calls (cells checked)."""

    def __init__(self) -> None:
        from tqdm.auto import tqdm

        self._tqdm = tqdm(desc="checking cells", unit="cell", leave=False)

    def __call__(self, done: int, total: int) -> None:
        self._tqdm.total = total
        self._tqdm.n = done
        self._tqdm.refresh()

    def close(self) -> None:
        self._tqdm.close()
