"""The state machines: a backend driven step by step next to a :class:`~.model.Model`.

Each step is one protocol call with arguments drawn to hit the hard cases
(existing keys, siblings, nested prefixes, overwrites, MiB values, keys at the
edges of the key contract). The answer of the backend is compared with the
model's at that step, and after every step the full recursive listing and the
root's non-recursive listing of both must agree. When they disagree hypothesis
shrinks the run to the shortest sequence of calls that still shows it.

Calls a backend offers only on request are checked where it offers them:
``put_if`` where ``conditional_writes`` is true (and refused with
:class:`~zarr_vectors.exceptions.UnsupportedOperationError` where it is false),
version tokens where ``head`` returns them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    rule,
    run_state_machine_as_test,
)

from zarr_vectors.testing.config import KitConfig
from zarr_vectors.testing.drivers import AsyncDriver, SyncDriver
from zarr_vectors.testing.machine import Draws, MachineBase
from zarr_vectors.testing.show import show
from zarr_vectors.testing.strategies import KeySpace, key_space, sizes
from zarr_vectors.testing.target import KitTarget, close_quietly

__all__ = ["Features", "machine_class", "run_machine", "show"]


@dataclass(frozen=True)
class Features:
    """What a backend declares about itself, read once from an opened instance."""

    hierarchical: bool = False
    conditional_writes: bool = False

    @classmethod
    def of(cls, backend: Any) -> Features:
        return cls(
            hierarchical=bool(getattr(backend, "hierarchical_keys", False)),
            conditional_writes=bool(getattr(backend, "conditional_writes", False)),
        )


class _Draws(Draws):
    """Every strategy the rules draw from, for a store taking keys of the space's budget."""

    def __init__(self, space: KeySpace, config: KitConfig) -> None:
        self.space = space
        self.keys = space.keys
        self.lengths = sizes(config.max_value_size)
        self.seeds = st.integers(0, 2**16)
        # Keys written so far, so that reads, range reads, heads and deletes mostly hit
        # objects that exist; fixed and generated keys keep missing keys and new ones coming.
        self.stored = Bundle("stored")
        self.targets = st.one_of(self.stored, self.stored, self.keys)
        self.writes = st.one_of(self.keys, self.keys, self.stored)
        self.key_lists = st.lists(self.targets, max_size=6)
        # Directories of keys written: the first segment (a sibling of other keys often
        # starts with it: 'a' and 'ab', 'order' and 'order-1') and the direct parent.
        tops = self.stored.map(lambda k: k.split("/")[0])
        parents = self.stored.map(lambda k: k.rpartition("/")[0])
        deep, prefixes = st.sampled_from(space.deep), space.list_prefixes
        # The root one time in seven, then directories of the keys written, deep ones, others.
        self.deletes = st.one_of(st.just(""), tops, tops, parents, deep, prefixes, self.keys)
        self.listings = st.one_of(st.just(""), tops, parents, deep, prefixes)
        self.items = st.tuples(self.writes, self.lengths, self.seeds)


def _step(method: Callable[..., Any]) -> Callable[..., Any]:
    """A fresh function calling ``method`` (hypothesis marks the functions it decorates, and
    each machine class decorates its own), printed in a minimal run under the same name."""

    def step(self: Any, *args: Any, **kwargs: Any) -> Any:
        return method(self, *args, **kwargs)

    step.__name__ = step.__qualname__ = method.__name__
    step.__doc__ = method.__doc__
    return step


def _rules(d: _Draws, conditional: bool) -> dict[str, Any]:
    """The steps a run draws from, each with the strategies of its arguments."""
    base = MachineBase
    ranges = st.integers(0, 16) | st.integers(0, 400)
    rules: dict[str, Any] = {
        "seed": initialize(
            target=d.stored,
            batch=st.lists(
                st.tuples(st.sampled_from(d.space.fixed), st.integers(0, 300)),
                max_size=8,
                unique_by=lambda t: t[0],
            ),
        )(_step(base.seed)),
        "put": rule(target=d.stored, key=d.writes, size=d.lengths, seed=d.seeds)(_step(base.put)),
        "get": rule(key=d.targets)(_step(base.get)),
        "get_range": rule(
            key=d.targets, start=ranges, length=st.none() | st.integers(0, 16) | ranges
        )(_step(base.get_range)),
        "get_range_past_the_end": rule(
            key=d.targets,
            beyond=st.integers(0, 3) | st.integers(0, 5000),
            length=st.none() | st.integers(0, 8),
        )(_step(base.get_range_past_the_end)),
        "get_range_inside": rule(
            key=d.stored, start=st.integers(0, 2**20), length=st.integers(0, 2**20)
        )(_step(base.get_range_inside)),
        "exists": rule(key=d.targets)(_step(base.exists)),
        "head": rule(key=d.targets)(_step(base.head)),
        "delete": rule(key=d.targets)(_step(base.delete)),
        "delete_many": rule(wanted=st.lists(d.targets, max_size=8))(_step(base.delete_many)),
        "move_many": rule(target=d.stored, data=st.data(), count=st.integers(0, 6))(
            _step(base.move_many)
        ),
        "delete_prefix": rule(prefix=d.deletes)(_step(base.delete_prefix)),
        "list_prefix": rule(prefix=d.listings, recursive=st.booleans())(_step(base.list_prefix)),
        "get_many": rule(wanted=d.key_lists)(_step(base.get_many)),
        "put_many_small": rule(target=d.stored, batch=st.lists(d.items, max_size=1))(
            _step(base.put_many_small)
        ),
        # A rule of its own for batches of several items, so that they are drawn often
        # whatever other rules the machine has (a backend that drops an item of a batch is
        # caught only by such a batch).
        "put_many": rule(target=d.stored, batch=st.lists(d.items, min_size=2, max_size=6))(
            _step(base.put_many)
        ),
    }
    if conditional:
        rules["put_if_absent"] = rule(target=d.stored, key=d.writes, size=d.lengths, seed=d.seeds)(
            _step(base.put_if_absent)
        )
        rules["put_if_match"] = rule(
            key=d.targets, size=d.lengths, seed=d.seeds, stale=st.booleans()
        )(_step(base.put_if_match))
    else:
        rules["put_if_unsupported"] = rule(key=d.keys)(_step(base.put_if_unsupported))
    return rules


def machine_class(
    target: KitTarget, config: KitConfig, mode: str, features: Features | None = None
) -> type[RuleBasedStateMachine]:
    """A state machine class testing ``target`` through the ``"sync"`` or ``"async"`` protocol."""
    if features is None:
        probe = target.current()
        try:
            features = Features.of(probe)
        finally:
            close_quietly(probe)
    draws = _Draws(key_space(target.max_key_bytes), config)
    name = f"{mode.capitalize()}BackendMachine"
    namespace: dict[str, Any] = {
        **_rules(draws, features.conditional_writes),
        "__qualname__": name,
        "__doc__": MachineBase.__doc__,
        "kit_target": target,
        "where": target.description,
        "make_driver": SyncDriver if mode == "sync" else AsyncDriver,
        "hierarchical": features.hierarchical,
        "conditional": features.conditional_writes,
        "draws": draws,
    }
    return type(name, (MachineBase,), namespace)


def run_machine(target: KitTarget, config: KitConfig, mode: str) -> None:
    """Run the ``mode`` state machine; raises with hypothesis's minimal run on a failure."""
    machine = config.seeded(machine_class(target, config, mode))
    run_state_machine_as_test(machine, settings=config.settings(stateful=True))
