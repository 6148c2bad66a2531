"""Parsing the numeric options of the point commands (--chunk-shape, --bounds, --bbox)."""

from __future__ import annotations

import click

__all__ = ["BoxType", "ChunkShapeType"]


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
