"""zarr_vectors_obstore.errors: obstore's exceptions classified by type, and causes made safe.

The exceptions are obstore's own classes, made here without any store.
"""

from __future__ import annotations

import pytest
from obstore.exceptions import (
    AlreadyExistsError,
    GenericError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionError,
    UnauthenticatedError,
    UnknownConfigurationKeyError,
)

from zarr_vectors.storage.secrets import REDACTED
from zarr_vectors_obstore.errors import (
    cause_of,
    is_already_there,
    is_denied,
    is_not_found,
    is_range_refused,
    is_unknown_config,
    is_version_mismatch,
)


def test_classification_is_by_type() -> None:
    assert is_not_found(NotFoundError("x")) and is_not_found(FileNotFoundError("x"))
    assert not is_not_found(GenericError("Object not found"))  # the words alone do not count
    assert is_denied(PermissionDeniedError("x")) and is_denied(UnauthenticatedError("x"))
    assert not is_denied(GenericError("403 Forbidden"))
    assert is_already_there(AlreadyExistsError("x")) and not is_already_there(NotFoundError("x"))
    assert is_version_mismatch(PreconditionError("x"))
    assert not is_version_mismatch(AlreadyExistsError("x"))
    assert is_unknown_config(UnknownConfigurationKeyError("x"))
    assert not is_unknown_config(GenericError("x"))


@pytest.mark.parametrize(
    "text",
    [
        "Generic error: 416 Range Not Satisfiable",
        "Wanted range starting at 10, but object was only 5 bytes long",
        "Invalid range",
        "missing CONTENT_RANGE header",
    ],
)
def test_a_refused_range_is_told_by_its_message(text: str) -> None:
    assert is_range_refused(GenericError(text))
    assert not is_range_refused(OSError(text))  # only obstore's GenericError


def test_other_generic_errors_are_not_a_refused_range() -> None:
    assert not is_range_refused(GenericError("connection reset by peer"))


def test_cause_is_the_first_line_without_the_servers_body() -> None:
    err = GenericError("Error performing put: <?xml version='1.0'?><Error>x</Error>\nDebug: ...")
    assert cause_of(err, lambda s: s) == "Error performing put"
    assert cause_of(GenericError("first.\nsecond"), lambda s: s) == "first"
    assert cause_of(GenericError("  "), lambda s: s) == "GenericError"


def test_cause_has_no_credential_in_it() -> None:
    text = (
        "request to https://a.blob.core.windows.net/c/k?sv=1&sig=SIG-zv-1&se=2030 failed "
        "with key KEY-zv-2 and X-Amz-Signature=AMZ-zv-3"
    )
    cause = cause_of(GenericError(text), lambda s: s.replace("KEY-zv-2", REDACTED))
    for secret in ("SIG-zv-1", "KEY-zv-2", "AMZ-zv-3", "2030"):
        assert secret not in cause
    assert f"sig={REDACTED}" in cause and f"X-Amz-Signature={REDACTED}" in cause


def test_a_long_cause_is_cut() -> None:
    cause = cause_of(GenericError("x" * 1000), lambda s: s)
    assert len(cause) <= 300 and cause.endswith("...")
