"""Canaries: injected by the sweep at the configured rate (a scripted random source), shown
as ordinary cards, never visible to an agent, never executed; approving one is a miss the
reviewer is told about privately, rejecting one a catch; stats and metrics count both."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from bot.render import ACTION_APPROVE, ACTION_REJECT, REASON_BLOCK
from bot.slack.surfaces import Surfaces
from escalation.canaries import CanaryInjector, SweepWithCanaries
from escalation.config import SignoffConfig, load_config, parse_config
from escalation.config_errors import ConfigInvalid
from escalation.quality import CanaryRequest
from store.canaries import CanaryStore
from store.errors import TicketNotFound
from store.ledger import Ledger
from store.models import DecisionKind, NewTicket, Route, Ticket, TicketStatus
from store.stats import QualityStats
from tests.e2e.conftest import EXAMPLE, Rig, running_rig, workspace
from tests.e2e.test_reviews import refund, settled

CANARIES = """
canaries:
  payments:
    rate: 1/4
    requests:
      - name: unknown-customer
        action: issue_refund
        args: {amount: 950, customer: cus_nobody}
        reason: Customer reports a duplicate charge on their card
        agent: billing-bot
        confidence: 0.92
        requested_by: U0REQUESTER
        lesson: the customer id cus_nobody matches no customer; refunds need a real customer
"""


def canary_config(tmp_path: Path) -> SignoffConfig:
    path = tmp_path / "signoff.yml"
    path.write_text(EXAMPLE.read_text() + CANARIES)
    return load_config(path)


class Scripted:
    """An injected random source: ``random()`` returns the script in order."""

    def __init__(self, values: Sequence[float]) -> None:
        self.values = list(values)
        self.drawn = 0

    def random(self) -> float:
        self.drawn += 1
        return self.values.pop(0)

    def choice(self, seq: Sequence[CanaryRequest]) -> CanaryRequest:
        return seq[0]


class Recorder:
    def __init__(self) -> None:
        self.posted: list[Ticket] = []

    def post_card(self, ticket: Ticket) -> Ticket:
        self.posted.append(ticket)
        return ticket


def _real(ledger: Ledger, route: str, **fields: object) -> Ticket:
    ticket, _ = ledger.create_ticket(NewTicket(**{
        "action": "issue_refund", "args": {"amount": 10}, "requested_by": "U0REQUESTER",
        "route": Route(name=route, channel="C0PAYMENTS"), "policy_version": "v",
        "expires_at": ledger.db_now() + timedelta(hours=1), **fields}))
    return ticket


def test_the_rate_follows_the_random_source_and_each_request_is_drawn_once(
        ledger: Ledger, tmp_path: Path) -> None:
    config = canary_config(tmp_path)
    for _ in range(8):
        _real(ledger, "payments")
    _real(ledger, "default")  # a route without canaries: never drawn
    _real(ledger, "payments", status=TicketStatus.APPROVED)  # allowed outright: not reviewed
    rng, poster = Scripted([0.1, 0.5, 0.3, 0.24, 0.9, 0.25, 0.0, 0.6]), Recorder()
    injector = CanaryInjector(CanaryStore(ledger), config, poster, rng=rng, batch=3)
    injected = injector.tick(ledger.db_now())
    assert rng.drawn == 8 and len(injected) == 3  # 0.1, 0.24 and 0.0 are below 1/4
    assert [t.id for t in poster.posted] == [t.id for t in injected]
    assert injector.tick(ledger.db_now()) == [] and rng.drawn == 8  # nothing drawn twice
    canary = ledger.get_ticket(injected[0].id)
    assert (canary.canary, canary.route.name, canary.tier.value, canary.status) == (
        "unknown-customer", "payments", "high", TicketStatus.PENDING)
    assert canary.args == {"amount": 950, "customer": "cus_nobody"}
    assert canary.escalation is not None  # the route's own chain, like any request
    assert "canary" not in canary.model_dump(mode="json")


def test_old_requests_are_not_drawn(ledger: Ledger, tmp_path: Path) -> None:
    _real(ledger, "payments")
    injector = CanaryInjector(CanaryStore(ledger), canary_config(tmp_path), Recorder(),
                              rng=Scripted([0]))
    assert injector.tick(ledger.db_now() + timedelta(days=2)) == []


def test_concurrent_sweepers_draw_disjoint_requests(ledger: Ledger) -> None:
    for _ in range(40):
        _real(ledger, "payments")
    since = ledger.db_now() - timedelta(hours=1)
    got: list[list[str]] = [[], []]

    def take(i: int) -> None:
        while draws := CanaryStore(ledger).take_undrawn(["payments"], since=since, limit=3):
            got[i] += [d.ticket_id for d in draws]

    threads = [threading.Thread(target=take, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got[0]) + len(got[1]) == 40 and not set(got[0]) & set(got[1])


def test_no_agent_path_sees_or_runs_a_canary(ledger: Ledger, tmp_path: Path) -> None:
    config = canary_config(tmp_path)
    injector = CanaryInjector(CanaryStore(ledger), config, Recorder(), rng=Scripted([]))
    canary = injector.inject("payments", config.canaries["payments"].requests[0])
    with pytest.raises(TicketNotFound):
        ledger.get_ticket(canary.id, for_agent=True)
    with pytest.raises(TicketNotFound):
        ledger.status_of(canary.id, for_agent=True)
    with pytest.raises(TicketNotFound):
        ledger.cancel(canary.id, actor="agent", reason="x")
    ledger.record_decision(canary.id, reviewer="U0PAYLEAD", kind=DecisionKind.APPROVE)
    assert ledger.get_ticket(canary.id).status == TicketStatus.APPROVED
    with pytest.raises(TicketNotFound):  # approved, yet nothing may run it
        ledger.start_execution(canary.id, action=canary.action, args=canary.args, actor="agent")
    assert ledger.get_ticket(canary.id).status == TicketStatus.APPROVED
    refused = [e for e in ledger.audit_events(ticket_id=canary.id)
               if e.kind == "execution_refused"]
    assert refused and refused[0].data["canary"] == "unknown-customer"


def test_canaries_must_name_configured_routes() -> None:
    with pytest.raises(ConfigInvalid, match="canaries for unknown route"):
        parse_config(EXAMPLE.read_text() + CANARIES.replace("  payments:", "  nowhere:"))


@pytest.fixture
def canary_rig(ledger: Ledger, tmp_path: Path) -> Iterator[Rig]:
    with running_rig(ledger, canary_config(tmp_path), workspace()) as r:
        yield r


def _inject(rig: Rig) -> Ticket:
    real = refund(rig)
    rng = Scripted([0.0])
    injector = CanaryInjector(CanaryStore(rig.ledger), rig.config,
                              Surfaces(rig.slack, rig.ledger), rng=rng)
    [canary] = injector.tick(rig.ledger.db_now())
    assert canary.card is not None and canary.card.channel == "C0PAYMENTS"
    cards = rig.sandbox.messages("C0PAYMENTS")
    assert [m.ts for m in cards][-1] == canary.card.ts and len(cards) >= 2
    # an ordinary-looking card: the same buttons as the real request's
    ids = [[e.get("action_id") for b in m.blocks if b.get("type") == "actions"
            for e in b["elements"]] for m in cards[-2:]]
    assert ids[0] == ids[1] and real.id != canary.id
    # the same argument schema as the agent's own refunds, so the edit form matches too
    assert canary.args_schema is not None and canary.args_schema == real.args_schema
    return canary


@pytest.mark.slow
def test_an_approved_canary_is_a_miss_told_privately_and_runs_nothing(canary_rig: Rig) -> None:
    rig = canary_rig
    assert isinstance(rig.service.sweep(), SweepWithCanaries)  # serve's sweep draws canaries
    canary = _inject(rig)
    assert rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS",
                             message_ts=canary.card.ts if canary.card else None).ok
    settled(rig, canary.id)
    rig.sandbox.wait_until(lambda: any("canary" in m.text for m in
                                       rig.sandbox.ephemerals("U0PAYLEAD")))
    note = next(m.text for m in rig.sandbox.ephemerals("U0PAYLEAD") if "canary" in m.text)
    assert "miss" in note and "cus_nobody matches no customer" in note
    rig.sandbox.wait_until(lambda: rig.ledger.get_ticket(canary.id).status
                           == TicketStatus.CANCELLED)
    kinds = [e.kind for e in rig.ledger.audit_events(ticket_id=canary.id)]
    assert "canary_missed" in kinds and "executing" not in kinds
    report = rig.ledger.verify_audit()  # the canary's trail is as sound as any request's
    assert report.ok, report
    with pytest.raises(TicketNotFound):
        rig.client.get(canary.id)
    with pytest.raises(TicketNotFound):
        rig.ledger.start_execution(canary.id, action=canary.action, args=canary.args, actor="agent")
    figures = QualityStats(rig.ledger.engine).canary_figures()
    assert [(f.route, f.reviewer, f.catches, f.misses) for f in figures] == [
        ("payments", "U0PAYLEAD", 0, 1)]
    [real] = QualityStats(rig.ledger.engine).queue_figures(
        rig.ledger.db_now() - timedelta(hours=1))
    assert real.requests == 1  # the canary counts nowhere else


@pytest.mark.slow
def test_a_rejected_canary_is_a_catch(canary_rig: Rig) -> None:
    rig = canary_rig
    canary = _inject(rig)
    assert rig.sandbox.click("U0FINOPS", action_id=ACTION_REJECT, channel="C0PAYMENTS",
                             message_ts=canary.card.ts if canary.card else None).ok
    rig.sandbox.wait_until(lambda: rig.sandbox.views("U0FINOPS"))
    done = rig.sandbox.submit("U0FINOPS", {REASON_BLOCK: {"signoff_reason_value":
                                                          "no such customer"}})
    assert done.ok
    settled(rig, canary.id)
    rig.sandbox.wait_until(lambda: any("Well caught" in m.text for m in
                                       rig.sandbox.ephemerals("U0FINOPS")))
    figures = QualityStats(rig.ledger.engine).reviewer_figures(
        rig.ledger.db_now() - timedelta(hours=1))
    assert [(r.reviewer, r.decisions, r.canary_catches) for r in figures] == [
        ("U0FINOPS", 0, 1)]


def test_check_config_lists_canaries_and_refuses_one_that_gives_itself_away(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], ledger: Ledger) -> None:
    from bot.cli import main

    good = tmp_path / "good.yml"
    good.write_text(EXAMPLE.read_text() + CANARIES)
    assert main(["check-config", str(good)]) == 0
    out = capsys.readouterr().out
    assert "Canaries" in out and "1 in 4" in out and "unknown-customer" in out
    bad = tmp_path / "bad.yml"
    bad.write_text(EXAMPLE.read_text() + CANARIES.replace("action: issue_refund",
                                                          "action: drop_database"))
    assert main(["check-config", str(bad)]) == 1
    assert "'deny'" in capsys.readouterr().err
    config = load_config(bad)
    injector = CanaryInjector(CanaryStore(ledger), config, Recorder(), rng=Scripted([]))
    assert injector.inject("payments", config.canaries["payments"].requests[0]) is None
    assert ledger.list_tickets() == []  # the sweep skips it rather than give it away


@pytest.mark.slow
def test_the_agent_api_never_shows_or_runs_a_canary(canary_rig: Rig, db_url: str) -> None:
    import httpx

    from store.agents import AgentStore
    from tests.e2e.conftest import running_gateway

    rig = canary_rig
    # The canary shows reviewers the agent name "billing-bot": give a real agent that name.
    with running_gateway(rig, db_url, agent="billing-bot", max_pending=1,
                         webhook_url="http://127.0.0.1:9/hook") as gate:
        canary = _inject(rig)
        assert canary.agent == "billing-bot"
        # an open canary never takes one of the agent's pending slots
        assert AgentStore(rig.ledger).open_tickets("billing-bot") == 0
        rig.ledger.record_decision(canary.id, reviewer="U0PAYLEAD", kind=DecisionKind.APPROVE)
        headers = {"Authorization": f"Bearer {gate.token}"}
        with httpx.Client(base_url=gate.url, headers=headers, timeout=30) as c:
            for method, path, body in [("GET", "", None), ("POST", "/execution", None),
                                       ("POST", "/cancel", {"reason": "x"})]:
                resp = c.request(method, f"/v1/requests/{canary.id}{path}", json=body)
                assert resp.status_code == 404, (path, resp.text)
    assert "executing" not in [e.kind for e in rig.ledger.audit_events(ticket_id=canary.id)]
    with rig.ledger.engine.connect() as conn:  # and no decision webhook told the agent
        from sqlalchemy import func, select

        from store.tables import WebhookDeliveryRow
        sent = conn.execute(select(func.count()).select_from(WebhookDeliveryRow).where(
            WebhookDeliveryRow.ticket_id == canary.id)).scalar_one()
    assert sent == 0
