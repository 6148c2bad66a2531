"""The progress tick (ticks.py): each example's tick reaches the innermost counter, or nothing."""

from __future__ import annotations

from zarr_vectors.testing.ticks import counting_examples, tick


def test_ticks_go_to_the_innermost_counter_and_the_outer_one_comes_back() -> None:
    outer: list[str] = []
    inner: list[str] = []
    tick()  # nobody counting: nothing happens
    with counting_examples(lambda: outer.append("x")):
        tick()
        with counting_examples(lambda: inner.append("x")):
            tick()
            tick()
        tick()
    tick()
    assert (len(outer), len(inner)) == (2, 2)


def test_the_outer_counter_comes_back_after_a_failure() -> None:
    counted: list[int] = []
    with counting_examples(lambda: counted.append(1)):
        try:
            with counting_examples(lambda: None):
                raise ValueError("a check failed")
        except ValueError:
            pass
        tick()
    assert counted == [1]
