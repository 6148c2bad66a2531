"""``zarr-vectors check-backend``: run the conformance kit against an installed backend."""

from __future__ import annotations

import click

from zarr_vectors.cli.options import parse_options

__all__ = ["check_backend"]


@click.command("check-backend")
@click.argument("name")
@click.option(
    "--url",
    required=True,
    help="An empty scratch location for the backend; the kit writes and deletes everything there.",
)
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Backend constructor option (repeatable), e.g. --option region=us-east-1.",
)
@click.option(
    "--check",
    "checks",
    multiple=True,
    metavar="CHECK",
    help="Run only this check (repeatable). Default: all.",
)
@click.option("--skip", multiple=True, metavar="CHECK", help="Do not run this check (repeatable).")
@click.option(
    "--max-examples", type=click.IntRange(min=1), default=None, help="Examples per property."
)
@click.option("--derandomize", is_flag=True, help="Draw the same examples on every run (for CI).")
def check_backend(
    name: str,
    url: str,
    options: tuple[str, ...],
    checks: tuple[str, ...],
    skip: tuple[str, ...],
    max_examples: int | None,
    derandomize: bool,
) -> None:
    """Check that backend NAME behaves as the storage protocol says.

    Runs every property of the conformance kit (state machines over the sync
    and async protocol, key validation, concurrency, persistence, zarr array and
    point-cloud round trips) against NAME at --url. Exits with status 1 naming
    each failing property and the minimal example hypothesis found.
    """
    from zarr_vectors.exceptions import ZarrVectorsError

    try:
        from zarr_vectors.testing.config import CHECK_NAMES, KitConfig
        from zarr_vectors.testing.runner import run_kit
        from zarr_vectors.testing.target import KitTarget
    except ImportError as exc:  # hypothesis or pytest missing
        raise click.ClickException(
            f"The conformance kit needs its test dependencies ({exc.name} is missing). "
            'Install them with: pip install "zarr-vectors-core[testing]"'
        ) from exc

    parsed = parse_options(options)
    for given in (*checks, *skip):
        if given not in CHECK_NAMES:
            raise click.BadParameter(
                f"{given!r} is not a check; the checks are: {', '.join(CHECK_NAMES)}",
                param_hint="--check/--skip",
            )
    try:
        target = KitTarget.from_name(name, url, **parsed)
        config = KitConfig.for_url(target.url).with_changes(
            max_examples=max_examples, skip=frozenset(skip), derandomize=derandomize or None
        )
        click.echo(f"Checking the {target.description}")
        results = run_kit(target, config, checks or None)
    except ZarrVectorsError as exc:
        raise click.ClickException(str(exc)) from exc
    for result in results:
        click.echo(result.describe())
    failed = [r.name for r in results if not r.ok]
    if failed:
        click.echo(
            f"\n{len(failed)} of {len(results)} checks failed: {', '.join(failed)}", err=True
        )
        raise SystemExit(1)
    click.echo(f"\nAll {len(results)} checks passed.")
