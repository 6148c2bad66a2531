"""Turning zarr-vectors errors into a one-line message and an exit code.

A user who mistypes a path or gives points outside the bounds needs the
message that says what to do, not a traceback. Exit code 2 means the input
was wrong (as click uses it for bad options); 1 means the store or backend
could not do what was asked. Messages pass through the credential redactor
with every option value the user gave, so a secret echoed by a third-party
library never reaches the terminal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import wraps
from typing import Any, TypeVar

import click

from zarr_vectors.exceptions import (
    BackendOptionError,
    CorruptStoreError,
    InvalidKeyError,
    ValidationError,
    ZarrVectorsError,
)
from zarr_vectors.storage.secrets import is_secret_option, redact_text, redact_url

__all__ = ["INPUT_ERRORS", "CommandError", "InputError", "handle_errors", "secrets_of"]

F = TypeVar("F", bound=Callable[..., Any])

#: errors caused by what the user typed: exit code 2.
INPUT_ERRORS: tuple[type[BaseException], ...] = (
    ValidationError,
    CorruptStoreError,  # the store given is damaged: `zarr-vectors verify` lists how
    BackendOptionError,
    InvalidKeyError,
)


class CommandError(click.ClickException):
    """The store or backend could not do what was asked: ``Error: <message>``, exit 1."""

    exit_code = 1


class InputError(CommandError):
    """What the user gave (a file, an option, the data) is wrong: exit 2."""

    exit_code = 2


def secrets_of(options: Mapping[str, Any], urls: Iterable[str] = ()) -> list[str]:
    """Every value worth hiding: credential options, and passwords inside URLs."""
    found = [str(v) for k, v in options.items() if is_secret_option(str(k))]
    for url in urls:
        redacted = redact_url(url)
        if redacted != url:
            found.extend(part for part in _differences(url, redacted))
    return found


def _differences(original: str, redacted: str) -> list[str]:
    """The pieces of ``original`` that the redactor replaced (query values, passwords)."""
    from urllib.parse import parse_qsl, urlsplit

    parts = urlsplit(original)
    out = [v for _, v in parse_qsl(parts.query, keep_blank_values=True) if v not in redacted]
    if parts.password:
        out.append(parts.password)
    return out


_BOUNDS = re.compile(r"bounds=\(\[([^\]]*)\], \[([^\]]*)\]\)")
_KEYWORDS = (
    ("mode='w'", "--mode w"),
    ("mode='a'", "--mode a"),
    ("chunk_shape=", "--chunk-shape "),
    ("shard_shape must", "--shard-shape must"),
    ("memory_limit must", "--memory-limit must"),
)


def cli_wording(text: str) -> str:
    """Say ``--mode w`` where the library's message says ``mode='w'`` (and so on)."""
    text = _BOUNDS.sub(
        lambda m: "--bounds " + ",".join(v.strip() for v in f"{m[1]},{m[2]}".split(",")), text
    )
    for api, cli in _KEYWORDS:
        text = text.replace(api, cli)
    return text


def message_for(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """The text shown for ``exc``, in command-line wording, with secrets removed."""
    text = str(exc) or type(exc).__name__
    return redact_text(cli_wording(text), list(secrets))


def handle_errors(func: F) -> F:
    """Run a command body; map zarr-vectors and file errors to messages and exit codes.

    The command may stash known secret values in ``click.get_current_context().meta
    ["zv_secrets"]`` so that they are scrubbed from any message.
    """

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except click.ClickException:
            raise
        except INPUT_ERRORS as exc:
            raise InputError(message_for(exc, _ctx_secrets())) from None
        except (ZarrVectorsError, FileNotFoundError, PermissionError, IsADirectoryError) as exc:
            raise CommandError(message_for(exc, _ctx_secrets())) from None

    return wrapper  # type: ignore[return-value]


def _ctx_secrets() -> list[str]:
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return []
    return list(ctx.meta.get("zv_secrets", []))
