"""The exceptions (zarr_vectors.exceptions): what ``except`` clauses catch, what messages say.

Callers catch the standard types (``KeyError``, ``ValueError``, ``TypeError``,
``ImportError``) as well as this package's; a worker's exception must cross a
process boundary (pickle) whole.
"""

from __future__ import annotations

import pickle

import pytest

from zarr_vectors import exceptions as ex


@pytest.mark.parametrize(
    ("error", "also"),
    [
        (ex.MissingKeyError, KeyError),
        (ex.InvalidKeyError, ValueError),
        (ex.ValidationError, ValueError),
        (ex.ReadOnlyStoreError, ValueError),
        (ex.BackendOptionError, TypeError),
        (ex.MissingExtraError, ImportError),
        (ex.ConformanceError, AssertionError),
        (ex.TransactionConflictError, ex.ConcurrentWriteError),
        (ex.ReadOnlyStoreError, ex.ReadOnlyBackendError),
    ],
)
def test_each_error_is_also_the_standard_error_callers_catch(
    error: type[Exception], also: type[Exception]
) -> None:
    assert issubclass(error, also) and issubclass(error, ex.ZarrVectorsError)


def test_every_public_error_is_a_zarr_vectors_error() -> None:
    public = [getattr(ex, name) for name in ex.__all__]
    errors = [e for e in public if isinstance(e, type) and issubclass(e, Exception)]
    assert len(errors) > 15
    for error in errors:
        assert issubclass(error, ex.ZarrVectorsError) or issubclass(error, Warning), error


def test_a_missing_key_says_the_key_not_its_repr() -> None:
    assert str(ex.MissingKeyError("0/vertices/c/1/2/3")) == "0/vertices/c/1/2/3"
    assert str(KeyError("0/vertices/c/1/2/3")) == "'0/vertices/c/1/2/3'"  # what it overrides
    assert str(ex.MissingKeyError()) == "missing key"


def test_a_conflict_names_the_commit_that_won() -> None:
    error = ex.TransactionConflictError("refused", other="snapshot-7")
    assert error.other == "snapshot-7" and str(error) == "refused"
    assert ex.TransactionConflictError("refused").other is None


def test_a_missing_extra_keeps_its_facts_across_a_pickle() -> None:
    error = ex.MissingExtraError(
        "reading LAS needs laspy", feature="reading LAS", library="laspy", command="pip install x"
    )
    assert error.name == "laspy"  # as ImportError names the module
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is ex.MissingExtraError and str(back) == str(error)
    assert (back.feature, back.library, back.command, back.name) == (
        "reading LAS",
        "laspy",
        "pip install x",
        "laspy",
    )
