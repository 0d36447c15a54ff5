"""A seeded ledger with known answers: tickets opened and decided through the ledger, then
moved to fixed instants, so every figure of ``signoff stats`` can be worked out by hand.

The story (all within the last 30 days unless said otherwise):

- U0FAST approves 20 refunds (issue_refund, route payments, agent billing-bot), each 3 s after
  its card, which went out 2 s after the request: 5 s in the queue each.
- U0CAREFUL decides four emails (send_email, route default, agent mail-bot), cards 10 s after
  the request: approves after 60 s, edits after 120 s, rejects after 30 s, asks a question
  after 90 s (that one stays open).
- One email expires after an hour, after the chain DM'd on-call (escalated).
- One refund is still pending; two searches were allowed outright; policy denied one
  drop_database call.
- Two canaries on payments: U0FAST approves one (a miss), U0CAREFUL rejects the other (a
  catch). They count nowhere else.
- 40 days ago U0CAREFUL approved a refund: outside a 30-day window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update

from store.ledger import Ledger
from store.models import DecisionKind, NewTicket, Route, SlackRef, Ticket, TicketStatus
from store.tables import DecisionRow, MessageRow, TicketRow

PAYMENTS = Route(name="payments", channel="C0PAYMENTS", approvers=("U0FAST", "U0CAREFUL"))
DEFAULT = Route(name="default", channel="C0APPROVALS", approvers=("U0FAST", "U0CAREFUL"))


@dataclass
class Seeded:
    now: datetime
    tickets: dict[str, Ticket] = field(default_factory=dict)


def _open(ledger: Ledger, created: datetime, **fields: Any) -> Ticket:
    base: dict[str, Any] = {
        "action": "issue_refund", "args": {"amount": 120, "customer": "cus_42"},
        "requested_by": "U0REQUESTER", "reason": "customer was double charged",
        "route": PAYMENTS, "policy_version": "2026-11-20", "policy_rule": "rules[2]",
        "agent": "billing-bot", "tier": "high", "expires_at": created + timedelta(days=60),
        "confidence": 0.8,
    }
    base.update(fields)
    ticket, _ = ledger.create_ticket(NewTicket(**base), at=created)
    return ticket


def _card(ledger: Ledger, ticket: Ticket, at: datetime) -> None:
    ref = SlackRef(role="card", channel=ticket.route.channel, ts=f"{at.timestamp():.6f}")
    ledger.record_message(ticket.id, ref)
    with ledger.engine.begin() as conn:
        conn.execute(update(MessageRow).where(MessageRow.ticket_id == ticket.id)
                     .values(at=at))


def _decide(ledger: Ledger, ticket: Ticket, reviewer: str, kind: DecisionKind, at: datetime,
            **what: Any) -> Ticket:
    after, _ = ledger.record_decision(ticket.id, reviewer=reviewer, kind=kind, **what)
    with ledger.engine.begin() as conn:
        conn.execute(update(DecisionRow).where(DecisionRow.ticket_id == ticket.id)
                     .values(at=at))
        if after.decided_at is not None:
            conn.execute(update(TicketRow).where(TicketRow.id == ticket.id)
                         .values(decided_at=at))
    return ledger.get_ticket(ticket.id)


def _reviewed(ledger: Ledger, created: datetime, card_after: float, reviewer: str,
              kind: DecisionKind, click_after: float, **fields: Any) -> Ticket:
    what = {k: fields.pop(k) for k in ("reason", "args_edit") if k in fields}
    ticket = _open(ledger, created, **fields)
    card_at = created + timedelta(seconds=card_after)
    _card(ledger, ticket, card_at)
    extra: dict[str, Any] = {"reason": what.get("reason")}
    if "args_edit" in what:
        extra["args"] = what["args_edit"]
    return _decide(ledger, ticket, reviewer, kind, card_at + timedelta(seconds=click_after),
                   **extra)


def seed(ledger: Ledger) -> Seeded:
    now = ledger.db_now()
    out = Seeded(now)
    t0 = now - timedelta(days=10)
    for i in range(20):
        out.tickets[f"refund{i}"] = _reviewed(
            ledger, t0 + timedelta(minutes=i), 2, "U0FAST", DecisionKind.APPROVE, 3)
    email: dict[str, Any] = {"action": "send_email", "route": DEFAULT, "agent": "mail-bot",
                             "args": {"to": "ann@example.com", "body": "Hello Ann"},
                             "tier": "medium", "review_type": "edit"}
    t1 = t0 + timedelta(hours=1)
    out.tickets["email_ok"] = _reviewed(ledger, t1, 10, "U0CAREFUL", DecisionKind.APPROVE, 60,
                                        **email)
    out.tickets["email_edit"] = _reviewed(
        ledger, t1 + timedelta(minutes=1), 10, "U0CAREFUL", DecisionKind.EDIT, 120,
        args_edit={"to": "ann@example.com", "body": "Hello Ann, sorry"}, **email)
    out.tickets["email_reject"] = _reviewed(
        ledger, t1 + timedelta(minutes=2), 10, "U0CAREFUL", DecisionKind.REJECT, 30,
        reason="wrong recipient", **email)
    out.tickets["email_info"] = _reviewed(
        ledger, t1 + timedelta(minutes=3), 10, "U0CAREFUL", DecisionKind.REQUEST_INFO, 90,
        reason="which order is this about?", **email)
    _seed_rest(ledger, out, t0, email)
    return out


def _seed_rest(ledger: Ledger, out: Seeded, t0: datetime, email: dict[str, Any]) -> None:
    created = t0 + timedelta(hours=2)
    expired = _open(ledger, created, expires_at=created + timedelta(hours=1), **email)
    ledger.expire(expired.id)
    with ledger.engine.begin() as conn:
        conn.execute(update(TicketRow).where(TicketRow.id == expired.id).values(
            decided_at=created + timedelta(hours=1), escalation_level=1))
    out.tickets["email_expired"] = ledger.get_ticket(expired.id)
    out.tickets["refund_open"] = _open(ledger, t0 + timedelta(hours=3))
    for i in range(2):
        out.tickets[f"search{i}"] = _open(
            ledger, t0 + timedelta(hours=4, minutes=i), action="search_docs",
            args={"q": "refund policy"}, route=DEFAULT, tier="low",
            status=TicketStatus.APPROVED, expires_at=t0 + timedelta(hours=4, minutes=i))
    ledger.record_event(None, "denied", actor="mail-bot", action="drop_database",
                        args={}, rule="rules[4] drop_database", reason="never from an agent")
    for name, reviewer, kind in (("canary_miss", "U0FAST", DecisionKind.APPROVE),
                                 ("canary_catch", "U0CAREFUL", DecisionKind.REJECT)):
        ticket = _open(ledger, t0 + timedelta(hours=5), args={"amount": 9000,
                                                              "customer": "cus_unknown"})
        with ledger.engine.begin() as conn:
            conn.execute(update(TicketRow).where(TicketRow.id == ticket.id).values(
                canary="unknown-customer", canary_lesson="the customer does not exist"))
        _card(ledger, ticket, t0 + timedelta(hours=5, seconds=1))
        out.tickets[name] = _decide(ledger, ticket, reviewer, kind,
                                    t0 + timedelta(hours=5, seconds=4), reason="no such customer")
    out.tickets["old"] = _reviewed(ledger, out.now - timedelta(days=40), 5, "U0CAREFUL",
                                   DecisionKind.APPROVE, 5)
