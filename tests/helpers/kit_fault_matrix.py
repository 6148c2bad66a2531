"""How often the kit catches each faulty backend at its default settings, seed by seed.

Not collected by pytest (the fault tests, in the test file of each check's module, use
fewer examples to stay quick); run it by hand to measure::

    uv run python -m tests.helpers.kit_fault_matrix                 # seeds 1-5, every fault
    uv run python -m tests.helpers.kit_fault_matrix --seeds 1-10 --fault torn-writes

Each fault is run through the checks listed for it in kit_expected.py with
``KitConfig.local()`` and the seed, without shrinking (which starts only after a
fault is found, so it changes the time, not the outcome). The hanging backend is
released when the run ends.
"""

from __future__ import annotations

import argparse
import itertools
import time

from tests.helpers.kit_expected import EXPECTED, NEW_EXPECTED
from tests.helpers.kit_faulty import FAULTY, RELEASE
from zarr_vectors.testing import KitConfig, KitTarget, run_check

#: the faults caught through the time limit, and the check that shows it
TIMED = {"get-blocks-forever": [("sync-state-machine", "did not return within")]}


def _seeds(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1-5", help="a seed or a range such as 1-5")
    parser.add_argument("--fault", action="append", help="only this fault (repeatable)")
    args = parser.parse_args()
    seeds = _seeds(args.seeds)
    cases = {**EXPECTED, **NEW_EXPECTED, **TIMED}
    faults = args.fault or sorted(cases)
    counter = itertools.count()
    print(f"{'fault':24} {'check':20} caught  seconds per seed")
    try:
        for fault in faults:
            for check, _ in cases[fault]:
                caught, times = 0, []
                for seed in seeds:
                    url = f"dict://matrix-{next(counter)}"
                    cls = FAULTY[fault]
                    target = KitTarget(
                        lambda c=cls, u=url: c(u),
                        f"{cls.__name__} at {url}",
                        url=url,
                        in_process=True,
                    )
                    config = KitConfig.local().with_changes(seed=seed, shrink=False)
                    started = time.monotonic()
                    result = run_check(check, target, config)
                    times.append(time.monotonic() - started)
                    caught += result.status == "failed"
                shown = " ".join(f"{t:.1f}" for t in times)
                print(f"{fault:24} {check:20} {caught}/{len(seeds)}     {shown}", flush=True)
    finally:
        RELEASE.set()


if __name__ == "__main__":
    main()
