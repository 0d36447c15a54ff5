"""2. Request overhead: ``ApprovalClient.request()`` (policy, ticket, audit, card posted to
the local Slack-compatible server, card recorded) versus the least any approval layer must
do: one raw ``chat.postMessage`` of the same card to the same server plus one INSERT."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import insert

from benchmarks.bulk import TICKETS, bench_route, chain_values, ticket_row
from benchmarks.env import CHANNEL, PG_SKIP_NOTE, Bench
from benchmarks.report import Row, ScenarioResult, Summary
from benchmarks.rig import AgentSide, agent_side
from bot.render import render_card
from escalation.config import load_config

NAME = "request_overhead"
TITLE = "Request overhead (client.request vs chat.postMessage + one INSERT)"
MAX_RATIO = 1.5
WARMUP = 5
_serial = itertools.count(10_000_000)


def run(bench: Bench) -> ScenarioResult:
    result = ScenarioResult(NAME, TITLE)
    for backend in bench.backends():
        result.rows.append(_backend(bench, backend))
    if bench.postgres_url is None:
        result.notes.append(PG_SKIP_NOTE)
    result.notes.append("both in the benchmark process, against the same local "
                        "Slack-compatible server and database; samples interleaved")
    return result


def _backend(bench: Bench, backend: str) -> Row:
    with bench.database(backend) as url, agent_side(bench, url) as side:
        baseline = _baseline(bench, side)
        ours: list[float] = []
        theirs: list[float] = []
        for i in range(WARMUP + bench.size.overhead_samples):
            a, b = _timed(side.request), _timed(baseline)
            if i >= WARMUP:
                ours.append(a)
                theirs.append(b)

    def check(stats: Summary, base: Summary | None) -> bool:
        return base is not None and stats.median <= MAX_RATIO * base.median

    return Row.of(f"{backend}", "ms", Summary.of(ours), baseline=Summary.of(theirs),
                  target=f"≤{MAX_RATIO:g}x baseline", check=check)


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def _baseline(bench: Bench, side: AgentSide) -> Callable[[], None]:
    """chat.postMessage of a real card, then one INSERT of a ticket row."""
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
        with engine.begin() as conn:
            conn.execute(insert(TICKETS), [ticket_row(next(_serial), chain, route)])

    return once
