"""Real object-store servers on 127.0.0.1 for tests and benchmarks.

:mod:`tests.helpers.servers.procs` starts and stops them (no pytest import, so bench
scripts can use it); :mod:`tests.helpers.servers.fixtures` wraps them as pytest
fixtures and is loaded from ``tests/conftest.py``.
"""
