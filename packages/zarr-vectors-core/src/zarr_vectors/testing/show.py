"""How the kit prints keys and values in its messages, so that invisible differences show.

``repr`` of a string prints ``'é'`` for both the composed ``'\\xe9'`` and the
decomposed ``'e\\u0301'``, and a 1,024-byte key fills a screen. Here strings are
printed with :func:`ascii` (every non-ASCII character escaped) and long keys by
their start, their end and their length in bytes; long values by their length
and first bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["Key", "show", "show_call", "show_key", "show_keys"]

#: Keys longer than this (in bytes of UTF-8) are shortened in messages.
LONG_KEY = 64
#: Lists longer than this are cut in messages.
LONG_LIST = 12


def show_key(key: Any) -> str:
    """``key`` with escapes; a long key as its start, end and length."""
    if not isinstance(key, str):
        return repr(key)
    size = len(key.encode("utf-8", "surrogatepass"))
    if size <= LONG_KEY:
        return ascii(key)
    return f"{ascii(key[:24])[:-1]}...{ascii(key[-16:])[1:]} ({size} bytes)"


class Key(str):
    """A key as the kit draws it: a ``str`` that hypothesis prints like :func:`show_key`.

    So a minimal example reads ``'cafe\\u0301'`` (not ``'café'``, which could be
    either form) and a 1,024-byte key fits on one line.
    """

    __slots__ = ()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(show_key(str(self)))


def show_keys(keys: Iterable[Any]) -> str:
    """A list of keys, each shown by :func:`show_key`, cut after :data:`LONG_LIST`."""
    listed = list(keys)
    shown = [show_key(k) for k in listed[:LONG_LIST]]
    if len(listed) > LONG_LIST:
        shown.append(f"... {len(listed) - LONG_LIST} more")
    return "[" + ", ".join(shown) + "]"


def show(value: Any) -> str:
    """A short description of a value for a failure message."""
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        if len(data) > 48:
            return f"<{len(data)} bytes starting {data[:16]!r}>"
        return repr(data)
    if isinstance(value, str):
        return show_key(value)
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: str(kv[0]))
        body = ", ".join(f"{show_key(k)}: {show(v)}" for k, v in items[:LONG_LIST])
        more = f", ... {len(items) - LONG_LIST} more" if len(items) > LONG_LIST else ""
        return "{" + body + more + "}"
    if isinstance(value, list | tuple):
        if all(isinstance(v, str) for v in value):
            return show_keys(value)
        inner = ", ".join(show(v) for v in value[:LONG_LIST])
        more = f", ... {len(value) - LONG_LIST} more" if len(value) > LONG_LIST else ""
        return (
            ("[" if isinstance(value, list) else "(")
            + inner
            + more
            + ("]" if isinstance(value, list) else ")")
        )
    if isinstance(value, BaseException):
        text = str(value)
        if len(text) > 240:  # messages that echo a long key several times
            text = f"{text[:160]}...{text[-60:]} ({len(text)} characters)"
        return f"{type(value).__name__}: {text}"
    return repr(value)


def show_call(name: str, *args: Any, **kwargs: Any) -> str:
    """``name(arg, ...)`` as the kit prints a backend call; values shown by size."""

    def one(value: Any) -> str:
        if isinstance(value, bytes | bytearray | memoryview):
            return f"<{len(value)} bytes>"
        if isinstance(value, list | tuple) and value and isinstance(value[0], tuple):
            pairs = [f"({show_key(k)}, {one(v)})" for k, v in value[:6]]
            more = f", ... {len(value) - 6} more" if len(value) > 6 else ""
            return "[" + ", ".join(pairs) + more + "]"
        return show(value)

    shown = [one(a) for a in args] + [f"{k}={one(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(shown)})"
