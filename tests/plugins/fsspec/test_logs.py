"""zarr_vectors_fsspec.logs: every log record made from now on has the credentials scrubbed.

:func:`guard_logs` wraps the process's log-record factory once; this test
installs it as any fsspec backend with credentials would, and reads the records
a handler receives.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from zarr_vectors_fsspec.logs import _clean, guard_logs


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def kept() -> Iterator[_Kept]:
    handler = _Kept()
    logger = logging.getLogger("zv-test-logs.child")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)


def test_the_session_token_header_is_scrubbed_whatever_its_value() -> None:
    text = (
        "headers {'X-Amz-Security-Token': 'tok-zv-1', 'Host': 'h'} x-amz-security-token:tok-zv-2\n"
    )
    clean = _clean(text, ())
    assert "tok-zv" not in clean and "'Host': 'h'" in clean
    assert _clean("key AKID secret S-zv-9", ("S-zv-9",)) == "key AKID secret ***"


def test_records_are_scrubbed_as_they_are_made(kept: _Kept) -> None:
    guard_logs(["LOG-SECRET-zv-17", "abc"])  # too short to scrub: 'abc' is everywhere
    logger = logging.getLogger("zv-test-logs.child")
    logger.debug("signing with %s for abc", "LOG-SECRET-zv-17")
    try:
        raise ValueError("failed with LOG-SECRET-zv-17")
    except ValueError:
        logger.exception("request failed")
    message, failure = kept.records
    assert message.getMessage() == "signing with *** for abc"
    assert failure.exc_info is None and "LOG-SECRET-zv-17" not in (failure.exc_text or "")
    assert "ValueError: failed with ***" in (failure.exc_text or "")


def test_the_factory_is_wrapped_once(kept: _Kept) -> None:
    guard_logs([])
    factory = logging.getLogRecordFactory()
    guard_logs(["LATER-SECRET-zv-18"])  # a later backend's secrets join the same factory
    assert logging.getLogRecordFactory() is factory
    logging.getLogger("zv-test-logs.child").warning("LATER-SECRET-zv-18")
    assert kept.records[-1].getMessage() == "***"
