"""Shared by the engine and sweep tests: a chain config, and tickets planned from it."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from functools import cache

from escalation.chains import plan
from escalation.config import SignoffConfig, parse_config
from store.ledger import Ledger
from store.models import NewTicket, Route, SlackRef, Ticket

CONFIG = """
version: 1
reviewers:
  leads: [U0LEAD]
routes:
  default: {channel: C0PAYMENTS, approvers: leads, chain: standard}
chains:
  standard:            # reminders 5m, U0ONE at 10m, the team at 30m, twice; expires at 70m
    levels:
      - notify: [U0ONE]
        after: 10m
      - notify: [S0TEAM]
        after: 20m
    loops: 2
    remind_every: 5m
    expire_after: 2h
  rr:
    levels:
      - notify: [U0A, U0B, U0C]
        after: 10m
        round_robin: true
    loops: 3
    expire_after: 2h
  fast:                # for the many-ticket sweeps: 1 reminder, 2 DMs, expiry at 40s
    levels:
      - notify: [U0ONE]
        after: 20s
      - notify: [U0TWO]
        after: 10s
    remind_every: 10s
    expire_after: 40s
"""

GROUPS = {"S0TEAM": ("U0TWO", "U0THREE")}
MIN = timedelta(minutes=1)


@cache
def config() -> SignoffConfig:
    return parse_config(CONFIG)


def open_ticket(ledger: Ledger, chain: str = "standard", *, created: datetime,
                card: bool = True, requested_by: str = "U0REQUESTER") -> Ticket:
    """A ticket created at ``created`` (backdated), planned from ``chain``, card posted."""
    cfg = config()
    p = plan(cfg.chain(chain), created_at=created, schedules=cfg.schedules, name=chain)
    new = NewTicket(action="issue_refund", args={"amount": 120}, requested_by=requested_by,
                    route=Route(name="default", channel="C0PAYMENTS", approvers=("U0LEAD",),
                                chain=chain),
                    policy_version="test", expires_at=p.expires_at,
                    next_action_at=p.next_action_at, escalation=p.snapshot)
    ticket, _ = ledger.create_ticket(new, at=created)
    if card:
        ticket = ledger.record_message(ticket.id, SlackRef(role="card", channel="C0PAYMENTS",
                                                           ts=f"{ticket.id}.1"))
    return ticket


def audit_kinds(ledger: Ledger, ticket_id: str) -> Counter[str]:
    return Counter(e.kind for e in ledger.audit_events(ticket_id=ticket_id))
