"""Shared pytest configuration.

Server fixtures (SeaweedFS, Azurite, a GCS emulator, an HTTP server) live in
``tests/servers/`` and are loaded as a plugin below once they exist.
"""

import os

pytest_plugins = ["tests.servers.fixtures"]

# Tests interrupt and kill writers on purpose; the next writer then waits for the dead
# one's write lease to expire. A short lease keeps those waits to seconds (writers renew
# it every third of it, so a live writer keeps it however long it works).
os.environ.setdefault("ZARR_VECTORS_LEASE_SECONDS", "5")
