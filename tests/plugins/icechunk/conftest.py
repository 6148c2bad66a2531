"""Shared set-up of the icechunk plugin's tests."""

import os

# Icechunk warns (through its own logger, on stdout) every time a repository on a local
# folder is opened; the tests open hundreds. Errors are still shown.
os.environ.setdefault("ICECHUNK_LOG", "error")
