"""What Slack's client does with blocks: ids, input state, and the checks done before submitting.

The state shapes follow what Slack sends in ``state.values[block_id][action_id]``.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bot.sandbox.errors import InvalidInput
from bot.sandbox.records import Json

_SINGLE = {"value", "selected_option", "selected_user", "selected_conversation",
           "selected_channel", "selected_date", "selected_time", "selected_date_time",
           "rich_text_value"}
STATE_KEYS: dict[str, str] = {
    "plain_text_input": "value", "email_text_input": "value", "url_text_input": "value",
    "number_input": "value", "rich_text_input": "rich_text_value", "file_input": "files",
    "static_select": "selected_option", "external_select": "selected_option",
    "radio_buttons": "selected_option", "checkboxes": "selected_options",
    "multi_static_select": "selected_options", "multi_external_select": "selected_options",
    "users_select": "selected_user", "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "multi_conversations_select": "selected_conversations",
    "channels_select": "selected_channel", "multi_channels_select": "selected_channels",
    "datepicker": "selected_date", "timepicker": "selected_time",
    "datetimepicker": "selected_date_time",
}
_INITIAL = {"value": "initial_value", "rich_text_value": "initial_value",
            **{key: key.replace("selected_", "initial_") for key in STATE_KEYS.values()
               if key.startswith("selected_")}}
_INITIAL["selected_date_time"] = "initial_date_time"


@dataclass(frozen=True)
class Located:
    """An element found in a surface, with the block that holds it."""

    block: Json
    element: Json

    @property
    def block_id(self) -> str:
        return str(self.block.get("block_id"))

    @property
    def action_id(self) -> str:
        return str(self.element.get("action_id"))

    @property
    def in_input(self) -> bool:
        return self.block.get("type") == "input"

    @property
    def dispatches(self) -> bool:
        """Whether using the element sends ``block_actions`` (input blocks only if asked to)."""
        return not self.in_input or self.block.get("dispatch_action") is True


def fill_ids(blocks: list[Json], make_id: Callable[[], str]) -> list[Json]:
    """Copy blocks, giving each block and element without an id a generated one, as Slack does."""
    blocks = copy.deepcopy(blocks)
    for block in blocks:
        if isinstance(block, dict) and not block.get("block_id"):
            block["block_id"] = make_id()
        for element in _raw_elements(block):
            if element.get("type") != "image" and not element.get("action_id"):
                element["action_id"] = make_id()
    return blocks


def elements(blocks: list[Json]) -> Iterator[Located]:
    for block in blocks:
        for element in _raw_elements(block):
            yield Located(block, element)


def _raw_elements(block: object) -> list[Json]:
    if not isinstance(block, dict):
        return []
    found = [block[k] for k in ("accessory", "element") if isinstance(block.get(k), dict)]
    if block.get("type") == "actions" and isinstance(block.get("elements"), list):
        found += [e for e in block["elements"] if isinstance(e, dict)]
    return found


def initial_state(blocks: list[Json]) -> dict[str, dict[str, Json]]:
    """The state Slack's client starts with: every stateful element with its initial value."""
    state: dict[str, dict[str, Json]] = {}
    for loc in elements(blocks):
        kind = str(loc.element.get("type"))
        if kind in STATE_KEYS:
            key = STATE_KEYS[kind]
            initial = loc.element.get(_INITIAL.get(key, ""))
            value = initial if initial is not None else (None if key in _SINGLE else [])
            state.setdefault(loc.block_id, {})[loc.action_id] = {"type": kind, key: value}
    return state


def state_value(element: Json, value: Any) -> Json:
    """What a user's entry looks like in ``state.values``; rejects entries a user could not make."""
    kind = str(element.get("type"))
    key = STATE_KEYS.get(kind)
    if key is None:
        raise InvalidInput(f"a {kind} element holds no input")
    return {"type": kind, key: _convert(element, kind, key, value)}


def _convert(element: Json, kind: str, key: str, value: Any) -> Any:
    if value is None:
        return None if key in _SINGLE else []
    converters: dict[str, Callable[[], Any]] = {
        "value": lambda: _text_value(kind, value),
        "selected_option": lambda: _option(element, value),
        "selected_options": lambda: [_option(element, v) for v in _as_list(value)],
        "selected_date": lambda: _checked(value, _is_date, "a date YYYY-MM-DD"),
        "selected_time": lambda: _checked(value, _is_time, "a time HH:mm"),
        "selected_date_time": lambda: int(value),
        "rich_text_value": lambda: _rich_text(str(value)),
    }
    if key in converters:
        return converters[key]()
    return [str(v) for v in _as_list(value)] if key not in _SINGLE else str(value)


def _text_value(kind: str, value: Any) -> str:
    text = str(value)
    if kind == "number_input" and not re.fullmatch(r"-?\d+(\.\d+)?", text):
        raise InvalidInput(f"{text!r} is not a number")
    return text


def _option(element: Json, wanted: Any) -> Json:
    if isinstance(wanted, dict):
        wanted = wanted.get("value")
    options = list(_options(element))
    if element.get("type") in ("external_select", "multi_external_select") and not options:
        return {"text": {"type": "plain_text", "text": str(wanted)}, "value": str(wanted)}
    for option in options:
        text = option.get("text")
        label = text.get("text") if isinstance(text, dict) else None
        if wanted in (option.get("value"), label):
            return copy.deepcopy(option)
    raise InvalidInput(f"{wanted!r} is not an option of {element.get('action_id')}")


def _options(element: Json) -> Iterator[Json]:
    yield from (o for o in element.get("options") or [] if isinstance(o, dict))
    for group in element.get("option_groups") or []:
        if isinstance(group, dict):
            yield from (o for o in group.get("options") or [] if isinstance(o, dict))


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple, set)) else [value]


def _checked(value: Any, test: Callable[[str], bool], what: str) -> str:
    if not test(str(value)):
        raise InvalidInput(f"{value!r} is not {what}")
    return str(value)


def _is_date(value: str) -> bool:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_time(value: str) -> bool:
    return re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value) is not None


def _rich_text(text: str) -> Json:
    section = {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
    return {"type": "rich_text", "elements": [section]}


def is_empty(entry: Json) -> bool:
    return all(v in (None, "", []) for k, v in entry.items() if k != "type")


def client_side_errors(blocks: list[Json], values: dict[str, dict[str, Json]]) -> dict[str, str]:
    """Errors Slack's client shows without sending anything: required fields, text lengths."""
    errors: dict[str, str] = {}
    for loc in elements(blocks):
        if not loc.in_input:
            continue
        entry = values.get(loc.block_id, {}).get(loc.action_id, {"type": "unknown"})
        message = _entry_error(loc, entry)
        if message:
            errors[loc.block_id] = message
    return errors


def _entry_error(loc: Located, entry: Json) -> str | None:
    if is_empty(entry):
        return None if loc.block.get("optional") is True else "This field is required."
    value = entry.get("value")
    if not isinstance(value, str):
        return None
    low, high = loc.element.get("min_length"), loc.element.get("max_length")
    if isinstance(low, int) and len(value) < low:
        return f"Must be at least {low} characters."
    if isinstance(high, int) and len(value) > high:
        return f"Must be at most {high} characters."
    return _range_error(loc.element, value)


def _range_error(element: Json, value: str) -> str | None:
    if element.get("type") != "number_input":
        return None
    if element.get("is_decimal_allowed") is not True and "." in value:
        return "Must be a whole number."
    low, high = element.get("min_value"), element.get("max_value")
    if low is not None and float(value) < float(low):
        return f"Must be at least {low}."
    if high is not None and float(value) > float(high):
        return f"Must be at most {high}."
    return None
