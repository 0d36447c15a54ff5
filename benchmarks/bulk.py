"""Many pending tickets at once, written straight into the tables with multi-row INSERTs
(setup speed; the rows are what ``ApprovalClient.request`` would have written)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Table, insert, update

from benchmarks.env import ACTION, CHANNEL, REQUESTER, REVIEWER
from escalation.chains import plan
from escalation.config import SignoffConfig
from store.models import Route, args_hash
from store.tables import TicketRow

CHAIN = "bench"
CHUNK = 2_000
TICKETS = cast(Table, TicketRow.__table__)


def ticket_id(n: int) -> str:
    return f"tbench{n:020d}"


def chain_values(config: SignoffConfig, created_at: datetime) -> dict[str, Any]:
    p = plan(config.chain(CHAIN), created_at=created_at, schedules=config.schedules, name=CHAIN)
    return {"created_at": created_at, "expires_at": p.expires_at,
            "next_action_at": p.next_action_at, "escalation": p.snapshot}


def ticket_row(n: int, chain: dict[str, Any], route: dict[str, Any]) -> dict[str, Any]:
    args = {"amount": n, "customer": "cus_42"}
    digest = args_hash(args)
    return {
        "id": ticket_id(n), "idempotency_key": None, "requested_by": REQUESTER,
        "action": ACTION, "args": args, "args_hash": digest, "final_args": args,
        "final_args_hash": digest, "review_type": "approval", "summary": None,
        "reason": "customer was double charged", "evidence": [], "confidence": None,
        "agent": "bench-agent", "run_id": None, "tier": "high", "route": route,
        "policy_version": "bench-1", "policy_rule": "rules[0] issue_refund",
        "status": "pending", "version": 1, "approvals": [], "decided_by": None,
        "decided_at": None, "escalation_level": 0, "escalation_loop": 0, "args_schema": None,
        "card_channel": CHANNEL, "card_ts": f"{1_700_000_000 + n}.000100", "outcome_ok": None,
        "outcome_summary": None, "outcome_error": None, "outcome_at": None,
        "claimed_by": None, "claimed_until": None, **chain,
    }


def bench_route() -> dict[str, Any]:
    return Route(name="default", channel=CHANNEL, approvers=(REVIEWER,),
                 chain=CHAIN).model_dump(mode="json")


def insert_pending(engine: Engine, config: SignoffConfig, *, start: int, count: int,
                   created_at: datetime) -> None:
    """Tickets ``start .. start+count-1``, created at ``created_at``, card posted."""
    chain, route = chain_values(config, created_at), bench_route()
    for first in range(start, start + count, CHUNK):
        last = min(first + CHUNK, start + count)
        with engine.begin() as conn:
            rows = [ticket_row(n, chain, route) for n in range(first, last)]
            conn.execute(insert(TICKETS), rows)


def make_due(engine: Engine, config: SignoffConfig, ids: Sequence[str], *,
             created_at: datetime) -> None:
    """Back-date these tickets to ``created_at`` so their first step is due."""
    values = chain_values(config, created_at)
    for chunk in _chunks(ids, 500):
        with engine.begin() as conn:
            conn.execute(update(TICKETS).where(TICKETS.c.id.in_(chunk)).values(**values))


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def analyze(engine: Engine) -> None:
    """Refresh PostgreSQL's planner statistics, as autovacuum would after a bulk load."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE tickets")
