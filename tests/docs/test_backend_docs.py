"""The backend guide states the defaults each backend's ``BackendInfo`` declares.

``BackendInfo`` (each plugin's ``info.py``) is the one home of a backend's schemes
and defaults; the option descriptions there are made from the constants the
backend uses, and this test holds the prose of ``docs/backends.md`` to them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from zarr_vectors.storage.info import BackendInfo
from zarr_vectors_fsspec.info import FSSPEC
from zarr_vectors_obstore.info import OBSTORE

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "backends.md"


def _section(name: str) -> str:
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index(f"\n## {name}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def _defaults(info: BackendInfo) -> list[tuple[str, str]]:
    return [
        (option, number)
        for option, description in info.options.items()
        for number in re.findall(r"default (\d+(?:\.\d+)?)", description)
    ]


@pytest.mark.parametrize("info", [OBSTORE, FSSPEC], ids=lambda info: info.name)
def test_the_guide_states_every_declared_default(info: BackendInfo) -> None:
    section = " ".join(_section(info.name).split())
    assert _defaults(info), f"{info.name} declares no defaults in its option descriptions"
    for option, number in _defaults(info):
        stated = re.search(rf"`{option}`.{{0,200}}?default {re.escape(number)}\b", section)
        assert stated, f"docs/backends.md ({info.name}) does not give {option}'s default {number}"


def test_the_declared_defaults_are_the_ones_the_backends_use() -> None:
    from zarr_vectors_fsspec import backend as fsspec_backend
    from zarr_vectors_obstore import backend as obstore_backend

    assert ("timeout", f"{obstore_backend.DEFAULT_TIMEOUT:g}") in _defaults(OBSTORE)
    assert ("timeout", f"{fsspec_backend.DEFAULT_TIMEOUT:g}") in _defaults(FSSPEC)
    assert ("max_concurrency", str(fsspec_backend.REMOTE_MAX_CONCURRENCY)) in _defaults(FSSPEC)


@pytest.mark.parametrize("info", [OBSTORE, FSSPEC], ids=lambda info: info.name)
def test_object_store_schemes_are_schemes_the_backend_serves(info: BackendInfo) -> None:
    assert set(info.object_store_schemes) <= set(info.schemes)


def _names(text: str, scheme: str) -> bool:
    """Whether ``text`` names ``scheme`` (as ``s3://``, `` `s3` ``, or ``abfs[s]://`` for abfss)."""
    forms = [rf"`{scheme}`", rf"\b{scheme}(\[s\])?://"]
    if scheme.endswith("s"):
        forms.append(rf"\b{scheme[:-1]}\[s\]://")
    return any(re.search(form, text) for form in forms)


@pytest.mark.parametrize("info", [OBSTORE, FSSPEC], ids=lambda info: info.name)
def test_the_guide_names_every_scheme_the_backend_serves(info: BackendInfo) -> None:
    section = _section(info.name)
    unnamed = [scheme for scheme in info.schemes if not _names(section, scheme)]
    assert not unnamed, f"docs/backends.md ({info.name}) does not name {unnamed}"


def test_the_guide_says_which_schemes_obstore_wins() -> None:
    intro = GUIDE.read_text(encoding="utf-8").split("\n## ", 1)[0]
    start = intro.index("`obstore` wins for") + len("`obstore` wins for")
    sentence = " ".join(intro[start:].split(")", 1)[0].split())
    stated = set(re.findall(r"`([a-z0-9]+)`", sentence))
    assert stated == set(OBSTORE.schemes) & set(FSSPEC.schemes)
    assert f"priority {OBSTORE.priority}" in sentence


def test_the_versioned_stores_guide_states_icechunk_s_schemes_and_defaults() -> None:
    from zarr_vectors_icechunk.backend import IcechunkBackend
    from zarr_vectors_icechunk.info import DEFAULT_BRANCH, ICECHUNK, SCHEME_FAMILIES

    guide = (GUIDE.parent / "versioned-stores.md").read_text(encoding="utf-8")
    assert IcechunkBackend.default_max_concurrency == int(
        dict(_defaults(ICECHUNK))["max_concurrency"]
    )
    table = " ".join(guide.split())
    for option, number in _defaults(ICECHUNK):
        assert re.search(rf"`{option}`.{{0,200}}?default {number}\b", table), option
    assert f"default `{DEFAULT_BRANCH}`" in table
    unnamed = [scheme for scheme in SCHEME_FAMILIES if scheme and not _names(guide, scheme)]
    assert not unnamed, f"docs/versioned-stores.md does not name {unnamed}"
