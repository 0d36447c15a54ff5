"""Block Kit builders that enforce the limits as they build.

Callers pass mrkdwn that is already escaped; these functions only shorten, so a surface built
from them fits Block Kit whatever the input.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal, TypedDict

from bot.render.text import clip, clip_mrkdwn, plain

Block = dict[str, Any]
View = dict[str, Any]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
SECTION_TEXT = 3000
FIELD_TEXT = 2000
MAX_FIELDS = 10
HEADER_TEXT = 150
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
ID_LIMIT = 255
CONTEXT_ELEMENTS = 10
FALLBACK_TEXT = 4000
MODAL_TITLE = 24
PRIVATE_METADATA = 3000
INPUT_MAX = 3000
LABEL_TEXT = 2000
HINT_TEXT = 2000
PLACEHOLDER_TEXT = 150
OPTION_TEXT = 75
OPTION_VALUE = 150
MAX_OPTIONS = 100


class Message(TypedDict):
    """A chat message: fallback ``text`` (notifications, screen readers) and ``blocks``."""

    text: str
    blocks: list[Block]


def message(text: str, blocks: list[Block]) -> Message:
    return {"text": clip_mrkdwn(text, FALLBACK_TEXT), "blocks": blocks[:MAX_MESSAGE_BLOCKS]}


def md(text: str, limit: int = SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip_mrkdwn(text, limit) if text.strip() else "-"}


def pt(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": plain(text, limit), "emoji": True}


def block_id(prefix: str, key: str) -> str:
    """``prefix + key`` when short enough, else a readable head plus a hash of the key."""
    candidate = prefix + key
    if len(candidate) <= ID_LIMIT:
        return candidate
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{prefix}{key[: ID_LIMIT - len(prefix) - 18]}#{digest}"


def section(
    bid: str, text: str | None = None, *, fields: list[str] | None = None,
    accessory: Block | None = None,
) -> Block:
    block: Block = {"type": "section", "block_id": bid}
    if text is not None or not fields:
        block["text"] = md(text or "-")
    if fields:
        block["fields"] = [md(f, FIELD_TEXT) for f in fields[:MAX_FIELDS]]
    if accessory is not None:
        block["accessory"] = accessory
    return block


def header(bid: str, text: str) -> Block:
    return {"type": "header", "block_id": bid, "text": pt(text, HEADER_TEXT)}


def context(bid: str, elements: list[str]) -> Block:
    items = [md(e) for e in elements if e.strip()][:CONTEXT_ELEMENTS] or [md("-")]
    return {"type": "context", "block_id": bid, "elements": items}


def confirm(title: str, text: str, ok: str, deny: str = "Cancel") -> dict[str, Any]:
    return {
        "title": pt(title, 100),
        "text": pt(text, 300),
        "confirm": pt(ok, 30),
        "deny": pt(deny, 30),
    }


def button(
    text: str, action_id: str, value: str, *,
    style: Literal["primary", "danger"] | None = None, confirm_dialog: dict[str, Any] | None = None,
) -> Block:
    element: Block = {
        "type": "button",
        "text": pt(text, BUTTON_TEXT),
        "action_id": action_id[:ID_LIMIT],
        "value": value[:BUTTON_VALUE],
    }
    if style:
        element["style"] = style
    if confirm_dialog:
        element["confirm"] = confirm_dialog
    return element


def actions(bid: str, elements: list[Block]) -> Block:
    return {"type": "actions", "block_id": bid, "elements": elements[:25]}


def modal(
    callback_id: str, title: str, blocks: list[Block], *, metadata: str = "",
    submit: str | None = None, close: str = "Cancel",
) -> View:
    view: View = {
        "type": "modal",
        "callback_id": callback_id,
        "title": pt(title, MODAL_TITLE),
        "close": pt(close, MODAL_TITLE),
        "blocks": blocks[:MAX_VIEW_BLOCKS],
        "private_metadata": metadata[:PRIVATE_METADATA],
    }
    if submit is not None:
        view["submit"] = pt(submit, MODAL_TITLE)
    return view


def input_block(
    bid: str, label: str, element: Block, *, optional: bool = False, hint: str | None = None,
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": bid,
        "label": pt(label, LABEL_TEXT),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = pt(hint, HINT_TEXT)
    return block


def text_input(
    action_id: str, *, initial: str | None = None, multiline: bool = False,
    placeholder: str | None = None, min_length: int | None = None, max_length: int = INPUT_MAX,
) -> Block:
    element: Block = {
        "type": "plain_text_input",
        "action_id": action_id,
        "multiline": multiline,
        "max_length": min(max(max_length, 1), INPUT_MAX),
    }
    if initial:
        element["initial_value"] = initial
    if placeholder:
        element["placeholder"] = pt(placeholder, PLACEHOLDER_TEXT)
    if min_length:
        element["min_length"] = min(min_length, element["max_length"])
    return element


def option(text: str, value: str) -> dict[str, Any]:
    return {"text": pt(text, OPTION_TEXT), "value": clip(value, OPTION_VALUE)}
