"""The numeric options of the point commands: parsed, or refused in one line naming the option."""

from __future__ import annotations

import click
import pytest

from zarr_vectors.cli._args import BoxType, ChunkShapeType, MemorySizeType, ShardShapeType


def refusal(kind: click.ParamType, text: str, name: str = "bbox") -> str:
    param = click.Option([f"--{name.replace('_', '-')}"])
    with pytest.raises(click.BadParameter) as caught:
        kind.convert(text, param, None)
    return caught.value.format_message()


@pytest.mark.parametrize(
    ("given", "shape"),
    [("200", (200.0,)), ("200,200,100", (200.0, 200.0, 100.0)), ("1.5 2.5", (1.5, 2.5))],
)
def test_chunk_shapes_are_one_size_or_one_per_axis(given: str, shape: tuple[float, ...]) -> None:
    assert ChunkShapeType().convert(given, None, None) == shape
    assert ChunkShapeType().convert(shape, None, None) == shape  # a default passes through


@pytest.mark.parametrize(
    ("given", "needle"),
    [
        ("0", "'0': give positive sizes, e.g. 200 or 200,200,100"),
        ("10,-1", "give positive sizes"),
        (",", "give positive sizes"),
        ("a,b", "'a,b' is not a list of numbers"),
    ],
)
def test_bad_chunk_shapes_say_what_to_give(given: str, needle: str) -> None:
    assert needle in refusal(ChunkShapeType(), given, "chunk_shape")


def test_a_box_is_the_lower_corner_then_the_upper() -> None:
    assert BoxType().convert("0,0,0,5,6,7", None, None) == ((0.0, 0.0, 0.0), (5.0, 6.0, 7.0))
    assert BoxType().convert("1 2 3 4", None, None) == ((1.0, 2.0), (3.0, 4.0))


@pytest.mark.parametrize(
    ("given", "needle"),
    [
        ("0,0,0,5,5", "an even count of numbers"),
        ("", "an even count of numbers"),
        ("5,0,0,1", "every minimum must be <= its maximum"),
        ("0,x", "not a list of numbers"),
    ],
)
def test_bad_boxes_are_refused(given: str, needle: str) -> None:
    assert needle in refusal(BoxType(), given, "bounds")


def test_a_box_error_names_the_option_it_came_from() -> None:
    with pytest.raises(click.BadParameter) as caught:
        BoxType().convert("0,y", click.Option(["--bounds"]), None)
    assert caught.value.param_hint == "--bounds"


@pytest.mark.parametrize(("given", "shard"), [("8", 8), ("8,8,4", (8, 8, 4)), (4, 4)])
def test_shard_shapes_are_whole_cell_counts(given: object, shard: object) -> None:
    assert ShardShapeType().convert(given, None, None) == shard


@pytest.mark.parametrize("given", ["0", "2.5", "-1", "a", ""])
def test_bad_shard_shapes_are_refused(given: str) -> None:
    assert "give whole numbers of cells per shard >= 1" in refusal(ShardShapeType(), given)


@pytest.mark.parametrize(("given", "size"), [("512MB", 512 * 10**6), ("1GiB", 2**30)])
def test_memory_limit_accepts_units_and_bytes(given: str, size: int) -> None:
    assert MemorySizeType().convert(given, None, None) == size
    assert MemorySizeType().convert(str(size), None, None) == size


def test_a_memory_limit_under_16_mib_is_refused() -> None:
    assert "'1MB': give a size of at least 16 MiB" in refusal(MemorySizeType(), "1MB")
    assert MemorySizeType().convert(2**30, None, None) == 2**30
