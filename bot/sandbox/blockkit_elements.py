"""Block Kit composition objects and interactive elements: the checks below blocks.

Every check appends a :class:`BlockKitError` naming the JSON pointer and the broken limit, in the
wording Slack uses in ``response_metadata.messages``. Limits follow Slack's Block Kit reference.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]

SELECTS = ("static_select", "external_select", "users_select", "conversations_select",
           "channels_select")
MULTI_SELECTS = tuple(f"multi_{s}" for s in SELECTS)
TEXT_INPUTS = ("plain_text_input", "email_text_input", "url_text_input", "number_input")


@dataclass(frozen=True)
class BlockKitError:
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"[ERROR] {self.message} [json-pointer:{self.pointer}]"


class Checker:
    """Collects errors while walking a payload; every helper tolerates wrong types."""

    def __init__(self) -> None:
        self.errors: list[BlockKitError] = []

    def fail(self, pointer: str, message: str) -> None:
        self.errors.append(BlockKitError(pointer, message))

    def obj(self, value: object, ptr: str) -> Json | None:
        if isinstance(value, dict):
            return value
        self.fail(ptr, "must provide an object")
        return None

    def missing(self, parent: Json, key: str, ptr: str, required: bool) -> bool:
        """True when the field is absent; reports it if it was required."""
        if parent.get(key) is not None:
            return False
        if required:
            self.fail(ptr, f"missing required field: {key}")
        return True

    def string(self, parent: Json, key: str, ptr: str, max_len: int, *,
               required: bool = False, min_len: int = 0) -> str | None:
        if self.missing(parent, key, ptr, required):
            return None
        value = parent[key]
        where = f"{ptr}/{key}"
        if not isinstance(value, str):
            self.fail(where, "must be a string")
            return None
        if len(value) > max_len:
            self.fail(where, f"must be less than {max_len + 1} characters")
        if len(value) < min_len:
            self.fail(where, f"must be at least {min_len} characters")
        return value

    def array(self, parent: Json, key: str, ptr: str, max_items: int, *,
              required: bool = False, min_items: int = 0) -> list[Any] | None:
        if self.missing(parent, key, ptr, required):
            return None
        value = parent[key]
        where = f"{ptr}/{key}"
        if not isinstance(value, list):
            self.fail(where, "must provide an array")
            return None
        if len(value) > max_items:
            self.fail(where, f"no more than {max_items} items allowed")
        if len(value) < min_items:
            self.fail(where, f"must provide at least {min_items} items")
        return value

    def boolean(self, parent: Json, key: str, ptr: str) -> None:
        if key in parent and not isinstance(parent[key], bool):
            self.fail(f"{ptr}/{key}", "must be a boolean")

    def text(self, parent: Json, key: str, ptr: str, max_len: int, *,
             required: bool = False, plain_only: bool = False) -> None:
        """A text object: ``{"type": "plain_text"|"mrkdwn", "text": ...}``."""
        if self.missing(parent, key, ptr, required):
            return
        self.text_object(parent[key], f"{ptr}/{key}", max_len, plain_only=plain_only)

    def text_object(self, value: object, ptr: str, max_len: int, *,
                    plain_only: bool = False) -> None:
        obj = self.obj(value, ptr)
        if obj is None:
            return
        allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if obj.get("type") not in allowed:
            self.fail(f"{ptr}/type", f"must be one of: {', '.join(allowed)}")
        self.string(obj, "text", ptr, max_len, required=True, min_len=1)
        self.boolean(obj, "emoji", ptr)
        self.boolean(obj, "verbatim", ptr)


# -- composition objects ---------------------------------------------------------------------

def check_confirm(chk: Checker, parent: Json, ptr: str) -> None:
    if "confirm" not in parent:
        return
    where = f"{ptr}/confirm"
    confirm = chk.obj(parent["confirm"], where)
    if confirm is None:
        return
    chk.text(confirm, "title", where, 100, required=True, plain_only=True)
    chk.text(confirm, "text", where, 300, required=True)
    chk.text(confirm, "confirm", where, 30, required=True, plain_only=True)
    chk.text(confirm, "deny", where, 30, required=True, plain_only=True)
    _check_style(chk, confirm, where)


def check_options(chk: Checker, parent: Json, key: str, ptr: str, max_items: int, *,
                  min_items: int = 1, mrkdwn: bool = False, required: bool = True) -> list[Json]:
    """Check an options array and return the well-formed options (for initial_* checks)."""
    items = chk.array(parent, key, ptr, max_items, required=required, min_items=min_items) or []
    good: list[Json] = []
    for i, item in enumerate(items):
        where = f"{ptr}/{key}/{i}"
        option = chk.obj(item, where)
        if option is None:
            continue
        chk.text(option, "text", where, 75, required=True, plain_only=not mrkdwn)
        chk.string(option, "value", where, 150, required=True)
        chk.text(option, "description", where, 75, plain_only=not mrkdwn)
        chk.string(option, "url", where, 3000)
        good.append(option)
    return good


def _check_initial_options(chk: Checker, el: Json, ptr: str, options: list[Json]) -> None:
    values = {o.get("value") for o in options}
    initial_option = el.get("initial_option")
    if isinstance(initial_option, dict) and initial_option.get("value") not in values:
        chk.fail(f"{ptr}/initial_option", "must match one of the provided options")
    initial = el.get("initial_options")
    if isinstance(initial, list):
        for i, option in enumerate(initial):
            if not isinstance(option, dict) or option.get("value") not in values:
                chk.fail(f"{ptr}/initial_options/{i}", "must match one of the provided options")


def _check_style(chk: Checker, obj: Json, ptr: str) -> None:
    if "style" in obj and obj["style"] not in ("primary", "danger"):
        chk.fail(f"{ptr}/style", "must be one of: primary, danger")


# -- elements --------------------------------------------------------------------------------

def check_element(chk: Checker, value: object, ptr: str, allowed: tuple[str, ...]) -> None:
    el = chk.obj(value, ptr)
    if el is None:
        return
    kind = el.get("type")
    if kind not in allowed:
        chk.fail(f"{ptr}/type", f"unsupported element type here: {kind}")
        return
    chk.string(el, "action_id", ptr, 255)
    check_confirm(chk, el, ptr)
    checker = _ELEMENTS.get(str(kind))
    if checker is not None:
        checker(chk, el, ptr)


def _button(chk: Checker, el: Json, ptr: str) -> None:
    chk.text(el, "text", ptr, 75, required=True, plain_only=True)
    chk.string(el, "value", ptr, 2000)
    chk.string(el, "url", ptr, 3000)
    chk.string(el, "accessibility_label", ptr, 75)
    _check_style(chk, el, ptr)


def _select(chk: Checker, el: Json, ptr: str) -> None:
    chk.text(el, "placeholder", ptr, 150, plain_only=True)
    kind = str(el.get("type"))
    if kind.startswith("multi_"):
        _int_in(chk, el, "max_selected_items", ptr, 1, 100)
    if kind.endswith("static_select"):
        _static_options(chk, el, ptr)


def _static_options(chk: Checker, el: Json, ptr: str) -> None:
    has_options, has_groups = "options" in el, "option_groups" in el
    if has_options == has_groups:
        chk.fail(ptr, "must provide exactly one of options or option_groups")
        return
    if has_options:
        options = check_options(chk, el, "options", ptr, 100)
    else:
        options = []
        groups = chk.array(el, "option_groups", ptr, 100, min_items=1) or []
        for i, group in enumerate(groups):
            where = f"{ptr}/option_groups/{i}"
            if (obj := chk.obj(group, where)) is not None:
                chk.text(obj, "label", where, 75, required=True, plain_only=True)
                options += check_options(chk, obj, "options", where, 100)
    _check_initial_options(chk, el, ptr, options)


def _choice_list(max_items: int) -> Callable[[Checker, Json, str], None]:
    """checkboxes, radio_buttons (mrkdwn allowed) and overflow (plain only)."""

    def check(chk: Checker, el: Json, ptr: str) -> None:
        mrkdwn = el.get("type") != "overflow"
        options = check_options(chk, el, "options", ptr, max_items, mrkdwn=mrkdwn)
        _check_initial_options(chk, el, ptr, options)

    return check


def _datepicker(chk: Checker, el: Json, ptr: str) -> None:
    chk.text(el, "placeholder", ptr, 150, plain_only=True)
    date = chk.string(el, "initial_date", ptr, 10)
    if date is not None and not _is_date(date):
        chk.fail(f"{ptr}/initial_date", "must be a date in the format YYYY-MM-DD")


def _timepicker(chk: Checker, el: Json, ptr: str) -> None:
    chk.text(el, "placeholder", ptr, 150, plain_only=True)
    time = chk.string(el, "initial_time", ptr, 5)
    if time is not None and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", time):
        chk.fail(f"{ptr}/initial_time", "must be a time in the format HH:mm")


#: Slack: a UNIX timestamp "in the format of 10 digits" (slack_sdk checks 0..9999999999).
MAX_DATE_TIME = 9_999_999_999


def _datetimepicker(chk: Checker, el: Json, ptr: str) -> None:
    value = el.get("initial_date_time")
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                              or not 0 <= value <= MAX_DATE_TIME):
        chk.fail(f"{ptr}/initial_date_time",
                 "must be a UNIX timestamp in seconds of at most 10 digits")


def _plain_text_input(chk: Checker, el: Json, ptr: str) -> None:
    chk.text(el, "placeholder", ptr, 150, plain_only=True)
    chk.string(el, "initial_value", ptr, 3000)
    chk.boolean(el, "multiline", ptr)
    low = _int_in(chk, el, "min_length", ptr, 0, 3000)
    high = _int_in(chk, el, "max_length", ptr, 1, 3000)
    if low is not None and high is not None and low > high:
        chk.fail(f"{ptr}/min_length", "must not be greater than max_length")


def _number_input(chk: Checker, el: Json, ptr: str) -> None:
    chk.text(el, "placeholder", ptr, 150, plain_only=True)
    if not isinstance(el.get("is_decimal_allowed"), bool):
        chk.fail(ptr, "missing required field: is_decimal_allowed")
    decimal = el.get("is_decimal_allowed") is True
    numbers = {k: _number(chk, el, k, ptr, decimal) for k in ("initial_value", "min_value",
                                                             "max_value")}
    low, high, initial = numbers["min_value"], numbers["max_value"], numbers["initial_value"]
    if low is not None and high is not None and low > high:
        chk.fail(f"{ptr}/min_value", "must not be greater than max_value")
    if initial is not None and ((low is not None and initial < low)
                                or (high is not None and initial > high)):
        chk.fail(f"{ptr}/initial_value", "must be between min_value and max_value")


def _simple_input(chk: Checker, el: Json, ptr: str) -> None:
    chk.text(el, "placeholder", ptr, 150, plain_only=True)
    chk.string(el, "initial_value", ptr, 3000)


def _image(chk: Checker, el: Json, ptr: str) -> None:
    chk.string(el, "alt_text", ptr, 2000, required=True)
    if "slack_file" not in el:
        chk.string(el, "image_url", ptr, 3000, required=True)


def _workflow_button(chk: Checker, el: Json, ptr: str) -> None:
    chk.text(el, "text", ptr, 75, required=True, plain_only=True)
    chk.missing(el, "workflow", ptr, required=True)


def _file_input(chk: Checker, el: Json, ptr: str) -> None:
    _int_in(chk, el, "max_files", ptr, 1, 10)


def _int_in(chk: Checker, el: Json, key: str, ptr: str, low: int, high: int) -> int | None:
    value = el.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        chk.fail(f"{ptr}/{key}", f"must be an integer between {low} and {high}")
        return None
    return value


def _number(chk: Checker, el: Json, key: str, ptr: str, decimal: bool) -> float | None:
    raw = el.get(key)
    if raw is None:
        return None
    pattern = r"-?\d+(\.\d+)?" if decimal else r"-?\d+"
    if not isinstance(raw, str) or not re.fullmatch(pattern, raw):
        kind = "a decimal" if decimal else "an integer"
        chk.fail(f"{ptr}/{key}", f"must be {kind} number given as a string")
        return None
    return float(raw)


def _is_date(value: str) -> bool:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value))


_ELEMENTS: dict[str, Callable[[Checker, Json, str], None]] = {
    "button": _button,
    "checkboxes": _choice_list(10),
    "radio_buttons": _choice_list(10),
    "overflow": _choice_list(5),
    "datepicker": _datepicker,
    "timepicker": _timepicker,
    "datetimepicker": _datetimepicker,
    "plain_text_input": _plain_text_input,
    "number_input": _number_input,
    "email_text_input": _simple_input,
    "url_text_input": _simple_input,
    "image": _image,
    "workflow_button": _workflow_button,
    "file_input": _file_input,
    **{kind: _select for kind in SELECTS + MULTI_SELECTS},
}
