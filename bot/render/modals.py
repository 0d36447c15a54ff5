"""Modals opened from a card: reject, request info, give guidance, show all."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from bot.render.blocks import (
    MAX_VIEW_BLOCKS,
    PRIVATE_METADATA,
    SECTION_TEXT,
    Block,
    View,
    context,
    input_block,
    modal,
    section,
    text_input,
)
from bot.render.ids import (
    CALLBACK_GUIDANCE,
    CALLBACK_NOTICE,
    CALLBACK_REJECT,
    CALLBACK_REQUEST_INFO,
    CALLBACK_SHOW_ALL,
    GUIDANCE_ACTION,
    GUIDANCE_BLOCK,
    QUESTION_ACTION,
    QUESTION_BLOCK,
    REASON_ACTION,
    REASON_BLOCK,
)
from bot.render.parts import CardContext, tier_label
from bot.render.text import code_inline, esc
from bot.render.thread import render_refusal
from bot.render.values import code_chunks, json_text
from store.models import Ticket


class ModalOrigin(NamedTuple):
    """What a modal's ``private_metadata`` carries: the ticket, the version of it the modal
    was opened on, and the card it came from."""

    ticket_id: str
    channel: str | None = None
    ts: str | None = None
    version: int | None = None


def encode_private_metadata(ticket: Ticket, origin: tuple[str, str] | None = None) -> str:
    """Compact JSON ``{"t": id, "v": version, "c": channel, "ts": ts}``; the card defaults to
    ``ticket.card``. The version binds a submission to what the reviewer saw."""
    if origin is None and ticket.card is not None:
        origin = (ticket.card.channel, ticket.card.ts)
    data: dict[str, str | int] = {"t": ticket.id, "v": ticket.version}
    if origin is not None:
        data["c"], data["ts"] = origin
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    if len(text) > PRIVATE_METADATA:  # never cut JSON in half: keep the ticket id alone
        text = json.dumps({"t": ticket.id[:2900], "v": ticket.version}, separators=(",", ":"))
    return text


def parse_private_metadata(text: str) -> ModalOrigin:
    """The inverse of ``encode_private_metadata``; raises ``ValueError`` on anything else."""
    data = json.loads(text or "null")
    if not isinstance(data, dict) or not isinstance(data.get("t"), str):
        raise ValueError("private_metadata does not name a ticket")
    channel, ts, version = data.get("c"), data.get("ts"), data.get("v")
    return ModalOrigin(
        data["t"],
        channel if isinstance(channel, str) else None,
        ts if isinstance(ts, str) else None,
        version if isinstance(version, int) and not isinstance(version, bool) else None,
    )


def _about(ticket: Ticket) -> Block:
    return context("signoff_modal_about", [
        f"{tier_label(ticket)} · *{esc(ticket.action, 200)}* · ticket {code_inline(ticket.id, 300)}"
    ])


def _text_modal(
    ticket: Ticket, origin: tuple[str, str] | None, *, callback_id: str, title: str,
    submit: str, intro: str, block_id: str, action_id: str, label: str, placeholder: str,
) -> View:
    blocks = [
        _about(ticket),
        section("signoff_modal_intro", intro),
        input_block(block_id, label, text_input(
            action_id, multiline=True, placeholder=placeholder, min_length=1,
        )),
    ]
    return modal(callback_id, title, blocks, submit=submit,
                 metadata=encode_private_metadata(ticket, origin))


def render_reject_modal(ticket: Ticket, *, origin: tuple[str, str] | None = None) -> View:
    """Reject with a required reason; the agent receives it as feedback to re-plan from."""
    return _text_modal(
        ticket, origin, callback_id=CALLBACK_REJECT, title="Reject request", submit="Reject",
        intro="The agent gets your reason back and can plan again. Nothing will run.",
        block_id=REASON_BLOCK, action_id=REASON_ACTION, label="Why are you rejecting this?",
        placeholder="e.g. The refund exceeds the order total.",
    )


def render_request_info_modal(ticket: Ticket, *, origin: tuple[str, str] | None = None) -> View:
    """Ask the agent a question; the request stays open while it answers."""
    return _text_modal(
        ticket, origin, callback_id=CALLBACK_REQUEST_INFO, title="Request info",
        submit="Ask", intro="The request stays open while the agent answers in the thread.",
        block_id=QUESTION_BLOCK, action_id=QUESTION_ACTION, label="What do you need to know?",
        placeholder="e.g. Which order is this refund for?",
    )


def render_guidance_modal(ticket: Ticket, *, origin: tuple[str, str] | None = None) -> View:
    """Tell an unsure agent how to continue, instead of taking the task over."""
    return _text_modal(
        ticket, origin, callback_id=CALLBACK_GUIDANCE, title="Give guidance",
        submit="Send", intro="The agent continues with your guidance; you do not take over.",
        block_id=GUIDANCE_BLOCK, action_id=GUIDANCE_ACTION, label="Guidance for the agent",
        placeholder="e.g. Use the billing address on file.",
    )


def _input_text(state_values: Mapping[str, Any], block_id: str, action_id: str) -> str:
    value = state_values.get(block_id, {}).get(action_id, {}).get("value")
    return value.strip() if isinstance(value, str) else ""


def parse_reason_submission(state_values: Mapping[str, Any]) -> str:
    """The reject reason typed in ``render_reject_modal`` ("" when missing)."""
    return _input_text(state_values, REASON_BLOCK, REASON_ACTION)


def parse_question_submission(state_values: Mapping[str, Any]) -> str:
    return _input_text(state_values, QUESTION_BLOCK, QUESTION_ACTION)


def parse_guidance_submission(state_values: Mapping[str, Any]) -> str:
    return _input_text(state_values, GUIDANCE_BLOCK, GUIDANCE_ACTION)


def render_show_all_modal(
    ticket: Ticket, *, masked: frozenset[str] = frozenset(),
    origin: tuple[str, str] | None = None,
) -> View:
    """Everything the card shortened: summary, reason and the full arguments as JSON."""
    ctx = CardContext.build(ticket, masked=masked)
    budget = MAX_VIEW_BLOCKS - 1  # the first block says which ticket this is
    texts: list[tuple[str, list[str]]] = []
    what = "What the agent proposed (before the edit)" if ticket.edited else "What happens"
    for title, raw in ((what, ticket.summary), ("Why", ticket.reason)):
        if raw and raw.strip():
            texts.append((title, _capped(_text_chunks(ctx.red.text(raw)), TEXT_CHUNKS)))
    budget -= sum(1 + len(chunks) for _, chunks in texts)
    if ticket.edited:
        payloads = [("Proposed arguments", ticket.args),
                    ("Arguments that will run (edited)", ticket.final_args)]
    else:
        payloads = [("Arguments", ticket.final_args)]
    share = budget // len(payloads) - 1
    parts = texts + [(title, _capped(_json_chunks(ctx, args), share)) for title, args in payloads]
    blocks = [_about(ticket)]
    for i, (title, chunks) in enumerate(parts):
        blocks.append(section(f"signoff_show_all_{i}", f"*{title}*"))
        blocks += [section(f"signoff_show_all_{i}_{j}", c) for j, c in enumerate(chunks)]
    return modal(CALLBACK_SHOW_ALL, "Full request", blocks, close="Close",
                 metadata=encode_private_metadata(ticket, origin))


TEXT_CHUNKS = 10
CUT_NOTE = ("_Too long to show in full here; the complete request is in the ticket record "
            "(`signoff tickets`)._")


def _capped(chunks: list[str], cap: int) -> list[str]:
    """At most ``cap`` chunks, the last replaced by a note when some are left out."""
    if len(chunks) <= cap:
        return chunks
    return [*chunks[: max(cap - 1, 0)], CUT_NOTE]


def _json_chunks(ctx: CardContext, args: Mapping[str, Any]) -> list[str]:
    return code_chunks(json_text(ctx.red.value(args)), SECTION_TEXT)


def _text_chunks(raw: str) -> list[str]:
    return [c[4:-4] for c in code_chunks(raw, SECTION_TEXT)]


def render_notice_modal(reason_text: str) -> View:
    """A modal that only explains (a form opened at once, then refused: e.g. this person may
    not decide the request). Same text rules as :func:`render_refusal`."""
    return modal(CALLBACK_NOTICE, "signoff", render_refusal(reason_text)["blocks"],
                 close="Close")


def modal_failed_text(error: str) -> str:
    """Told privately when Slack would not open a form, so the click is not silently lost."""
    return (f"Slack could not open the form ({error}), so nothing was recorded. "
            "Click the button again.")
