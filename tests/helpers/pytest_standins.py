"""Stand-ins for the parts of pytest's ``Config`` and ``FixtureRequest`` the kit reads.

The kit's pytest plugin, base class and collected suite read command-line options
(``config.getoption``) and the test's node id; their tests call them in-process
with these instead of starting a pytest run of their own.
"""

from __future__ import annotations

from typing import Any


class FakeConfig:
    """``pytest.Config`` as far as ``getoption`` goes: the options given, else the default."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    def getoption(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


class FakeNode:
    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid
        self.name = nodeid.rpartition("::")[2]


class FakeRequest:
    """``pytest.FixtureRequest`` as far as ``config`` and ``node`` (id and name) go."""

    def __init__(
        self, config: FakeConfig, nodeid: str = "tests/test_mine.py::TestMine::test_x"
    ) -> None:
        self.config = config
        self.node = FakeNode(nodeid)
