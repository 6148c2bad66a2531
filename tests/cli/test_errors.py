"""Errors as one line and an exit code: 2 for what the user gave, 1 for what the store could not do.

The messages speak the command line's words (``--mode w``, ``--bounds``) and never
carry a secret the user gave, even one a third-party library echoed back.
"""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from zarr_vectors.cli._errors import (
    CommandError,
    InputError,
    cli_wording,
    handle_errors,
    message_for,
    secrets_of,
)
from zarr_vectors.exceptions import (
    BackendOptionError,
    CorruptStoreError,
    StoreExistsError,
    ValidationError,
    ZarrVectorsError,
)


def test_secrets_are_credential_options_and_passwords_inside_urls() -> None:
    found = secrets_of(
        {"secret_access_key": "S3CRET", "region": "eu", "password": "pw12"},
        ["s3://bucket/x", "https://user:hunter22@host/x?sig=SIGNED99&v=1"],
    )
    assert sorted(found) == sorted(["S3CRET", "pw12", "SIGNED99", "hunter22"])
    assert secrets_of({}, ["/a/local/path"]) == []


def test_library_words_become_command_line_words() -> None:
    text = "bounds=([0.0, 0.0], [5.0, 5.0]) hold no points; use mode='a' or mode='w'"
    assert cli_wording(text) == "--bounds 0.0,0.0,5.0,5.0 hold no points; use --mode a or --mode w"
    assert cli_wording("chunk_shape=(1,) is wrong") == "--chunk-shape (1,) is wrong"
    assert cli_wording("shard_shape must be 1") == "--shard-shape must be 1"


def test_a_message_has_no_secret_and_names_an_empty_error_by_its_type() -> None:
    assert message_for(ValueError("token ABCD1234 refused"), ["ABCD1234"]) == "token *** refused"
    assert message_for(ZarrVectorsError()) == "ZarrVectorsError"


def _command(exc: BaseException) -> click.Command:
    @click.command()
    @handle_errors
    def cmd() -> None:
        click.get_current_context().meta["zv_secrets"] = ["hunter2-secret"]
        raise exc

    return cmd


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (ValidationError("bad hunter2-secret input"), 2),
        (CorruptStoreError("damaged"), 2),
        (BackendOptionError("no such option"), 2),
        (StoreExistsError("there is a store; pass mode='w'"), 1),
        (FileNotFoundError("gone"), 1),
        (PermissionError("denied"), 1),
        (InputError("already a click error"), 2),
        (CommandError("also one"), 1),
    ],
)
def test_errors_map_to_exit_codes_and_one_line(exc: BaseException, code: int) -> None:
    result = CliRunner().invoke(_command(exc), [])
    assert result.exit_code == code, result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert "Traceback" not in result.output and "hunter2-secret" not in result.output


def test_other_exceptions_are_not_hidden() -> None:
    result = CliRunner().invoke(_command(KeyError("a bug")), [])
    assert isinstance(result.exception, KeyError)


def test_a_message_in_library_words_is_shown_in_command_line_words() -> None:
    result = CliRunner().invoke(_command(StoreExistsError("pass mode='w' to replace")), [])
    assert "Error: pass --mode w to replace" in result.output
