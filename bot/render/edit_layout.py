"""How each argument is edited: the layout both the edit modal and its parser follow.

The layout is computed from the ticket's current arguments and the action's argument model, so
rendering and parsing always agree on which block holds which argument and what it shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from bot.render.blocks import INPUT_MAX, MAX_VIEW_BLOCKS, block_id
from bot.render.edit_split import MAX_PARTS, MAX_SPLIT_PARTS, part_block_id, split_text
from bot.render.edit_types import Kind, kind_of_type, unwrap
from bot.render.ids import EDIT_FIELD_PREFIX
from bot.render.text import slen
from bot.render.values import Redactor, json_text
from store.models import Ticket

NUMBER_KINDS = ("int", "float", "decimal")
MAX_FIELDS = 96
"""Input blocks for single arguments; the modal's other blocks are the intro, the "rest" JSON
field and a note, which keeps every edit modal within Block Kit's 100 blocks."""
MULTILINE_AT = 80
SAFE_INT = 2**53
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()


@dataclass
class FieldSpec:
    key: str
    kind: Kind
    current: Any = MISSING
    block_id: str = ""
    nullable: bool = False
    optional: bool = False
    multiline: bool = False
    choices: tuple[Any, ...] = ()
    bounds: dict[str, Decimal] = field(default_factory=dict)
    max_len: int | None = None
    hint: str | None = None
    parts: tuple[str, ...] = ()
    """A text too long for one input, as the consecutive inputs that show it."""
    why: str | None = None
    """Why a ``readonly`` value cannot be edited here."""

    @property
    def present(self) -> bool:
        return self.current is not MISSING

    @property
    def part_ids(self) -> list[str]:
        return [part_block_id(self.block_id, n) for n in range(1, len(self.parts) + 1)]


@dataclass
class EditLayout:
    fields: list[FieldSpec]
    rest_keys: list[str]
    """Arguments edited together as one JSON object (past the modal's field budget)."""
    rest_block: bool
    kept: list[str]
    """Arguments past the field budget that stay as they are (secrets, or all of them when
    their JSON is too long for one input). Too-long single values say so in their own block."""
    model_names: dict[str, str]
    """Argument key -> field name on the argument model."""


def layout_edit(
    ticket: Ticket, arg_model: type[BaseModel] | None, red: Redactor,
) -> EditLayout:
    args = ticket.final_args
    specs: list[FieldSpec] = []
    names: dict[str, str] = {}
    for name, info in (arg_model.model_fields if arg_model else {}).items():
        key = _key_for(name, info, args)
        names[key] = name
        specs.append(_from_field(key, info, args.get(key, MISSING), red))
    specs += [_from_value(k, v, red) for k, v in args.items() if k not in names]
    _assign_ids(specs)
    return _fold(specs[:MAX_FIELDS], specs[MAX_FIELDS:], red, names)


def _fold(
    shown: list[FieldSpec], overflow: list[FieldSpec], red: Redactor, names: dict[str, str],
) -> EditLayout:
    rest = [s.key for s in overflow if s.present and not red.is_secret(s.key)]
    kept = [s.key for s in overflow if s.present and red.is_secret(s.key)]
    rest_block = bool(overflow)
    if rest and slen(rest_json(rest, {s.key: s.current for s in overflow}, red)) > INPUT_MAX:
        kept, rest, rest_block = kept + rest, [], False
    _fit_parts(shown, MAX_VIEW_BLOCKS - 3 - len(shown))  # intro, rest and note keep room
    if not any(s.kind != "readonly" for s in shown) and not rest_block:
        rest_block = True  # always at least one input: lets a reviewer add arguments
    return EditLayout(shown, rest, rest_block, kept, names)


def _fit_parts(shown: list[FieldSpec], spare_blocks: int) -> None:
    """Give split values their inputs while the form has room; the others stay as they are."""
    spare_parts = MAX_SPLIT_PARTS
    for spec in shown:
        n = len(spec.parts)
        if not n:
            continue
        if n > MAX_PARTS:
            why = f"it would need {n} boxes; one value may use at most {MAX_PARTS}"
        elif n - 1 > spare_blocks or n > spare_parts:
            why = f"the form has no room left for the {n} boxes it would need"
        else:
            spare_blocks, spare_parts = spare_blocks - (n - 1), spare_parts - n
            continue
        spec.kind, spec.parts, spec.why = "readonly", (), why


def rest_json(keys: list[str], values: dict[str, Any], red: Redactor) -> str:
    if not keys:
        return "{}"
    return json_text({k: red.value(values[k]) for k in keys})


def _key_for(name: str, info: FieldInfo, args: dict[str, Any]) -> str:
    alias = info.alias if isinstance(info.alias, str) else None
    if alias and (alias in args or name not in args):
        return alias
    return name


def _assign_ids(specs: list[FieldSpec]) -> None:
    used: set[str] = set()
    for spec in specs:
        candidate = block_id(EDIT_FIELD_PREFIX, spec.key)
        n = 1
        while candidate in used:
            n += 1
            candidate = block_id(EDIT_FIELD_PREFIX, f"{spec.key}#{n}")
        used.add(candidate)
        spec.block_id = candidate


def _from_field(key: str, info: FieldInfo, current: Any, red: Redactor) -> FieldSpec:
    tp, nullable, meta = unwrap(info.annotation)
    kind, choices = kind_of_type(tp)
    if red.is_secret(key) or kind == "secret" or _extra(info, "secret"):
        kind = "secret"
    elif kind is None:
        return _from_value(key, current, red, hint=info.description)
    spec = FieldSpec(
        key, kind, current, nullable=nullable, choices=choices, hint=info.description,
        multiline=_extra(info, "multiline"),
    )
    _constraints(spec, [*info.metadata, *meta])
    spec.optional = nullable or not info.is_required() or kind in ("bool", "secret")
    return _finish(spec, red)


def _from_value(key: str, current: Any, red: Redactor, hint: str | None = None) -> FieldSpec:
    kind: Kind
    if red.is_secret(key):
        kind = "secret"
    elif current is None or current is MISSING or isinstance(current, str):
        kind = "text"
    elif isinstance(current, bool):
        kind = "bool"
    elif isinstance(current, Enum):
        kind = "json"
    elif isinstance(current, int):
        kind = "int"
    elif isinstance(current, float):
        kind = "float"
    elif isinstance(current, Decimal):
        kind = "decimal"
    elif isinstance(current, datetime):
        kind = "datetime"
    elif isinstance(current, date):
        kind = "date"
    else:
        kind = "json"
    spec = FieldSpec(key, kind, current, nullable=current is None, hint=hint)
    spec.optional = current is None or current is MISSING or kind in ("bool", "secret")
    return _finish(spec, red)


def _finish(spec: FieldSpec, red: Redactor) -> FieldSpec:
    """Adjust the kind to what the current value allows; decide multiline and optional."""
    value = spec.current
    plain_number = isinstance(value, int | float) and not isinstance(value, bool)
    if spec.kind in NUMBER_KINDS and plain_number and number_text(value) is None:
        spec.kind = "json"  # beyond what a number input holds exactly (huge, NaN, infinite)
    if spec.kind == "datetime" and spec.present and value is not None and not _picker_holds(value):
        # Slack's date-time picker takes 10-digit timestamps (1970 to 2286): edit as text.
        spec.kind = "text" if isinstance(value, str) else "json"
    shown = initial_text(spec, red)
    if shown is not None and slen(shown) > INPUT_MAX:
        _too_long(spec, shown)
    if spec.kind == "text":
        spec.multiline = spec.multiline or "\n" in (shown or "") or len(shown or "") > MULTILINE_AT
        spec.optional = spec.optional or not shown
    if spec.kind == "json":
        spec.multiline = True
    return spec


def _picker_holds(value: Any) -> bool:
    epoch = as_epoch(value)
    return epoch is not None and 0 <= epoch <= MAX_PICKER_EPOCH


#: The largest ``initial_date_time`` Slack accepts ("10 digits").
MAX_PICKER_EPOCH = 9_999_999_999


def _too_long(spec: FieldSpec, shown: str) -> None:
    """A text goes into several inputs if it could fit; anything else stays as it is."""
    if spec.kind == "text" and slen(shown) <= MAX_PARTS * INPUT_MAX:
        spec.parts, spec.multiline = tuple(split_text(shown)), True
        return  # _fit_parts may still find it too many inputs
    spec.kind, spec.why = "readonly", (
        f"one value may use at most {MAX_PARTS} boxes" if spec.kind == "text"
        else f"structured values are edited as JSON in one box of {INPUT_MAX:,} characters")


def _extra(info: FieldInfo, name: str) -> bool:
    """A flag from ``Field(json_schema_extra={...})``: ``multiline`` or ``secret``."""
    extra = info.json_schema_extra
    return isinstance(extra, dict) and extra.get(name) is True


def _constraints(spec: FieldSpec, meta: list[Any]) -> None:
    for item in meta:
        for name in ("ge", "gt", "le", "lt"):
            bound = getattr(item, name, None)
            if isinstance(item, at.Ge | at.Gt | at.Le | at.Lt) and bound is not None:
                number = _decimal(bound)
                if number is not None:
                    spec.bounds[name] = number
        if isinstance(item, at.MaxLen):
            spec.max_len = item.max_length


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def number_text(value: Any) -> str | None:
    """A number as a number input shows it (plain digits), or None if it cannot."""
    if isinstance(value, str):  # JSON carries decimals as strings
        value = _decimal_text(value)
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    if isinstance(value, int):
        return str(value) if abs(value) <= SAFE_INT else None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        value = Decimal(repr(value))
    if not value.is_finite():
        return None
    text = format(value, "f")
    return text if len(text) <= 40 else None


def _decimal_text(text: str) -> Decimal | None:
    if len(text) > 40 or not text.strip():
        return None
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        return None


def as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10]) if len(value) >= 10 else None
        except ValueError:
            return None
    return None


def as_epoch(value: Any) -> int | None:
    moment = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(moment, datetime):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.floor(moment.timestamp())


def option_index(spec: FieldSpec) -> int | None:
    current = spec.current.value if isinstance(spec.current, Enum) else spec.current
    for i, choice in enumerate(spec.choices):
        if choice == current and type(choice) is type(current):
            return i
    return None


def initial_text(spec: FieldSpec, red: Redactor) -> str | None:
    """What a text-like input starts with (also decides whether it fits an input at all)."""
    value = spec.current
    if spec.kind == "secret" or not spec.present:
        return ""
    if spec.kind == "text":
        return "" if value is None else value if isinstance(value, str) else json_text(value)
    if spec.kind == "json":
        return json_text(red.value(value))
    return None


def initial_repr(spec: FieldSpec, red: Redactor) -> Any:
    """The value a submission carries when the reviewer left this field alone."""
    if spec.kind in ("text", "json", "secret"):
        return initial_text(spec, red)
    if not spec.present:
        return False if spec.kind == "bool" else None
    if spec.kind in NUMBER_KINDS:
        return number_initial(spec)
    if spec.kind == "bool":
        return spec.current is True
    if spec.kind == "select":
        index = option_index(spec)
        return None if index is None else f"o{index}"
    if spec.kind == "date":
        day = as_date(spec.current)
        return day.isoformat() if day else None
    if spec.kind == "datetime":
        epoch = as_epoch(spec.current)
        return epoch if epoch is not None and epoch >= 0 else None
    return None


def number_initial(spec: FieldSpec) -> str | None:
    """What a number input starts with: whole numbers only for ``int`` fields."""
    text = number_text(spec.current)
    if text is None or spec.kind != "int":
        return text
    number = Decimal(text)
    return str(int(number)) if number == number.to_integral_value() else None


def number_range(spec: FieldSpec) -> tuple[Decimal | None, Decimal | None]:
    """Inclusive bounds for the number input (Slack has no exclusive ones)."""
    b = spec.bounds
    low, high = b.get("ge", b.get("gt")), b.get("le", b.get("lt"))
    if spec.kind == "int":
        if low is not None:
            low = Decimal(math.floor(low) + 1) if "ge" not in b else Decimal(math.ceil(low))
        if high is not None:
            high = Decimal(math.ceil(high) - 1) if "le" not in b else Decimal(math.floor(high))
    return low, high
