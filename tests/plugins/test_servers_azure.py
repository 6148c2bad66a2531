"""The Azure test server itself: Shared Key is enforced, containers are fresh, public works."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from tests.helpers.servers import procs

pytestmark = pytest.mark.servers


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def test_private_container_refuses_anonymous_listing(
    azure_server: procs.AzureServer, azure_container: str
) -> None:
    url = f"{azure_server.endpoint}/{azure_container}?restype=container&comp=list"
    assert _status(url) in (403, 404)


def test_public_container_lists_anonymously(azure_server: procs.AzureServer) -> None:
    name = azure_server.create_container(public=True)
    assert _status(f"{azure_server.endpoint}/{name}?restype=container&comp=list") == 200


def test_container_names_are_unique_and_taken_names_refused(
    azure_server: procs.AzureServer,
) -> None:
    name = azure_server.create_container()
    assert azure_server.create_container() != name
    with pytest.raises(procs.ServerStartError, match="409"):
        azure_server.create_container(name)


def test_a_deleted_container_and_its_blobs_are_gone(azure_server: procs.AzureServer) -> None:
    """The ``azure_container`` fixture deletes its container: the shared Azurite keeps
    every blob in memory, and containers left behind slowed every later request."""
    name = azure_server.create_container(public=True)
    listing = f"{azure_server.endpoint}/{name}?restype=container&comp=list"
    assert _status(listing) == 200
    azure_server.delete_container(name)
    assert _status(listing) in (403, 404)  # no public container of that name any more
    assert azure_server.create_container(name) == name  # the name is free again: it is gone
    azure_server.delete_container(name)
    azure_server.delete_container(name)  # already gone: not an error
