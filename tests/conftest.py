"""Shared pytest configuration.

Server fixtures (SeaweedFS, Azurite, a GCS emulator, an HTTP server) live in
``tests/servers/`` and are loaded as a plugin below once they exist.
"""

pytest_plugins = ["tests.servers.fixtures"]
