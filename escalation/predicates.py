"""Conditions on a proposal's arguments and requester: ``{amount: {gt: 1000}}``.

Semantics, chosen so that a surprise makes a rule *not* match rather than crash:

- A path is dotted into nested objects (``customer.country``) and lists (``items.0.sku``).
- A missing path satisfies only ``exists: false``; every other operator, ``ne`` included,
  is false for it.
- ``eq``/``ne``/``in`` compare JSON values exactly: ``1 == 1.0``, but ``"1" != 1`` and
  ``true != 1``.
- ``gt``/``gte``/``lt``/``lte`` compare numbers; a string that spells a number (``"5000.00"``)
  is compared as that number, so an agent cannot slip past a threshold by quoting it.
- ``matches`` is a Python regular expression that must match the *whole* string value
  (``re.fullmatch``); write ``.*word.*`` to search.
- A value these operators cannot compare (``"1e400"``, ``"Infinity"``, ``"60_000"``, text,
  booleans, null, objects for ``gt``...; a non-string for ``matches``) fails closed: it counts
  as a match in ``deny`` and ``require_approval`` rules and as no match in ``allow`` rules, so
  an odd spelling can never slip past a threshold. ``policy explain`` says when this happened.
- All operators given in one condition must hold (they are AND-ed).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StrictBool,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()
_NUMERIC = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*")
_PATH = re.compile(r"[^.\s]+(\.[^.\s]+)*")
OPERATORS = ("eq", "ne", "in", "gt", "gte", "lt", "lte", "matches", "exists")
_SYMBOLS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _custom(message: str, fix: str) -> PydanticCustomError:
    return PydanticCustomError("signoff", "{message}", {"message": message, "fix": fix})


def number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _custom(f"expected a number, got {value!r}", "write a plain number, e.g. 1000")
    if as_number(value) is None:  # .inf / .nan: a threshold nothing can cross
        raise _custom(f"expected a finite number, got {value!r}",
                      "write a plain number, e.g. 1000")
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise _custom(f"invalid regular expression {value!r}: {exc}",
                      "fix the pattern (Python re syntax; it must match the whole value)") from None
    return value


def _path(value: str) -> str:
    if not _PATH.fullmatch(value):
        raise _custom(f"{value!r} is not an argument path",
                      "use a key name, or dotted keys into nested objects: customer.country")
    return value


Number = Annotated[float, BeforeValidator(number)]
Regex = Annotated[str, AfterValidator(_regex)]
ArgPath = Annotated[str, AfterValidator(_path)]
"""A dotted path into the proposal's arguments: ``amount``, ``customer.country``."""


def lookup(args: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, or :data:`MISSING`."""
    current: Any = args
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list | tuple) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return MISSING
    return current


def as_number(value: Any) -> int | float | None:
    """A finite number from a number or a numeric string; ``None`` for anything else.
    Integers stay exact (Python compares them with floats exactly, however large)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    numeric_text = isinstance(value, str) and _NUMERIC.fullmatch(value) is not None
    if not (isinstance(value, float) or numeric_text):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def comparable(op: str, value: Any) -> bool:
    """Whether ``op`` can judge ``value`` at all (a missing value is judged: it is absent)."""
    if value is MISSING:
        return True
    if op in _SYMBOLS:
        return as_number(value) is not None
    if op == "matches":
        return isinstance(value, str)
    return True


def same(a: Any, b: Any) -> bool:
    """JSON equality: booleans only equal booleans; ``1 == 1.0``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


class Predicate(BaseModel):
    """Operators that must all hold for one value. A bare scalar means ``eq``."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    eq: Any = None
    ne: Any = None
    in_: tuple[Any, ...] | None = Field(default=None, alias="in")
    gt: Number | None = None
    gte: Number | None = None
    lt: Number | None = None
    lte: Number | None = None
    matches: Regex | None = None
    exists: StrictBool | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, list):
            raise _custom("a bare list is ambiguous here", "write {in: [...]} to match any of them")
        if not isinstance(data, dict):
            return {"eq": data}
        return data

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        reference = handler(schema)
        target = handler.resolve_ref_schema(reference)
        operators = dict(target)
        target.clear()
        scalar = {"type": ["string", "number", "boolean", "null"], "description": "same as eq"}
        target.update({"anyOf": [operators, scalar]})
        return reference

    @model_validator(mode="after")
    def _not_empty(self) -> Predicate:
        if not self.model_fields_set:
            raise _custom("a condition needs at least one operator",
                          f"use one of: {', '.join(OPERATORS)}")
        return self

    def operators(self) -> list[tuple[str, Any]]:
        """The operators given, in a fixed order, as (name, operand)."""
        given = {"in" if f == "in_" else f for f in self.model_fields_set}
        return [(op, getattr(self, "in_" if op == "in" else op)) for op in OPERATORS
                if op in given]

    def describe(self, subject: str) -> str:
        return " and ".join(_describe(subject, op, operand) for op, operand in self.operators())

    def mismatch(self, subject: str, value: Any, *, fail_closed: bool = False) -> str | None:
        """``None`` when every operator holds for ``value``, else why not (for explain).

        ``fail_closed`` (deny and require_approval rules): an operator that cannot compare
        ``value`` holds, so an uncomparable value never escapes a restrictive rule.
        """
        for op, operand in self.operators():
            if fail_closed and not comparable(op, value):
                continue
            if not _holds(op, operand, value):
                shown = "missing" if value is MISSING else f"{value!r}"
                return f"{subject} is {shown}, not {_describe('', op, operand).strip()}"
        return None


    def uncomparable(self, subject: str, value: Any) -> str | None:
        """Which operators could not compare ``value`` (said by explain), else ``None``."""
        ops = [_describe("", op, operand).strip() for op, operand in self.operators()
               if not comparable(op, value)]
        if not ops:
            return None
        return f"{subject} is {value!r}, which cannot be compared with {' and '.join(ops)}"


def _describe(subject: str, op: str, operand: Any) -> str:
    if op in _SYMBOLS:
        return f"{subject} {_SYMBOLS[op]} {operand:g}"
    if op == "exists":
        return f"{subject} {'present' if operand else 'absent'}"
    if op == "in":
        return f"{subject} in {list(operand)!r}"
    if op == "matches":
        return f"{subject} matching /{operand}/"
    return f"{subject} {'==' if op == 'eq' else '!='} {operand!r}"


def _holds(op: str, operand: Any, value: Any) -> bool:
    if op == "exists":
        return (value is not MISSING) == operand
    if value is MISSING:
        return False
    if op == "eq":
        return same(value, operand)
    if op == "ne":
        return not same(value, operand)
    if op == "in":
        return any(same(value, item) for item in operand)
    if op == "matches":
        return isinstance(value, str) and re.fullmatch(operand, value) is not None
    actual = as_number(value)
    if actual is None:
        return False
    return {"gt": actual > operand, "gte": actual >= operand,
            "lt": actual < operand, "lte": actual <= operand}[op]
