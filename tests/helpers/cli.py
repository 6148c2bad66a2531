"""Running ``zarr-vectors`` commands in the test process, as a user types them.

Through click's ``CliRunner`` on the real entry point (:func:`zarr_vectors.cli.main`),
so a command costs no Python start-up; exceptions other than the command's own
exits propagate, so a traceback a user would see fails the test.
"""

from __future__ import annotations

from click.testing import CliRunner

from zarr_vectors.cli import main

__all__ = ["run", "run_apart"]


def run(*args: object) -> tuple[int, str]:
    """``zarr-vectors ARGS...``: (exit code, standard output and error together)."""
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


def run_apart(*args: object) -> tuple[int, str, str]:
    """``zarr-vectors ARGS...``: (exit code, standard output, standard error)."""
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr
