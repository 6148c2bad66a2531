"""``zarr-vectors check-backend``: run the conformance kit against an installed backend.

The run reports as it goes: each check's name when it starts and its result
when it ends (with a live progress line on a terminal), so a slow remote run
never looks dead. A failure prints what the backend answered against what the
protocol says, the minimal example, the backend calls it made, the seed and
the exact command that replays it. Every backend call has a time limit
(``--timeout``); each check runs in a child process that is ended when a call
never returns (even one stuck in C code holding the GIL). Where checks run in
this process instead, the process exits without waiting for a stuck call's
thread once everything is reported.
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import Any

import click

from zarr_vectors.cli.options import parse_options

__all__ = ["check_backend"]


class _Reporter:
    """Prints each check as it starts and ends; on a terminal also a live progress line."""

    def __init__(self, live: bool) -> None:
        self.progress: Any = None
        self.task: Any = None
        self.planned = 0
        if live:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                transient=True,
            )
            self.progress.start()

    def echo(self, text: str) -> None:
        if self.progress is not None:
            self.progress.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            click.echo(text)

    def started(self, name: str, planned: int) -> None:
        from zarr_vectors.testing.runner import CHECKS

        self.planned = planned
        self.echo(f"RUNNING {name}: {CHECKS[name][1]}")
        if self.progress is not None:
            self.task = self.progress.add_task(f"{name}: starting", total=None)

    def example(self, name: str, count: int) -> None:
        if self.progress is not None and self.task is not None:
            stage = f"example {count}" + (
                f" of about {self.planned}" if count <= self.planned else ""
            )
            self.progress.update(self.task, description=f"{name}: {stage}")

    def finished(self, result: Any) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.remove_task(self.task)
            self.progress.refresh()
            self.task = None
        self.echo(result.describe())

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _replay(name: str, url: str, options: tuple[str, ...], effort: dict[str, Any]) -> Any:
    """The function making the replay command of a failed check (secrets shown as ***)."""
    from zarr_vectors.storage.secrets import is_secret_option, redact_url

    shown = []
    for pair in options:
        key, _, value = pair.partition("=")
        shown += ["--option", f"{key}=***" if is_secret_option(key.strip()) else pair]
    switches = []
    for flag, value in effort.items():
        if value is not None:
            switches += [flag, str(value)]

    def replay(check: str, seed: int | None) -> str:
        args = ["zarr-vectors", "check-backend", name, "--url", redact_url(url), *shown]
        args += ["--check", check, *switches]
        args += ["--seed", str(seed)] if seed is not None else ["--derandomize"]
        return shlex.join(args)

    return replay


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
    help="Backend constructor option (repeatable), e.g. --option region=us-east-1. "
    "true/false become booleans and numbers become int or float.",
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
    "--max-examples",
    type=click.IntRange(min=1),
    default=None,
    help="Examples per property (default 40 on local stores, 12 on remote ones).",
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=None,
    help="Most calls per state-machine run (default 30 on local stores, 20 on remote ones).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Longest one backend call may take (default 30 on local stores, 120 on remote ones).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=None,
    help="Seed of the examples; a failure prints the seed that replays it.",
)
@click.option("--derandomize", is_flag=True, help="Draw the same examples on every run (for CI).")
def check_backend(
    name: str,
    url: str,
    options: tuple[str, ...],
    checks: tuple[str, ...],
    skip: tuple[str, ...],
    max_examples: int | None,
    steps: int | None,
    timeout: float | None,
    seed: int | None,
    derandomize: bool,
) -> None:
    """Check that backend NAME behaves as the storage protocol says.

    Runs every property of the conformance kit (state machines over the sync
    and async protocol, fixed edge cases, the key contract, key validation,
    large batches, write fences, two instances and two processes of one URL,
    concurrency, torn writes, conditional writes, persistence, zarr array and
    point-cloud round trips) against NAME at --url, each check in a child
    process the kit can end. Effort follows the URL: the local profile for
    paths, file://, memory:// and schemes a plugin declares local, the remote
    profile otherwise. Exits with status 1 naming each failing property, its
    minimal example and the command that replays it.
    """
    from zarr_vectors.exceptions import ZarrVectorsError

    try:
        from zarr_vectors.testing.config import CHECK_NAMES, KitConfig
        from zarr_vectors.testing.guard import outstanding_calls
        from zarr_vectors.testing.runner import new_seed, run_kit
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
    from zarr_vectors.cli._progress import is_terminal

    reporter = _Reporter(live=is_terminal())
    try:
        target = KitTarget.from_name(name, url, **parsed)
        config = KitConfig.for_url(target.url).with_changes(
            max_examples=max_examples,
            stateful_step_count=steps,
            call_timeout=timeout,
            skip=frozenset(skip),
            derandomize=derandomize or None,
        )
        if not config.derandomize:
            config = config.with_changes(seed=seed if seed is not None else new_seed())
        effort = {"--max-examples": max_examples, "--steps": steps, "--timeout": timeout}
        reporter.echo(
            f"Checking the {target.description} "
            f"({'seed ' + str(config.seed) if config.seed is not None else 'derandomized'}; "
            f"{config.max_examples} examples, {config.stateful_step_count} steps, "
            f"{config.call_timeout:g} s per call)"
        )
        results = run_kit(
            target,
            config,
            checks or None,
            reporter=reporter,
            replay=_replay(name, url, options, effort),
        )
    except ZarrVectorsError as exc:
        reporter.close()
        raise click.ClickException(str(exc)) from exc
    reporter.close()
    failed = [r.name for r in results if not r.ok]
    status = 0
    if failed:
        click.echo(
            f"\n{len(failed)} of {len(results)} checks failed: {', '.join(failed)}", err=True
        )
        status = 1
    else:
        click.echo(f"\nAll {len(results)} checks passed.")
    stuck = outstanding_calls()
    if stuck:
        # A call that never returned in this process (checks run here, not in child
        # processes, where the platform cannot fork) keeps its thread; waiting for it at
        # exit would hang.
        click.echo(
            f"{len(stuck)} backend call(s) never returned ({'; '.join(stuck[:3])}); "
            "exiting without waiting for them.",
            err=True,
        )
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    if status:
        raise SystemExit(status)
