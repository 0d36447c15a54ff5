"""Block Kit validation for messages and views, pure and reusable.

``validate_message_blocks`` and ``validate_view`` return a list of :class:`BlockKitError`; an empty
list means Slack would accept the payload as far as these checks go. ``str(error)`` reads like
Slack's ``response_metadata.messages`` entries, e.g.
``[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.blockkit_elements import (
    MULTI_SELECTS,
    SELECTS,
    BlockKitError,
    Checker,
    Json,
    check_element,
)

__all__ = [
    "MAX_MESSAGE_BLOCKS",
    "MAX_VIEW_BLOCKS",
    "BlockKitError",
    "validate_message_blocks",
    "validate_view",
]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100

_INTERACTIVE = ("button", "checkboxes", "datepicker", "datetimepicker", "overflow",
                "radio_buttons", "timepicker", "workflow_button", *SELECTS, *MULTI_SELECTS)
_SECTION_ACCESSORIES = (*_INTERACTIVE, "image")
_INPUT_ELEMENTS = ("checkboxes", "datepicker", "datetimepicker", "email_text_input", "file_input",
                   "number_input", "plain_text_input", "radio_buttons", "rich_text_input",
                   "timepicker", "url_text_input", *SELECTS, *MULTI_SELECTS)


@dataclass
class _Surface:
    """What a block walk needs to remember across blocks."""

    block_ids: set[str] = field(default_factory=set)
    has_input: bool = False


def validate_message_blocks(blocks: object, pointer: str = "/blocks") -> list[BlockKitError]:
    """Check a message's ``blocks`` (at most 50)."""
    chk = Checker()
    _check_blocks(chk, blocks, pointer, MAX_MESSAGE_BLOCKS, _Surface())
    return chk.errors


def validate_view(view: object, pointer: str = "/view") -> list[BlockKitError]:
    """Check a modal or Home tab view, including its blocks (at most 100)."""
    chk = Checker()
    obj = chk.obj(view, pointer)
    if obj is None:
        return chk.errors
    kind = obj.get("type")
    if kind not in ("modal", "home"):
        chk.fail(f"{pointer}/type", "must be one of: modal, home")
        return chk.errors
    surface = _Surface()
    if chk.array(obj, "blocks", pointer, MAX_VIEW_BLOCKS, required=True) is not None:
        _check_blocks(chk, obj["blocks"], f"{pointer}/blocks", MAX_VIEW_BLOCKS, surface)
    chk.string(obj, "private_metadata", pointer, 3000)
    chk.string(obj, "callback_id", pointer, 255)
    chk.string(obj, "external_id", pointer, 255)
    if kind == "modal":
        _check_modal(chk, obj, pointer, surface)
    return chk.errors


def _check_modal(chk: Checker, view: Json, ptr: str, surface: _Surface) -> None:
    chk.text(view, "title", ptr, 24, required=True, plain_only=True)
    chk.text(view, "submit", ptr, 24, plain_only=True)
    chk.text(view, "close", ptr, 24, plain_only=True)
    chk.boolean(view, "clear_on_close", ptr)
    chk.boolean(view, "notify_on_close", ptr)
    if surface.has_input and view.get("submit") is None:
        chk.fail(ptr, "missing required field: submit (a modal with an input block needs it)")


def _check_blocks(chk: Checker, blocks: object, ptr: str, max_blocks: int,
                  surface: _Surface) -> None:
    if not isinstance(blocks, list):
        chk.fail(ptr, "must provide an array")
        return
    if len(blocks) > max_blocks:
        chk.fail(ptr, f"no more than {max_blocks} items allowed")
    for i, block in enumerate(blocks):
        _check_block(chk, block, f"{ptr}/{i}", surface)


def _check_block(chk: Checker, value: object, ptr: str, surface: _Surface) -> None:
    block = chk.obj(value, ptr)
    if block is None:
        return
    kind = block.get("type")
    checker = _BLOCKS.get(kind) if isinstance(kind, str) else None
    if checker is None:
        chk.fail(f"{ptr}/type" if kind is not None else ptr,
                 f"unsupported block type: {kind}" if kind is not None
                 else "missing required field: type")
        return
    block_id = chk.string(block, "block_id", ptr, 255)
    if block_id is not None:
        if block_id in surface.block_ids:
            chk.fail(f"{ptr}/block_id", f"duplicate block_id: {block_id}")
        surface.block_ids.add(block_id)
    if kind == "input":
        surface.has_input = True
    checker(chk, block, ptr)
    _check_unique_action_ids(chk, block, ptr)


def _check_unique_action_ids(chk: Checker, block: Json, ptr: str) -> None:
    # Slack scopes action_id uniqueness to the containing block: the same action_id in two
    # different blocks (one "approve" button per row) is valid, twice in one block is not.
    seen: set[str] = set()
    for where, element in _elements_of(block, ptr):
        action_id = element.get("action_id")
        if not isinstance(action_id, str):
            continue
        if action_id in seen:
            chk.fail(f"{where}/action_id", f"duplicate action_id: {action_id}")
        seen.add(action_id)


def _elements_of(block: Json, ptr: str) -> list[tuple[str, Json]]:
    found: list[tuple[str, Json]] = []
    if isinstance(block.get("accessory"), dict):
        found.append((f"{ptr}/accessory", block["accessory"]))
    if isinstance(block.get("element"), dict):
        found.append((f"{ptr}/element", block["element"]))
    if block.get("type") == "actions" and isinstance(block.get("elements"), list):
        found += [(f"{ptr}/elements/{i}", e) for i, e in enumerate(block["elements"])
                  if isinstance(e, dict)]
    return found


# -- blocks ----------------------------------------------------------------------------------

def _section(chk: Checker, block: Json, ptr: str) -> None:
    if block.get("text") is None and block.get("fields") is None:
        chk.fail(ptr, "must provide either text or fields")
    chk.text(block, "text", ptr, 3000)
    fields = chk.array(block, "fields", ptr, 10, min_items=1) or []
    for i, item in enumerate(fields):
        chk.text_object(item, f"{ptr}/fields/{i}", 2000)
    if block.get("accessory") is not None:
        check_element(chk, block["accessory"], f"{ptr}/accessory", _SECTION_ACCESSORIES)
    chk.boolean(block, "expand", ptr)


def _actions(chk: Checker, block: Json, ptr: str) -> None:
    elements = chk.array(block, "elements", ptr, 25, required=True, min_items=1) or []
    for i, element in enumerate(elements):
        check_element(chk, element, f"{ptr}/elements/{i}", _INTERACTIVE)


def _context(chk: Checker, block: Json, ptr: str) -> None:
    elements = chk.array(block, "elements", ptr, 10, required=True, min_items=1) or []
    for i, element in enumerate(elements):
        where = f"{ptr}/elements/{i}"
        if isinstance(element, dict) and element.get("type") == "image":
            check_element(chk, element, where, ("image",))
        else:
            chk.text_object(element, where, 3000)


def _header(chk: Checker, block: Json, ptr: str) -> None:
    chk.text(block, "text", ptr, 150, required=True, plain_only=True)


def _image(chk: Checker, block: Json, ptr: str) -> None:
    chk.string(block, "alt_text", ptr, 2000, required=True)
    if "slack_file" not in block:
        chk.string(block, "image_url", ptr, 3000, required=True)
    chk.text(block, "title", ptr, 2000, plain_only=True)


def _input(chk: Checker, block: Json, ptr: str) -> None:
    chk.text(block, "label", ptr, 2000, required=True, plain_only=True)
    chk.text(block, "hint", ptr, 2000, plain_only=True)
    chk.boolean(block, "optional", ptr)
    chk.boolean(block, "dispatch_action", ptr)
    if not chk.missing(block, "element", ptr, required=True):
        check_element(chk, block["element"], f"{ptr}/element", _INPUT_ELEMENTS)


def _rich_text(chk: Checker, block: Json, ptr: str) -> None:
    chk.array(block, "elements", ptr, 100_000, required=True)


def _video(chk: Checker, block: Json, ptr: str) -> None:
    chk.string(block, "alt_text", ptr, 2000, required=True)
    chk.text(block, "title", ptr, 200, required=True, plain_only=True)
    chk.string(block, "video_url", ptr, 3000, required=True)
    chk.string(block, "thumbnail_url", ptr, 3000, required=True)


def _file(chk: Checker, block: Json, ptr: str) -> None:
    chk.string(block, "external_id", ptr, 255, required=True)
    chk.string(block, "source", ptr, 255, required=True)


def _markdown(chk: Checker, block: Json, ptr: str) -> None:
    chk.string(block, "text", ptr, 12000, required=True, min_len=1)


def _divider(chk: Checker, block: Json, ptr: str) -> None:
    """A divider carries nothing but its type and block_id."""


_BLOCKS: dict[Any, Callable[[Checker, Json, str], None]] = {
    "section": _section,
    "actions": _actions,
    "context": _context,
    "divider": _divider,
    "header": _header,
    "image": _image,
    "input": _input,
    "rich_text": _rich_text,
    "video": _video,
    "file": _file,
    "markdown": _markdown,
}
