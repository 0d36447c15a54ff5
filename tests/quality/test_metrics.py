"""``GET /metrics``: scraped over HTTP from the real front door and from a running
``signoff serve``; the figures match the ledger; labels stay bounded; the shipped Grafana
dashboard queries only metrics the server exports."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from slack_bolt import App
from sqlalchemy import update

from bot.render import ACTION_APPROVE
from bot.server.http import HttpServer, Router
from bot.server.metrics import MAX_ACTIONS
from store.ledger import Ledger
from store.models import NewTicket, Route
from store.tables import TicketRow
from tests.e2e.conftest import Rig
from tests.e2e.test_reviews import refund, settled
from tests.quality.seed import seed

DASHBOARD = Path(__file__).parents[2] / "examples" / "grafana" / "signoff-dashboard.json"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = resp.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def front_door(ledger: Ledger) -> Iterator[str]:
    app = App(signing_secret="s", token_verification_enabled=False, token="xoxb-unused")
    with HttpServer(Router(app, ledger, "2026-11-20"), port=0) as server:
        yield server.url


def test_metrics_match_the_seeded_ledger(ledger: Ledger, front_door: str) -> None:
    seed(ledger)
    m = scrape(front_door)
    assert value(m, "signoff_ledger_up") == 1
    req = "signoff_requests_total"
    assert value(m, req, outcome="review", action="issue_refund", tier="high",
                 route="payments") == 22  # 20 + pending + the 40-day-old one; canaries left out
    assert value(m, req, outcome="allowed", action="search_docs", tier="low",
                 route="default") == 2
    assert value(m, req, outcome="denied", action="drop_database", tier="-", route="-") == 1
    dec = "signoff_decisions_total"
    assert value(m, dec, kind="approved", route="payments", tier="high") == 21
    assert value(m, dec, kind="approved_with_edits", route="default", tier="medium") == 1
    assert value(m, dec, kind="rejected", route="default", tier="medium") == 1
    assert value(m, dec, kind="expired", route="default", tier="medium") == 1
    assert value(m, "signoff_open_requests", route="payments", tier="high") == 1
    assert value(m, "signoff_open_requests", route="default", tier="medium") == 1
    age = value(m, "signoff_oldest_open_request_age_seconds", route="payments")
    opened = timedelta(days=10) - timedelta(hours=3)  # the pending refund, created at t0 + 3h
    assert abs(timedelta(seconds=age) - opened) < timedelta(minutes=1)
    ttd = "signoff_time_to_decision_seconds_bucket"
    # payments: twenty decisions at 5 s and the old one at 10 s; default: 70, 130 and 40 s.
    assert value(m, ttd, route="payments", tier="high", le="10") == 21
    assert [value(m, ttd, route="default", tier="medium", le=le)
            for le in ("30", "60", "300", "+Inf")] == [0, 1, 3, 3]
    assert value(m, "signoff_time_to_decision_seconds_sum", route="default",
                 tier="medium") == pytest.approx(240, abs=0.01)
    assert value(m, "signoff_canary_decisions_total", route="payments", result="caught") == 1
    assert value(m, "signoff_canary_decisions_total", route="payments", result="missed") == 1
    assert value(m, "signoff_http_requests_total", path="/metrics", code="200") >= 0


def test_labels_stay_bounded(ledger: Ledger, front_door: str) -> None:
    route = Route(name="default", channel="C0APPROVALS", approvers=("U0LEAD",))
    for i in range(MAX_ACTIONS + 10):
        ledger.create_ticket(NewTicket(action=f"tool_{i:03d}", requested_by="U0REQUESTER",
                                       route=route, policy_version="v",
                                       expires_at=ledger.db_now() + timedelta(hours=1)))
    m = scrape(front_door)
    actions = {dict(labels)["action"] for name, labels in m if name == "signoff_requests_total"}
    assert len(actions) == MAX_ACTIONS + 1 and "other" in actions
    assert value(m, "signoff_requests_total", outcome="review", action="other", tier="medium",
                 route="default") == 10
    for _name, labels in m:
        for _key, label in labels:
            assert not re.fullmatch(r"t[0-9a-z]{26}|[UW][A-Z0-9]{4,}", label), label


@pytest.mark.slow
def test_a_running_serve_reports_what_the_ledger_holds(
        served: tuple[subprocess.Popen[str], str], rig: Rig) -> None:
    _proc, url = served
    before = scrape(url)
    assert value(before, "signoff_open_requests", route="payments", tier="high") == 0
    rig.sandbox.set_request_url(f"{url}/slack/events")
    ticket = refund(rig)
    m = scrape(url)
    assert value(m, "signoff_open_requests", route="payments", tier="high") == 1
    assert value(m, "signoff_requests_total", outcome="review", action="issue_refund",
                 tier="high", route="payments") == 1
    assert rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS").ok
    decided = settled(rig, ticket.id)
    m = scrape(url)
    assert value(m, "signoff_open_requests", route="payments", tier="high") == 0
    assert value(m, "signoff_decisions_total", kind="approved", route="payments",
                 tier="high") == 1
    assert value(m, "signoff_time_to_decision_seconds_count", route="payments",
                 tier="high") == 1
    assert decided.decided_at is not None
    waited = (decided.decided_at - decided.created_at).total_seconds()
    assert value(m, "signoff_time_to_decision_seconds_sum", route="payments",
                 tier="high") == pytest.approx(waited, abs=0.01)
    assert value(m, "signoff_http_requests_total", path="/slack/events", code="200") >= 1
    assert value(m, "signoff_http_requests_total", path="/metrics", code="200") >= 2


def test_every_dashboard_query_names_an_exported_metric(ledger: Ledger, front_door: str) -> None:
    seed(ledger)
    with urllib.request.urlopen(f"{front_door}/metrics", timeout=10) as resp:
        exported = {f.name for f in text_string_to_metric_families(resp.read().decode())}
    suffixes = ("_total", "_bucket", "_count", "_sum")
    names = exported | {f"{n}{s}" for n in exported for s in suffixes}
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 10
    for expr in exprs:
        used = set(re.findall(r"\bsignoff_[a-z_]+\b", expr))
        assert used, f"query names no signoff metric: {expr}"
        assert used <= names, f"{expr} names {used - names}, not exported"


def test_slack_429s_and_5xx_are_counted_per_process(rig: Rig) -> None:
    url = rig.server.url
    before = scrape(url)
    limited = ("signoff_slack_rate_limited_total", "chat.postMessage")
    failed = ("signoff_slack_server_errors_total", "chat.postMessage")
    rig.sandbox.inject_fault("chat.postMessage", retry_after=1)
    rig.sandbox.inject_fault("chat.postMessage", status=503)
    ticket = refund(rig)  # the card goes out on the third try
    assert rig.ledger.get_ticket(ticket.id).card is not None
    after = scrape(url)
    for name, method in (limited, failed):
        assert value(after, name, method=method) == value(before, name, method=method) + 1
    rig.sandbox.inject_fault("chat.postMessage", error="channel_not_found")
    lost = refund(rig, amount=90)
    assert rig.ledger.get_ticket(lost.id).card is None
    failures = value(scrape(url), "signoff_audit_events_total", kind="delivery_failed")
    assert failures == value(after, "signoff_audit_events_total", kind="delivery_failed") + 1


def test_sweep_lag_and_escalation_steps(rig: Rig) -> None:
    url = rig.server.url
    ticket = refund(rig)
    assert value(scrape(url), "signoff_sweep_lag_seconds") == 0
    # The sweep has not looked at the ticket since its next step fell due six minutes ago.
    now = rig.ledger.db_now()
    with rig.ledger.engine.begin() as conn:
        conn.execute(update(TicketRow).where(TicketRow.id == ticket.id)
                     .values(next_action_at=now - timedelta(minutes=6)))
    lag = value(scrape(url), "signoff_sweep_lag_seconds")
    assert 6 * 60 <= lag < 6 * 60 + 30
    # Eleven minutes on, the payments chain has reminded and DM'd its first level.
    report = rig.service.engine().tick(now + timedelta(minutes=11))
    assert report.claimed == 1 and report.escalations == 1
    m = scrape(url)
    assert value(m, "signoff_sweep_lag_seconds") == 0
    assert value(m, "signoff_escalation_steps_total", kind="notify", status="sent") == 1
