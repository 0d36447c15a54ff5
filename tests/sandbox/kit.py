"""Small Block Kit builders for the sandbox tests."""

from __future__ import annotations

from typing import Any


def section(text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def button(action_id: str, text: str = "Go", **extra: Any) -> dict[str, Any]:
    return {"type": "button", "action_id": action_id,
            "text": {"type": "plain_text", "text": text}, **extra}


def actions(*elements: dict[str, Any], block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "actions", "elements": list(elements)}
    if block_id:
        block["block_id"] = block_id
    return block


def modal(*blocks: dict[str, Any], **extra: Any) -> dict[str, Any]:
    view: dict[str, Any] = {"type": "modal", "title": {"type": "plain_text", "text": "Review"},
                            "blocks": list(blocks) or [section()]}
    if any(b.get("type") == "input" for b in blocks):
        view["submit"] = {"type": "plain_text", "text": "Submit"}
    view.update(extra)
    return view


def text_input(block_id: str, action_id: str, label: str = "Reason",
               **element: Any) -> dict[str, Any]:
    return {"type": "input", "block_id": block_id,
            "label": {"type": "plain_text", "text": label},
            "element": {"type": "plain_text_input", "action_id": action_id, **element}}
