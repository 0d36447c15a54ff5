"""Reading an edit modal's submission back into arguments, or into per-field errors."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.render.edit_layout import (
    MISSING,
    EditLayout,
    FieldSpec,
    initial_repr,
    layout_edit,
    rest_json,
)
from bot.render.ids import EDIT_REST_BLOCK, EDIT_VALUE_ACTION
from bot.render.text import clip
from bot.render.values import MASK, MAX_DEPTH, Redactor
from store.models import SAFE_INTEGER, NotJson, Ticket, json_args, json_value

ERROR_LIMIT = 300
_REMOVE: Any = object()


class FieldError(ValueError):
    """A submitted value that cannot be read; the message is shown under the field."""


@dataclass(frozen=True)
class EditResult:
    """Either ``ok`` with the arguments to run, or ``errors`` keyed by the modal's block ids."""

    args: dict[str, Any] | None = None
    errors: dict[str, str] = field(default_factory=dict)
    changed: tuple[str, ...] = ()
    """Argument keys whose value differs from ``ticket.final_args``."""

    @property
    def ok(self) -> bool:
        return self.args is not None and not self.errors


def parse_edit_submission(
    ticket: Ticket, arg_model: type[BaseModel] | None, state_values: Mapping[str, Any], *,
    masked: frozenset[str] = frozenset(),
) -> EditResult:
    """Apply what the reviewer changed to ``ticket.final_args`` and validate the result.

    Fields left as they were keep their exact current value (secrets left empty included), so
    submitting the modal unchanged returns ``ticket.final_args`` itself.
    """
    red = Redactor.for_ticket(ticket, masked)
    layout = layout_edit(ticket, arg_model, red)
    args = dict(ticket.final_args)
    errors: dict[str, str] = {}
    touched: list[str] = []
    split_at: dict[str, str] = {}
    for spec in layout.fields:
        try:
            if _apply_field(spec, red, state_values, args):
                touched.append(spec.key)
                if spec.parts:
                    split_at[spec.key] = _first_changed_part(spec, state_values)
        except FieldError as exc:
            errors[spec.block_id] = clip(str(exc), ERROR_LIMIT)
    if layout.rest_block:
        try:
            touched += _apply_rest(layout, red, state_values, args)
        except FieldError as exc:
            errors[EDIT_REST_BLOCK] = clip(str(exc), ERROR_LIMIT)
    if errors:
        return EditResult(errors=errors)
    if arg_model is not None and touched:
        try:
            args = _validated(arg_model, args, touched, layout)
        except ValidationError as exc:
            return EditResult(errors=_map_errors(exc, layout, split_at))
    if touched and (not_json := _not_json(args, layout)):
        return EditResult(errors=not_json)
    old = ticket.final_args
    changed = tuple(k for k in {**old, **args} if old.get(k, MISSING) != args.get(k, MISSING))
    return EditResult(args=args, changed=changed)


def _state(state_values: Mapping[str, Any], block_id: str) -> Mapping[str, Any]:
    block = state_values.get(block_id)
    value = block.get(EDIT_VALUE_ACTION) if isinstance(block, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def submitted_repr(spec: FieldSpec, state: Mapping[str, Any]) -> Any:
    """The submission in the same form as ``initial_repr``, to tell "left alone" from "changed"."""
    if spec.kind == "bool":
        return bool(state.get("selected_options"))
    if spec.kind == "select":
        chosen = state.get("selected_option")
        return chosen.get("value") if isinstance(chosen, Mapping) else None
    if spec.kind == "date":
        return state.get("selected_date") or None
    if spec.kind == "datetime":
        return state.get("selected_date_time")
    value = state.get("value")
    if spec.kind in ("text", "json", "secret"):
        return value or ""
    return value or None


def _submitted(spec: FieldSpec, state_values: Mapping[str, Any]) -> Any:
    """What the reviewer left in the field's input, or in all its parts joined as typed; a
    part the reviewer did not change keeps its exact text, whatever the client did to it."""
    if spec.parts:
        pieces = (submitted_repr(spec, _state(state_values, bid)) for bid in spec.part_ids)
        return "".join(before if client_same(got, before) else got
                       for got, before in zip(pieces, spec.parts, strict=True))
    return submitted_repr(spec, _state(state_values, spec.block_id))


def client_same(submitted: Any, shown: Any) -> bool:
    """Is ``submitted`` what a Slack client sends back for ``shown`` left alone? Clients may
    turn CRLF into LF and trim trailing whitespace, so an untouched value is not always
    returned byte for byte; such a value counts as unchanged (and keeps its exact text)."""
    if not isinstance(submitted, str) or not isinstance(shown, str):
        return submitted == shown
    return _as_client_sends(submitted) == _as_client_sends(shown)


def _as_client_sends(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip()


def _first_changed_part(spec: FieldSpec, state_values: Mapping[str, Any]) -> str:
    """The part a reviewer changed first: where an error about the whole value is shown."""
    for bid, before in zip(spec.part_ids, spec.parts, strict=True):
        if submitted_repr(spec, _state(state_values, bid)) != before:
            return bid
    return spec.block_id


def _apply_field(
    spec: FieldSpec, red: Redactor, state_values: Mapping[str, Any], args: dict[str, Any],
) -> bool:
    if spec.kind == "readonly":
        return False
    raw = _submitted(spec, state_values)
    initial = initial_repr(spec, red)
    if raw == initial or (spec.kind in ("text", "json") and client_same(raw, initial)):
        return False  # untouched (as a client returns it), or text only moved between parts
    if spec.parts and raw == "" and not spec.optional:
        raise FieldError("This field is required: the parts are all empty.")
    value = _read(spec, raw, red)
    if value is _REMOVE:
        args.pop(spec.key, None)
    else:
        args[spec.key] = value
    return True


def _read(spec: FieldSpec, raw: Any, red: Redactor) -> Any:
    if raw in (None, "") and spec.kind != "bool":
        if spec.nullable:
            return None
        return "" if spec.kind == "text" and spec.present else _REMOVE
    if spec.kind in ("int", "float", "decimal"):
        return _number(spec, str(raw))
    if spec.kind == "bool":
        return bool(raw)
    if spec.kind == "select":
        index = int(str(raw)[1:]) if str(raw)[1:].isdigit() else -1
        if not 0 <= index < len(spec.choices):
            raise FieldError("Choose one of the options.")
        return spec.choices[index]
    if spec.kind == "date":
        try:
            return date.fromisoformat(str(raw)).isoformat()
        except ValueError as exc:
            raise FieldError("Enter a date.") from exc
    if spec.kind == "datetime":
        return datetime.fromtimestamp(int(raw), tz=UTC).isoformat()
    if spec.kind == "json":
        return unmask(_json(str(raw)), spec.current, red)
    return str(raw)


def _number(spec: FieldSpec, raw: str) -> Any:
    try:
        number = Decimal(raw.strip())
    except InvalidOperation as exc:
        raise FieldError("Enter a number.") from exc
    if not number.is_finite():
        raise FieldError("Enter a number.")
    _check_bounds(spec, number)
    if spec.kind == "int":
        if number != number.to_integral_value():
            raise FieldError("Enter a whole number.")
        if abs(number) > SAFE_INTEGER:  # beyond what a JSON number holds exactly
            raise FieldError(f"Must be between -{SAFE_INTEGER:,} and {SAFE_INTEGER:,}.")
        return int(number)
    if spec.kind == "float":
        if not math.isfinite(float(number)):
            raise FieldError("Enter a smaller number.")
        return float(number)
    return number


_BOUND_TEXT = {
    "ge": ("at least", lambda n, b: n >= b),
    "gt": ("more than", lambda n, b: n > b),
    "le": ("at most", lambda n, b: n <= b),
    "lt": ("less than", lambda n, b: n < b),
}


def _check_bounds(spec: FieldSpec, number: Decimal) -> None:
    for name, bound in spec.bounds.items():
        words, holds = _BOUND_TEXT[name]
        if not holds(number, bound):
            raise FieldError(f"Must be {words} {bound.normalize():f}.")


def _json(raw: str) -> Any:
    try:
        return json_value(json.loads(raw, parse_constant=_no_constant))
    except json.JSONDecodeError as exc:
        raise FieldError(
            f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from exc
    except NotJson as exc:  # 1e400 (read as inf), integers beyond 2**53, deep nesting
        raise FieldError(f"Not allowed: {exc}.") from exc
    except RecursionError as exc:
        raise FieldError("Not valid here: nested too deeply.") from exc


def _no_constant(name: str) -> Any:
    raise FieldError(f"Not valid JSON: {name} is not a number; enter a finite number.")


def _not_json(args: dict[str, Any], layout: EditLayout) -> dict[str, str]:
    """The model may coerce text into what JSON cannot hold ("1e400" into a float, inf):
    such a value is an error under its field, never stored."""
    try:
        json_args(args)
    except NotJson as exc:
        blocks = {s.key: s.block_id for s in layout.fields if s.kind != "readonly"}
        head = exc.path.split(".")[0]
        block = blocks.get(head, EDIT_REST_BLOCK if layout.rest_block else
                           next(iter(blocks.values()), EDIT_REST_BLOCK))
        return {block: clip(f"Not allowed: {exc}.", ERROR_LIMIT)}
    return {}


def unmask(new: Any, old: Any, red: Redactor, depth: int = 0) -> Any:
    """Put back secrets the reviewer left as ``••••••`` (shown masked, so never typed)."""
    if depth > MAX_DEPTH:
        return new
    if isinstance(new, dict) and isinstance(old, Mapping):
        return {
            k: old[k] if red.is_secret(k) and v == MASK and k in old
            else unmask(v, old.get(k, MISSING), red, depth + 1)
            for k, v in new.items()
        }
    if isinstance(new, list) and isinstance(old, list | tuple):
        return [unmask(v, old[i] if i < len(old) else MISSING, red, depth + 1)
                for i, v in enumerate(new)]
    return new


def _apply_rest(
    layout: EditLayout, red: Redactor, state_values: Mapping[str, Any], args: dict[str, Any],
) -> list[str]:
    current = {k: args[k] for k in layout.rest_keys}
    raw = _state(state_values, EDIT_REST_BLOCK).get("value") or ""
    if raw == rest_json(layout.rest_keys, current, red):
        return []
    parsed = _json(raw) if raw.strip() else {}
    if not isinstance(parsed, dict):
        raise FieldError('Enter a JSON object, e.g. {"name": "value"}.')
    parsed = unmask(parsed, current, red)
    for key in layout.rest_keys:
        args.pop(key)
    args.update(parsed)
    return sorted(set(layout.rest_keys) | set(parsed))


def _validated(
    model: type[BaseModel], args: dict[str, Any], touched: list[str], layout: EditLayout,
) -> dict[str, Any]:
    """Validate all arguments; the changed ones are stored as the model's JSON form."""
    dumped = model.model_validate(args).model_dump(mode="json")
    out = dict(args)
    for key in touched:
        name = layout.model_names.get(key, key)
        if key in out and name in dumped:
            out[key] = dumped[name]
    return out


def _map_errors(
    exc: ValidationError, layout: EditLayout, split_at: Mapping[str, str],
) -> dict[str, str]:
    """Each error under the input of its argument (a split value's first changed part)."""
    blocks = {s.key: s.block_id for s in layout.fields if s.kind != "readonly"} | dict(split_at)
    blocks |= {plan_name: blocks[key] for key, plan_name in layout.model_names.items()
               if key in blocks}
    fallback = next(iter(blocks.values()), EDIT_REST_BLOCK)
    split = set(split_at) | {layout.model_names.get(key, key) for key in split_at}
    errors: dict[str, list[str]] = {}
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ())]
        head = loc[0] if loc else ""
        target = blocks.get(head) or (EDIT_REST_BLOCK if layout.rest_block else fallback)
        where = ".".join(loc[1:]) if head in blocks else ".".join(loc)
        notes = (["all parts together"] if head in split else []) + ([f"at {where}"] if where
                                                                        else [])
        errors.setdefault(target, []).append(
            error["msg"] + (f" ({', '.join(notes)})" if notes else ""))
    return {block: clip("; ".join(msgs), ERROR_LIMIT) for block, msgs in errors.items()}
