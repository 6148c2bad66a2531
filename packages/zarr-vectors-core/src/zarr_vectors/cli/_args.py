"""Parsing the numeric options of the point commands.

``--chunk-shape``, ``--bounds``, ``--bbox``, ``--shard-shape`` and
``--memory-limit``. A bad value is a one-line ``Invalid value`` error, exit 2.
"""

from __future__ import annotations

import click

__all__ = ["BoxType", "ChunkShapeType", "MemorySizeType", "ShardShapeType"]


def _numbers(text: str, param_hint: str) -> list[float]:
    parts = [p for p in text.replace(" ", ",").split(",") if p]
    try:
        return [float(p) for p in parts]
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a list of numbers", param_hint=param_hint
        ) from None


class ChunkShapeType(click.ParamType):  # type: ignore[type-arg]  # generic in click 8.2+
    """``200`` (every axis) or ``200,200,100`` (one value per axis)."""

    name = "SIZE[,SIZE...]"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[float, ...]:
        if isinstance(value, tuple):
            return value
        values = _numbers(str(value), "--chunk-shape")
        if not values or any(v <= 0 for v in values):
            self.fail(f"{value!r}: give positive sizes, e.g. 200 or 200,200,100", param, ctx)
        return tuple(values)


class BoxType(click.ParamType):  # type: ignore[type-arg]
    """``MIN1,...,MIND,MAX1,...,MAXD``: the lower corner, then the upper corner."""

    name = "MIN...,MAX..."

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[tuple[float, ...], tuple[float, ...]]:
        if isinstance(value, tuple):
            return value
        hint = f"--{param.name.replace('_', '-')}" if param and param.name else "box"
        values = _numbers(str(value), hint)
        if not values or len(values) % 2:
            self.fail(
                f"{value!r}: give the lower corner then the upper corner, e.g. "
                "0,0,0,500,500,500 (an even count of numbers)",
                param,
                ctx,
            )
        half = len(values) // 2
        lo, hi = tuple(values[:half]), tuple(values[half:])
        if any(a > b for a, b in zip(lo, hi, strict=True)):
            self.fail(f"{value!r}: every minimum must be <= its maximum", param, ctx)
        return lo, hi


class ShardShapeType(click.ParamType):  # type: ignore[type-arg]
    """``8`` (cells per shard on every axis) or ``8,8,4`` (one count per axis)."""

    name = "CELLS[,CELLS...]"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int | tuple[int, ...]:
        if isinstance(value, int | tuple):
            return value
        parts = [p for p in str(value).replace(" ", ",").split(",") if p]
        if not parts or not all(p.isdigit() and int(p) >= 1 for p in parts):
            self.fail(
                f"{value!r}: give whole numbers of cells per shard >= 1, e.g. 8 or 8,8,4",
                param,
                ctx,
            )
        counts = tuple(int(p) for p in parts)
        return counts[0] if len(counts) == 1 else counts


class MemorySizeType(click.ParamType):  # type: ignore[type-arg]
    """Bytes: ``536870912``, ``512MB``, ``1GiB`` (KB/MB/GB are 1000s, KiB/MiB/GiB 1024s)."""

    name = "SIZE"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        if isinstance(value, int):
            return value
        from zarr_vectors.exceptions import ValidationError
        from zarr_vectors.format.spill import check_budget

        try:
            return check_budget(str(value))
        except ValidationError:
            self.fail(
                f"{value!r}: give a size of at least 16 MiB, in bytes or with a unit, e.g. "
                "536870912, 512MB or 1GiB",
                param,
                ctx,
            )
