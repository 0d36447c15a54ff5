"""Shared helpers for the rendering tests: a ticket factory and Block Kit limit checks.

The limit checks run twice: through the sandbox's validator (``bot.sandbox.blockkit``) when it
is importable, and through the small independent checker below, which also enforces what the
validator does not know about (fallback text length, no broadcast mentions, safe links).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from store.models import (
    Evidence,
    Outcome,
    ReviewType,
    RiskTier,
    Route,
    SlackRef,
    Ticket,
    TicketStatus,
    args_hash,
)

try:
    from bot.sandbox import blockkit as sandbox_blockkit
except ImportError:  # the sandbox is optional for these tests
    sandbox_blockkit = None  # type: ignore[assignment]

NOW = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
REQUESTER = "U0REQUESTER"
APPROVER = "U0APPROVER1"
APPROVER2 = "U0APPROVER2"

_ALLOWED_ANGLE = re.compile(
    r"<(@[UW][A-Z0-9]+|!date\^\d+\^[^|>]*\|[^>]*|!subteam\^S[A-Z0-9]+|(https?|mailto):[^>]*)>"
)


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class Args(BaseModel):
    name: str
    note: str | None = None
    body: str = Field(json_schema_extra={"multiline": True})
    count: int = Field(ge=1, le=10)
    ratio: float
    price: Decimal = Field(gt=0)
    active: bool
    colour: Colour
    mode: Literal["fast", "safe"]
    day: date
    at: datetime
    tags: list[int]
    meta: dict[str, Any]
    api_key: str


def make_ticket(**overrides: Any) -> Ticket:
    args = overrides.pop("args", {"customer_id": "cus_123", "amount": 120.5, "currency": "EUR"})
    final_args = overrides.pop("final_args", args)
    base: dict[str, Any] = {
        "id": "t01jabcdefghjkmnpqrstvwxyz0",
        "idempotency_key": None,
        "action": "issue_refund",
        "args": args,
        "args_hash": args_hash(args),
        "final_args": final_args,
        "final_args_hash": args_hash(final_args),
        "review_type": ReviewType.APPROVAL,
        "summary": None,
        "reason": "The customer was charged twice for order 1042.",
        "evidence": (
            Evidence(title="Stripe charge ch_1", url="https://dashboard.example/ch_1?a=1&b=2",
                     detail="two identical charges"),
        ),
        "confidence": 0.82,
        "requested_by": REQUESTER,
        "agent": "billing-bot",
        "run_id": "run-42",
        "tier": RiskTier.HIGH,
        "route": Route(channel="C0REVIEWS", approvers=(APPROVER, APPROVER2)),
        "policy_version": "2025-03-01",
        "policy_rule": "refunds.over_100",
        "status": TicketStatus.PENDING,
        "version": 1,
        "approvals": (),
        "decided_by": None,
        "decided_at": None,
        "created_at": NOW - timedelta(minutes=20),
        "expires_at": NOW + timedelta(hours=4),
        "next_action_at": None,
        "escalation_level": 0,
        "escalation_loop": 0,
        "escalation": None,
        "card": SlackRef(role="card", channel="C0REVIEWS", ts="1741080600.000100"),
        "messages": (),
        "outcome": None,
    }
    base.update(overrides)
    if "args_hash" not in overrides:
        base["args_hash"] = args_hash(base["args"])
    if "final_args_hash" not in overrides:
        base["final_args_hash"] = args_hash(base["final_args"])
    return Ticket(**base)


def outcome(ok: bool, text: str) -> Outcome:
    return Outcome(ok=ok, summary=text if ok else None, error=None if ok else text, at=NOW)


# -- reading rendered surfaces ------------------------------------------------------------------

def strings(value: Any) -> Iterator[str]:
    """Every string anywhere in a payload."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from strings(v)


def everything(payload: Any) -> str:
    return "\n".join(strings(payload))


def block(blocks: list[dict[str, Any]], block_id: str) -> dict[str, Any]:
    found = [b for b in blocks if b.get("block_id") == block_id]
    assert found, f"no block {block_id!r} in {[b.get('block_id') for b in blocks]}"
    return found[0]


def has_block(blocks: list[dict[str, Any]], block_id: str) -> bool:
    return any(b.get("block_id") == block_id for b in blocks)


def text_of(b: dict[str, Any]) -> str:
    """The visible text of one block (section text and fields, context elements, header)."""
    parts = []
    if isinstance(b.get("text"), dict):
        parts.append(b["text"]["text"])
    parts += [f["text"] for f in b.get("fields", [])]
    if b.get("type") == "context":
        parts += [e.get("text", "") for e in b["elements"]]
    return "\n".join(parts)


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for b in blocks:
        if b.get("type") == "actions":
            found += b["elements"]
        if isinstance(b.get("accessory"), dict) and b["accessory"].get("type") == "button":
            found.append(b["accessory"])
    return found


# -- limits -------------------------------------------------------------------------------------

def _u16(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _text(obj: Any, limit: int, where: str, plain_only: bool = False) -> None:
    assert isinstance(obj, dict), where
    assert obj["type"] in (("plain_text",) if plain_only else ("plain_text", "mrkdwn")), where
    text = obj["text"]
    assert isinstance(text, str) and text.strip(), f"{where}: empty text"
    assert _u16(text) <= limit, f"{where}: {_u16(text)} > {limit}"
    if obj["type"] == "mrkdwn":
        _safe_mrkdwn(text, where)


def _safe_mrkdwn(text: str, where: str) -> None:
    """Only signoff's own tokens use angle brackets; nothing can ping a channel."""
    rest = _ALLOWED_ANGLE.sub("", text)
    assert "<" not in rest and ">" not in rest.replace("\n>", "").lstrip(">"), (
        f"{where}: raw angle bracket in {text[:200]!r}"
    )
    for word in ("<!channel", "<!here", "<!everyone"):
        assert word not in text, where
    assert not re.search(r"&(?!amp;|lt;|gt;)", text), f"{where}: unescaped & in {text[:200]!r}"


def _element(el: dict[str, Any], where: str) -> None:
    assert len(el.get("action_id", "")) <= 255, where
    if el["type"] == "button":
        _text(el["text"], 75, where, plain_only=True)
        assert len(el.get("value", "")) <= 2000, where
        if "confirm" in el:
            c = el["confirm"]
            _text(c["title"], 100, where, True)
            _text(c["text"], 300, where)
            _text(c["confirm"], 30, where, True)
            _text(c["deny"], 30, where, True)
    if el["type"] == "plain_text_input":
        initial = el.get("initial_value", "")
        assert _u16(initial) <= el.get("max_length", 3000) <= 3000, where
    for opt in el.get("options", []):
        _text(opt["text"], 75, where)
        assert 0 < len(opt["value"]) <= 150, where
    assert len(el.get("options", [])) <= 100, where


def _blocks(blocks: list[dict[str, Any]], max_blocks: int) -> None:
    assert 0 < len(blocks) <= max_blocks, len(blocks)
    ids = [b["block_id"] for b in blocks if "block_id" in b]
    assert len(ids) == len(set(ids)), f"duplicate block ids: {ids}"
    for i, b in enumerate(blocks):
        where = f"block {i} ({b.get('block_id')})"
        assert len(b.get("block_id", "")) <= 255, where
        kind = b["type"]
        if kind == "section":
            assert "text" in b or "fields" in b, where
            if "text" in b:
                _text(b["text"], 3000, where)
            assert len(b.get("fields", [])) <= 10, where
            for f in b.get("fields", []):
                _text(f, 2000, where)
            if "accessory" in b:
                _element(b["accessory"], where)
        elif kind == "header":
            _text(b["text"], 150, where, plain_only=True)
        elif kind == "context":
            assert 0 < len(b["elements"]) <= 10, where
            for e in b["elements"]:
                _text(e, 3000, where)
        elif kind == "actions":
            assert 0 < len(b["elements"]) <= 25, where
            for e in b["elements"]:
                _element(e, where)
        elif kind == "input":
            _text(b["label"], 2000, where, plain_only=True)
            if "hint" in b:
                _text(b["hint"], 2000, where, plain_only=True)
            _element(b["element"], where)
        else:
            assert kind == "divider", where


def assert_fits_message(message: dict[str, Any]) -> None:
    assert set(message) == {"text", "blocks"}
    text = message["text"]
    assert isinstance(text, str) and text.strip() and _u16(text) <= 4000
    _safe_mrkdwn(text, "fallback text")
    _blocks(message["blocks"], 50)
    if sandbox_blockkit is not None:
        errors = sandbox_blockkit.validate_message_blocks(message["blocks"])
        assert not errors, [str(e) for e in errors]


def assert_fits_view(view: dict[str, Any]) -> None:
    assert view["type"] in ("modal", "home")
    _blocks(view["blocks"], 100)
    if view["type"] == "modal":
        for key in ("title", "submit", "close"):
            if key in view:
                _text(view[key], 24, key, plain_only=True)
        assert len(view.get("private_metadata", "")) <= 3000
        assert len(view.get("callback_id", "")) <= 255
        if any(b["type"] == "input" for b in view["blocks"]):
            assert "submit" in view
    if sandbox_blockkit is not None:
        errors = sandbox_blockkit.validate_view(view)
        assert not errors, [str(e) for e in errors]
