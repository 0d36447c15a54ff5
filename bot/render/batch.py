"""The batch card: similar pending requests on one card, their spread, a few to spot-check.

"Approve all N" carries the batch id and the hash of the list the card shows, so it
approves exactly those N. Members decided on their own, or expired, leave the list (the card
says how many); once none is pending the card shows how the batch ended, without buttons.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from bot.render.blocks import (
    Block,
    Message,
    View,
    actions,
    button,
    confirm,
    context,
    header,
    input_block,
    message,
    modal,
    option,
    section,
    text_input,
)
from bot.render.ids import REASON_ACTION, REASON_BLOCK, button_value, parse_button_value
from bot.render.parts import tier_label
from bot.render.text import code_inline, esc, mention, slack_date
from bot.render.values import MASK, inline, is_secret_key, schema_secrets
from store.models import Ticket, TicketStatus

ACTION_BATCH_APPROVE = "signoff_batch_approve"
ACTION_BATCH_REJECT = "signoff_batch_reject"
ACTION_BATCH_SHOW_ALL = "signoff_batch_show_all"
ACTION_BATCH_ITEM = "signoff_batch_item"
"""The overflow menu on a listed member: reject or edit that one request on its own."""
CALLBACK_BATCH_REJECT = "signoff_batch_reject_modal"
CALLBACK_BATCH_SHOW_ALL = "signoff_batch_show_all_modal"
BLOCK_BATCH_ACTIONS = "signoff_batch_actions"
SAMPLES = 3
SPREAD_KEYS = 8
MODAL_ITEMS = 90


class BatchRef(NamedTuple):
    """What the batch buttons and modals carry: the batch and the hash of its list."""

    batch_id: str
    digest: str


def batch_value(batch_id: str, digest: str) -> str:
    return f"{batch_id}:{digest}"


def parse_batch_value(value: str) -> BatchRef:
    batch_id, _, digest = value.partition(":")
    return BatchRef(batch_id, digest)


def item_value(kind: str, ticket: Ticket) -> str:
    return f"{kind}|{button_value(ticket.id, ticket.version)}"


def parse_item_value(value: str) -> tuple[str, str, int | None]:
    """``(kind, ticket id, version)`` of an overflow choice on a listed member."""
    kind, _, rest = value.partition("|")
    parsed = parse_button_value(rest)
    return kind, parsed.ticket_id, parsed.version


# -- the card ----------------------------------------------------------------------------------

def render_batch_card(batch_id: str, members: Sequence[Ticket], pending: Sequence[Ticket],
                      digest: str) -> Message:
    """The card for a batch as it stands: interactive while any member is listed (pending,
    on this card, still similar); ``digest`` is the hash of that list."""
    if not pending:
        return _decided_card(members)
    first = pending[0]
    n = len(pending)
    lead = f"{n} similar request{'s' if n != 1 else ''}: {first.action}"
    blocks: list[Block] = [
        header("signoff_batch_header", f"{tier_label(first)} · {lead}"),
        section("signoff_batch_intro", _summary(pending)),
        section("signoff_batch_spread", "*How they differ*\n" + "\n".join(spread(pending))),
        *[_item_block(t, i) for i, t in enumerate(samples(pending))],
        context("signoff_batch_facts", _facts(members, pending, digest)),
        actions(BLOCK_BATCH_ACTIONS, [
            button(f"Approve all {n}", ACTION_BATCH_APPROVE, batch_value(batch_id, digest),
                   style="primary", confirm_dialog=confirm(
                       f"Approve all {n}?",
                       f"Exactly the {n} requests listed on this card will run, each once. "
                       "Requests that arrived since are not included.", f"Approve {n}")),
            button("Reject all…", ACTION_BATCH_REJECT, batch_value(batch_id, digest),
                   style="danger"),
            button(f"Show all {n}", ACTION_BATCH_SHOW_ALL, batch_value(batch_id, digest)),
        ]),
    ]
    return message(f"{lead} ({tier_label(first)}) — review them together", blocks)


def _summary(pending: Sequence[Ticket]) -> str:
    first = pending[0]
    who = {t.requested_by for t in pending}
    by = mention(first.requested_by) if len(who) == 1 else f"{len(who)} people"
    agent = f" by agent *{esc(first.agent, 100)}*" if first.agent else ""
    summaries = {t.summary for t in pending}
    what = (f"_{esc(first.summary, 500)}_" if len(summaries) == 1 and first.summary
            else f"{code_inline(first.action, 200)} with the arguments below")
    lines = [f"*{len(pending)}* requests{agent} for {by}: {what}"]
    reasons = Counter(t.reason for t in pending if t.reason)
    if reasons:
        reason, count = reasons.most_common(1)[0]
        also = "" if count == len(pending) else f" ({count} of {len(pending)})"
        lines.append(f"*Why:* {esc(reason, 500)}{also}")
    return "\n".join(lines)


def _facts(members: Sequence[Ticket], pending: Sequence[Ticket], digest: str) -> list[str]:
    first_deadline = min(t.expires_at for t in pending)
    facts = [f"Approve all covers exactly these {len(pending)} (list {digest[:10]}); "
             "requests arriving after this card was shown are not included",
             f"First deadline {slack_date(first_deadline)}; each request escalates and "
             "expires on its own"]
    gone = _ended(members, pending)
    if gone:
        facts.append("Left the list: " + gone)
    return facts


def _ended(members: Sequence[Ticket], pending: Sequence[Ticket] = ()) -> str:
    """How the members no longer listed ended (or that they moved to a card of their own)."""
    ids = {t.id for t in pending}
    counts = Counter("on its own card" if t.status == TicketStatus.PENDING else t.status.value
                     for t in members if t.id not in ids)
    return ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in sorted(counts.items()))


def _decided_card(members: Sequence[Ticket]) -> Message:
    n = len(members)
    first = members[0] if members else None
    action = first.action if first else "requests"
    text = (f"Batch of {n} {action} requests: none is waiting here any more "
            f"({_ended(members)})")
    blocks: list[Block] = [section("signoff_batch_done", f"*{esc(text, 2000)}*")]
    deciders = Counter(t.decided_by for t in members if t.decided_by)
    if deciders:
        blocks.append(context("signoff_batch_deciders", [
            ", ".join(f"{mention(who)} ({count})" for who, count in deciders.most_common(5))]))
    return message(text, blocks)


# -- spread and samples -------------------------------------------------------------------------

def spread(pending: Sequence[Ticket]) -> list[str]:
    """One line per argument: the same everywhere, numbers' min / median / max, e-mail
    domains, or distinct values. Secret arguments are never shown."""
    keys: list[str] = []
    for t in pending:
        keys += [k for k in t.final_args if k not in keys]
    secret = schema_secrets(pending[0].args_schema)
    lines = [_spread_line(k, [t.final_args.get(k) for t in pending], secret)
             for k in keys[:SPREAD_KEYS]]
    if len(keys) > SPREAD_KEYS:
        lines.append(f"_…and {len(keys) - SPREAD_KEYS} more arguments (Show all)_")
    return lines or ["_no arguments_"]


def _spread_line(key: str, values: list[Any], secret: frozenset[str]) -> str:
    name = f"*{esc(key, 60)}*"
    if is_secret_key(key, secret):
        return f"{name} {MASK}"
    texts = [_canon(v) for v in values]
    if len(set(texts)) == 1:
        return f"{name} {inline(values[0], 150)[0]} (all {len(values)})"
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numbers) == len(values):
        med = statistics.median(numbers)
        return (f"{name} min {_num(min(numbers))} · median {_num(med)} · max "
                f"{_num(max(numbers))} · total {_num(sum(numbers))}")
    emails = [v for v in values if isinstance(v, str) and "@" in v]
    if len(emails) == len(values):
        domains = Counter(v.rsplit("@", 1)[1].lower() for v in emails)
        return f"{name} {len(set(emails))} addresses at " + _top(domains)
    return f"{name} {len(set(texts))} distinct: " + _top(Counter(texts))


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _num(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"


def _top(counts: Counter[str], shown: int = 4) -> str:
    parts = [f"{code_inline(v.strip(chr(34)), 60)} ({n})" for v, n in counts.most_common(shown)]
    more = len(counts) - shown
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def samples(pending: Sequence[Ticket], count: int = SAMPLES) -> list[Ticket]:
    """A few to spot-check: the first, the largest by the first numeric argument, the last."""
    picked = [pending[0]]
    numeric = _first_number_key(pending)
    if numeric is not None:
        picked.append(max(pending, key=lambda t: t.final_args.get(numeric) or 0))
    picked.append(pending[-1])
    out: list[Ticket] = []
    for t in picked:
        if t not in out:
            out.append(t)
    return out[:count]


def _first_number_key(pending: Sequence[Ticket]) -> str | None:
    for key, value in pending[0].final_args.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            return key
    return None


def item_line(t: Ticket) -> str:
    secret = schema_secrets(t.args_schema)
    pairs = [f"*{esc(k, 40)}* {MASK if is_secret_key(k, secret) else inline(v, 80)[0]}"
             for k, v in list(t.final_args.items())[:5]]
    edited = " _(edited)_" if t.edited else ""
    return f"{code_inline(t.id, 40)} {', '.join(pairs) or '_no arguments_'}{edited}"


def _item_block(t: Ticket, index: int) -> Block:
    return section(f"signoff_batch_item_{index}", item_line(t), accessory=_item_menu(t))


def _item_menu(t: Ticket) -> Block:
    return {"type": "overflow", "action_id": ACTION_BATCH_ITEM, "options": [
        option("Reject this one…", item_value("reject", t)),
        option("Edit this one…", item_value("edit", t))]}


# -- modals ------------------------------------------------------------------------------------

def batch_metadata(ref: BatchRef, count: int, origin: tuple[str, str] | None) -> str:
    data: dict[str, Any] = {"b": ref.batch_id, "h": ref.digest, "n": count}
    if origin is not None:
        data["c"], data["ts"] = origin
    return json.dumps(data, separators=(",", ":"))


class BatchOrigin(NamedTuple):
    ref: BatchRef
    size: int
    channel: str | None
    ts: str | None


def parse_batch_metadata(text: str) -> BatchOrigin:
    data = json.loads(text or "null")
    if not isinstance(data, Mapping) or not isinstance(data.get("b"), str):
        raise ValueError("private_metadata does not name a batch")
    channel, ts = data.get("c"), data.get("ts")
    return BatchOrigin(BatchRef(data["b"], str(data.get("h", ""))), int(data.get("n", 0)),
                       channel if isinstance(channel, str) else None,
                       ts if isinstance(ts, str) else None)


def render_batch_reject_modal(ref: BatchRef, pending: Sequence[Ticket],
                              origin: tuple[str, str] | None) -> View:
    n = len(pending)
    blocks = [
        section("signoff_batch_reject_intro",
                f"Reject all *{n}* listed {esc(pending[0].action if pending else '', 200)} "
                "requests. Each agent gets your reason back; nothing runs."),
        input_block(REASON_BLOCK, "Why are you rejecting them?", text_input(
            REASON_ACTION, multiline=True, min_length=1,
            placeholder="e.g. These refunds were already paid out.")),
    ]
    return modal(CALLBACK_BATCH_REJECT, f"Reject all {n}", blocks, submit="Reject all",
                 metadata=batch_metadata(ref, n, origin))


def render_batch_show_all_modal(ref: BatchRef, pending: Sequence[Ticket],
                                origin: tuple[str, str] | None) -> View:
    """Every listed member, each with its own menu to reject or edit it first."""
    blocks: list[Block] = [context("signoff_batch_all_about", [
        f"{len(pending)} requests on the card. Reject or edit any of them on its own first; "
        "the card then lists the rest, and Approve all covers those."])]
    blocks += [section(f"signoff_batch_all_{i}", item_line(t), accessory=_item_menu(t))
               for i, t in enumerate(pending[:MODAL_ITEMS])]
    if len(pending) > MODAL_ITEMS:
        blocks.append(context("signoff_batch_all_more", [
            f"…and {len(pending) - MODAL_ITEMS} more"]))
    return modal(CALLBACK_BATCH_SHOW_ALL, f"All {len(pending)} requests", blocks,
                 close="Close", metadata=batch_metadata(ref, len(pending), origin))


def render_batch_decided_note(user: str, approved: bool, count: int, digest: str,
                              reason: str | None) -> Message:
    """The thread reply after "Approve all" or "Reject all"."""
    verb = "approved" if approved else "rejected"
    text = (f"{':white_check_mark:' if approved else ':no_entry:'} {mention(user)} {verb} all "
            f"{count} listed requests at once (list {digest[:10]}); each has its own "
            "decision on record")
    if reason:
        text += f"\n*Reason:* {esc(reason, 1500)}"
    return message(text, [section("signoff_batch_decided", text)])
