"""No credential in any log line: the client libraries' records are scrubbed as they are made.

botocore logs, at DEBUG, every request it signs (the canonical request with
``x-amz-security-token:<session token>``) and sends (its headers, the token
included); s3fs, gcsfs and adlfs log the calls they make. Those records are
made by the libraries' own loggers, which this package does not own and whose
handlers may be anybody's, so a filter on one logger would miss its children.
Instead the log-record factory is wrapped, once per process: every record made
while an fsspec backend with credentials exists has each credential this
package was given (and the session token of an ``x-amz-security-token`` header,
whatever its value: it may come from the environment or a profile) replaced by
``***``. The cost is paid only for records that are made, that is, for levels
that are enabled.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable
from typing import Any

from zarr_vectors.storage.secrets import REDACTED, redact_text

__all__ = ["guard_logs"]

#: A session token as botocore writes it: in the canonical request, or in a header dict.
_TOKEN_HEADER = re.compile(
    r"(?i)(x-amz-security-token['\"]?\s*[:=]\s*b?['\"]?)([^'\"\s,}]+)",
)
#: Credentials botocore may take from the environment rather than from the options.
_ENV_CREDENTIALS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")

_lock = threading.Lock()
_secrets: dict[str, None] = {}  # insertion-ordered set
_installed = False


def guard_logs(secrets: Iterable[str]) -> None:
    """Scrub ``secrets`` (and AWS session tokens) from every log record made from now on."""
    global _installed
    with _lock:
        for value in (*secrets, *(os.environ.get(name, "") for name in _ENV_CREDENTIALS)):
            if value and len(value) >= 4:
                _secrets[value] = None
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _scrub(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True


def _scrub(record: logging.LogRecord) -> None:
    """Replace the credentials in a record's message (and its exception text) with ``***``."""
    secrets = tuple(_secrets)
    try:
        message = record.getMessage()
    except Exception:
        return  # a malformed record: logging reports it itself
    clean = _clean(message, secrets)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[1] is not None:
        text = logging.Formatter().formatException(record.exc_info)
        clean = _clean(text, secrets)
        if clean != text:
            record.exc_text = clean
            record.exc_info = None


def _clean(text: str, secrets: tuple[str, ...]) -> str:
    text = redact_text(text, list(secrets))
    return _TOKEN_HEADER.sub(lambda m: m.group(1) + REDACTED, text)
