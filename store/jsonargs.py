"""Arguments are JSON, and only JSON that every reader spells and reads back the same way.

An approval binds arguments by the hash of their canonical JSON, policy compares them, both
databases store them and other languages verify them. So before anything is evaluated or
stored, arguments must be plain I-JSON (RFC 7493): objects with string keys, arrays,
strings (no unpaired surrogates), booleans, null, finite numbers, and integers a double holds
exactly (within +/-(2**53 - 1)). Anything else is refused with what to change; nothing is
converted silently, except that tuples are arrays and mappings are objects.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

SAFE_INTEGER = 2**53 - 1
"""The largest integer every JSON reader (a double) holds exactly."""
MAX_DEPTH = 32
"""Nesting deeper than this is refused: no tool needs it, and it exhausts parsers' stacks."""


class NotJson(ValueError):
    """A value that is not plain JSON. The message names where it is and what to do."""

    def __init__(self, path: str, problem: str, fix: str) -> None:
        super().__init__(f"{path or 'the arguments'} {problem}; {fix}")
        self.path = path


def json_args(args: Any) -> dict[str, Any]:
    """``args`` as a plain JSON object (a fresh copy), or :class:`NotJson`."""
    if not isinstance(args, Mapping):
        raise NotJson("", f"are a {type(args).__name__}, not an object",
                      "pass a dict of argument names to values")
    out: dict[str, Any] = _object(args, "", 1)
    return out


def json_value(value: Any, path: str = "value") -> Any:
    """Any plain JSON value (a fresh copy), or :class:`NotJson`."""
    return _value(value, path, 1)


def _value(value: Any, path: str, depth: int) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return _integer(value, path)
    if isinstance(value, float):
        if not math.isfinite(value):
            problem = ("is not a number (NaN)" if math.isnan(value)
                       else "is out of range: JSON numbers must be finite")
            raise NotJson(path, problem, "pass a finite number (or leave the argument out)")
        return float(value)
    if isinstance(value, str):
        return _text(value, path)
    if depth > MAX_DEPTH:
        raise NotJson(path, f"is nested more than {MAX_DEPTH} levels deep",
                      "flatten the arguments")
    if isinstance(value, Mapping):
        return _object(value, path, depth + 1)
    if isinstance(value, list | tuple):
        return [_value(item, f"{path}.{i}", depth + 1) for i, item in enumerate(value)]
    raise NotJson(path, f"is a {type(value).__name__}, which is not JSON",
                  _FIXES.get(type(value).__name__, "pass a string, number, boolean, null, "
                                                    "list or dict instead"))


def _object(value: Mapping[Any, Any], path: str, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise NotJson(f"{path} has key {key!r}" if path else f"key {key!r}",
                          f"of type {type(key).__name__}", "use string keys (JSON objects "
                          "have only string keys)")
        _text(key, f"key {key!r}")
        where = f"{path}.{key}" if path else key
        out[str(key)] = _value(item, where, depth)
    return out


def _integer(value: int, path: str) -> int:
    if -SAFE_INTEGER <= value <= SAFE_INTEGER:
        return int(value)
    digits = len(str(abs(value))) if value.bit_length() < 10_000 else "thousands of"
    shown = f"{value}" if isinstance(digits, int) and digits <= 30 else f"{digits} digits long"
    raise NotJson(path, f"is {shown}, beyond what JSON numbers hold exactly "
                  f"(+/-{SAFE_INTEGER})", "pass it as a string if it is an identifier, or "
                  "use a smaller unit or value")


def _text(value: str, path: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise NotJson(path, "contains an unpaired surrogate, which is not text",
                      "decode the text properly (it is not valid Unicode)") from None
    return str(value)


_FIXES = {
    "Decimal": "pass it as a string (exact) or a float",
    "set": "pass a list", "frozenset": "pass a list",
    "bytes": "pass text, or base64-encode the bytes into a string",
    "bytearray": "pass text, or base64-encode the bytes into a string",
    "datetime": "pass an ISO 8601 string (value.isoformat())",
    "date": "pass an ISO 8601 string (value.isoformat())",
    "time": "pass an ISO 8601 string (value.isoformat())",
}
