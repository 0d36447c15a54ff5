"""Which input an argument's type annotation asks for in the edit form."""

from __future__ import annotations

import types
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from inspect import isclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import SecretBytes, SecretStr

from bot.render.blocks import MAX_OPTIONS

Kind = Literal[
    "text", "int", "float", "decimal", "bool", "select", "date", "datetime", "json", "secret",
    "readonly",
]


def unwrap(tp: Any) -> tuple[Any, bool, list[Any]]:
    """Strip ``Annotated`` and ``Optional``: (the type, whether None is allowed, metadata)."""
    meta: list[Any] = []
    nullable = False
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp, *extra = get_args(tp)
            meta += extra
        elif origin is Union or origin is types.UnionType:
            members = [a for a in get_args(tp) if a is not type(None)]
            nullable = nullable or len(members) < len(get_args(tp))
            if len(members) != 1:
                return Union[tuple(members)], nullable, meta  # noqa: UP007
            tp = members[0]
        else:
            return tp, nullable, meta


def kind_of_type(tp: Any) -> tuple[Kind | None, tuple[Any, ...]]:
    """The input for a (non-optional) annotation; ``None`` means "judge by the value"."""
    if tp is Any or tp is None:
        return None, ()
    if get_origin(tp) is Literal:
        return _choices(get_args(tp))
    if not isclass(tp):
        return "json", ()
    if issubclass(tp, Enum):
        return _choices(tuple(m.value for m in tp))
    for base, kind in _CLASS_KINDS:
        if issubclass(tp, base):
            return kind, ()
    return "json", ()


_CLASS_KINDS: tuple[tuple[type, Kind], ...] = (
    (SecretStr, "secret"), (SecretBytes, "secret"), (bool, "bool"), (int, "int"),
    (float, "float"), (Decimal, "decimal"), (str, "text"), (datetime, "datetime"),
    (date, "date"),
)


def _choices(values: tuple[Any, ...]) -> tuple[Kind, tuple[Any, ...]]:
    if 0 < len(values) <= MAX_OPTIONS:
        return "select", values
    return ("text" if all(isinstance(v, str) for v in values) else "json"), ()
