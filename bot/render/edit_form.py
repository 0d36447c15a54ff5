"""The edit modal, generated from the action's argument model (or from the current values)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from bot.render.blocks import (
    Block,
    View,
    context,
    input_block,
    modal,
    option,
    section,
    text_input,
)
from bot.render.edit_layout import (
    FieldSpec,
    initial_repr,
    layout_edit,
    number_range,
    option_index,
    rest_json,
)
from bot.render.edit_split import part_label
from bot.render.ids import CALLBACK_EDIT, EDIT_REST_BLOCK, EDIT_VALUE_ACTION
from bot.render.modals import encode_private_metadata
from bot.render.parts import tier_label
from bot.render.text import code_inline, esc, fit_lines
from bot.render.values import Redactor, json_text
from store.models import Ticket

SECRET_HINT = "Secret: leave empty to keep the current value."
JSON_HINT = "JSON."


def render_edit_modal(
    ticket: Ticket, arg_model: type[BaseModel] | None = None, *,
    masked: frozenset[str] = frozenset(), origin: tuple[str, str] | None = None,
) -> View:
    """One input per argument, filled with the arguments that would run now."""
    red = Redactor.for_ticket(ticket, masked)
    layout = layout_edit(ticket, arg_model, red)
    intro = (
        f"{tier_label(ticket)} · *{esc(ticket.action, 200)}* · ticket {code_inline(ticket.id, 300)}"
        "\nSubmitting approves the request with your changes. They are checked again "
        "(argument rules and policy) before anything runs."
    )
    blocks: list[Block] = [section("signoff_edit_intro", intro)]
    for spec in layout.fields:
        blocks += _part_blocks(spec) if spec.parts else [_field_block(spec, red)]
    if layout.rest_block:
        values = {k: ticket.final_args[k] for k in layout.rest_keys}
        label = "More arguments (JSON)" if layout.rest_keys else "Arguments (JSON)"
        element = text_input(EDIT_VALUE_ACTION, initial=rest_json(layout.rest_keys, values, red),
                             multiline=True)
        blocks.append(input_block(EDIT_REST_BLOCK, label, element, hint=JSON_HINT))
    if layout.kept:
        names, _ = fit_lines([code_inline(k, 100) for k in layout.kept], 2000, "+{n} more")
        note = "Kept as they are (secret or too long to edit here): " + names.replace("\n", ", ")
        blocks.append(context("signoff_edit_kept", [note]))
    return modal(CALLBACK_EDIT, "Edit and approve", blocks, submit="Approve edits",
                 metadata=encode_private_metadata(ticket, origin))


def _field_block(spec: FieldSpec, red: Redactor) -> Block:
    if spec.kind == "readonly":
        value = spec.current
        size = len(value if isinstance(value, str) else json_text(red.value(value)))
        why = f" ({spec.why})" if spec.why else ""
        return section(spec.block_id, f"*{esc(spec.key, 200)}*: {size:,} characters, too long to "
                                      f"edit here{why}; kept as it is.")
    hint = spec.hint or ""
    if spec.kind == "secret":
        hint = f"{hint} {SECRET_HINT}".strip()
    elif spec.kind == "json":
        hint = f"{hint} {JSON_HINT}".strip()
    return input_block(spec.block_id, spec.key or "(blank)", _element(spec, red),
                       optional=spec.optional, hint=hint or None)


def _part_blocks(spec: FieldSpec) -> list[Block]:
    """A long text in consecutive boxes; the submission is their contents joined as typed."""
    count = len(spec.parts)
    note = (f"Too long for one box, so shown in {count} parts. They are joined exactly as "
            "typed, with nothing added between them; text may move between parts.")
    hint = f"{spec.hint} {note}" if spec.hint else note
    return [
        input_block(bid, part_label(spec.key or "(blank)", n, count),
                    text_input(EDIT_VALUE_ACTION, initial=part, multiline=True),
                    optional=True, hint=hint if n == 1 else None)
        for n, (bid, part) in enumerate(zip(spec.part_ids, spec.parts, strict=True), 1)
    ]


def _element(spec: FieldSpec, red: Redactor) -> Block:
    start = initial_repr(spec, red)
    if spec.kind in ("int", "float", "decimal"):
        return _number(spec, start)
    if spec.kind == "bool":
        yes = option("Yes", "true")
        element: Block = {"type": "checkboxes", "action_id": EDIT_VALUE_ACTION, "options": [yes]}
        if start:
            element["initial_options"] = [yes]
        return element
    if spec.kind == "select":
        return _select(spec)
    if spec.kind == "date":
        element = {"type": "datepicker", "action_id": EDIT_VALUE_ACTION}
        if start:
            element["initial_date"] = start
        return element
    if spec.kind == "datetime":
        element = {"type": "datetimepicker", "action_id": EDIT_VALUE_ACTION}
        if start is not None:
            element["initial_date_time"] = start
        return element
    max_len = spec.max_len if spec.kind == "text" and spec.max_len else 3000
    return text_input(EDIT_VALUE_ACTION, initial=start, multiline=spec.multiline,
                      max_length=max(max_len, len(start or "")))


def _number(spec: FieldSpec, start: str | None) -> Block:
    element: Block = {
        "type": "number_input",
        "action_id": EDIT_VALUE_ACTION,
        "is_decimal_allowed": spec.kind != "int",
    }
    current = Decimal(start) if start else None
    if start:
        element["initial_value"] = start
    low, high = number_range(spec)
    if low is not None and (current is None or current >= low):
        element["min_value"] = format(low, "f")
    if high is not None and (current is None or current <= high):
        element["max_value"] = format(high, "f")
    if low is not None and high is not None and low > high:  # contradictory rules: show neither
        element.pop("min_value", None)
        element.pop("max_value", None)
    return element


def _select(spec: FieldSpec) -> Block:
    options = [option(_choice_label(c), f"o{i}") for i, c in enumerate(spec.choices)]
    element: Block = {
        "type": "static_select",
        "action_id": EDIT_VALUE_ACTION,
        "options": options,
        "placeholder": {"type": "plain_text", "text": "Choose…"},
    }
    index = option_index(spec)
    if index is not None:
        element["initial_option"] = options[index]
    return element


def _choice_label(choice: Any) -> str:
    return choice if isinstance(choice, str) else json_text(choice, indent=None)


def initial_state_values(view: Mapping[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """The ``view.state.values`` Slack sends when a modal is submitted without any change."""
    state: dict[str, dict[str, dict[str, Any]]] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            continue
        element = block["element"]
        state[block["block_id"]] = {element["action_id"]: _untouched(element)}
    return state


def _untouched(element: Mapping[str, Any]) -> dict[str, Any]:
    kind = element["type"]
    if kind == "checkboxes":
        return {"type": kind, "selected_options": list(element.get("initial_options", []))}
    if kind in ("static_select", "radio_buttons"):
        return {"type": kind, "selected_option": element.get("initial_option")}
    if kind == "datepicker":
        return {"type": kind, "selected_date": element.get("initial_date")}
    if kind == "datetimepicker":
        return {"type": kind, "selected_date_time": element.get("initial_date_time")}
    return {"type": kind, "value": element.get("initial_value")}
