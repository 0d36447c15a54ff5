"""2. Request overhead: ``ApprovalClient.request()`` (policy, ticket, audit, card posted to
the local Slack-compatible server, card recorded) versus the least an approval layer must do,
measured two ways: one raw ``chat.postMessage`` of the same card to the same server plus one
INSERT of a ticket row, and the same with one audit event appended in the INSERT's
transaction (signoff audits every request, so an unaudited baseline flatters the bare
alternative). All three are interleaved, so each sample of ``request()`` has one of each."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from benchmarks.bulk import TICKETS, bench_route, chain_values, ticket_row
from benchmarks.env import CHANNEL, PG_SKIP_NOTE, Bench
from benchmarks.report import Row, ScenarioResult, Summary
from benchmarks.rig import AgentSide, agent_side
from bot.render import render_card
from escalation.config import load_config
from store import audit

NAME = "request_overhead"
TITLE = "Request overhead (client.request vs chat.postMessage + one INSERT [+ audit event])"
MAX_RATIO = 1.5
WARMUP = 5
AUDITED = "post + INSERT + audit event"
BARE = "post + INSERT"
_serial = itertools.count(10_000_000)
_AUDIT_FIELDS = ("action", "args", "args_hash", "status", "tier", "route", "review_type",
                 "policy_version", "policy_rule", "requested_by")


def run(bench: Bench) -> ScenarioResult:
    result = ScenarioResult(NAME, TITLE)
    for backend in bench.backends():
        result.rows += _backend(bench, backend)
    if bench.postgres_url is None:
        result.notes.append(PG_SKIP_NOTE)
    result.notes.append("all in the benchmark process, against the same local "
                        "Slack-compatible server and database; samples interleaved")
    result.notes.append(f"baseline '{AUDITED}': the post, then one transaction with the "
                        "ticket row and one audit event appended to the hash chain "
                        "(store.audit.append, clock read in Python); baseline "
                        f"'{BARE}': the post and the INSERT alone, as first published")
    return result


def _backend(bench: Bench, backend: str) -> list[Row]:
    with bench.database(backend) as url, agent_side(bench, url) as side:
        audited, bare = _baseline(bench, side, audited=True), _baseline(bench, side)
        ours: list[float] = []
        with_audit: list[float] = []
        without: list[float] = []
        for i in range(WARMUP + bench.size.overhead_samples):
            a, b, c = _timed(side.request), _timed(audited), _timed(bare)
            if i >= WARMUP:
                ours.append(a)
                with_audit.append(b)
                without.append(c)

    def check(stats: Summary, base: Summary | None) -> bool:
        return base is not None and stats.median <= MAX_RATIO * base.median

    return [Row.of(f"{backend}, vs {name}", "ms", Summary.of(ours),
                   baseline=Summary.of(base), target=f"≤{MAX_RATIO:g}x baseline", check=check)
            for name, base in ((AUDITED, with_audit), (BARE, without))]


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def _baseline(bench: Bench, side: AgentSide, *, audited: bool = False) -> Callable[[], None]:
    """chat.postMessage of a real card, then one INSERT of a ticket row (and, ``audited``,
    one audit event in the same transaction)."""
    card = render_card(side.request())
    slack = side.client.slack
    assert slack is not None
    config = load_config(bench.config_path)
    engine = side.ledger.engine
    chain = chain_values(config, side.ledger.db_now() + timedelta(hours=1))
    route = bench_route()

    def once() -> None:
        slack.chat_postMessage(channel=CHANNEL, text=card["text"], blocks=card["blocks"],
                               unfurl_links=False)
        row = ticket_row(next(_serial), chain, route)
        if not audited:
            with engine.begin() as conn:
                conn.execute(insert(TICKETS), [row])
            return
        with Session(engine) as s, s.begin():
            s.execute(insert(TICKETS), [row])
            audit.append(s, ticket_id=row["id"], kind="created", actor=row["agent"],
                         data={**{k: row[k] for k in _AUDIT_FIELDS},
                               "expires_at": row["expires_at"].isoformat()},
                         at=datetime.now(UTC), key=None, new_ticket=True)

    return once
