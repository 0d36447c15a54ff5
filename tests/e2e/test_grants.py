"""Standing grants end to end: a signed "Approve + similar…" click, the form that shows what
similar means, requests approved without a card (a line in the card's thread instead), and
grants that stop: outside their bounds, after their time, after their uses, when revoked
(CLI and App Home) and when the granter is no longer an approver."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import generate_latest
from sqlalchemy import update

from bot.agent.client import ApprovalClient
from bot.cli import main
from bot.render.grant import (
    ACTION_GRANT,
    ACTION_REVOKE_GRANT,
    SPAN_ACTION,
    SPAN_BLOCK,
    USES_ACTION,
    USES_BLOCK,
)
from bot.server.metrics import metrics_registry
from bot.slack.authz import Authorizer
from bot.slack.grant_checks import may_revoke
from escalation.config import load_config, parse_config
from store.db import db_now
from store.grant_store import GrantStore
from store.grants import Grant
from store.ledger import Ledger
from store.models import DecisionKind, Ticket, TicketStatus
from store.stats import QualityStats
from store.tables import GrantRow
from tests.e2e.conftest import EXAMPLE, Gate, Rig, running_rig, workspace
from tests.e2e.test_reviews import refund, settled, wait_ephemeral


def grant_on(rig: Rig, ticket: Ticket, user: str = "U0PAYLEAD", *, uses: int = 3,
             span: str = "2h", channel: str = "C0PAYMENTS") -> Grant:
    """``user`` clicks "Approve + similar…" on the card, reads the form and confirms."""
    assert rig.sandbox.click(user, action_id=ACTION_GRANT, channel=channel,
                             message_ts=rig.card_ts(ticket.id)).ok
    form = rig.sandbox.wait_until(lambda: rig.sandbox.views(user))[-1]
    shown = json.dumps(form.data)
    assert "Similar means all of these" in shown
    done = rig.sandbox.submit(user, {SPAN_BLOCK: {SPAN_ACTION: span},
                                     USES_BLOCK: {USES_ACTION: str(uses)}})
    assert done.ok and done.response_action is None, done.errors
    assert settled(rig, ticket.id).status == TicketStatus.APPROVED
    [grant] = GrantStore(rig.ledger).for_ticket(ticket.id)
    return grant


def thread_texts(rig: Rig, ticket: Ticket, channel: str = "C0PAYMENTS") -> str:
    return json.dumps([m.data for m in rig.sandbox.thread(channel, rig.card_ts(ticket.id))])


def test_a_grant_approves_similar_requests_without_a_card_until_its_uses_run_out(
        rig: Rig) -> None:
    first = refund(rig, 120)
    form_click = rig.sandbox.click("U0PAYLEAD", action_id=ACTION_GRANT, channel="C0PAYMENTS")
    assert form_click.ok
    form = rig.sandbox.wait_until(lambda: rig.sandbox.views("U0PAYLEAD"))[-1]
    shown = json.dumps(form.data, ensure_ascii=False)
    assert "amount ≤ 120 (and not negative)" in shown and "customer = cus_42 (exactly)" in shown
    assert "issue_refund" in shown and "<@U0REQUESTER>" in shown
    missing = rig.sandbox.submit("U0PAYLEAD", {USES_BLOCK: {USES_ACTION: "2"}})
    assert not missing.delivered and SPAN_BLOCK in missing.errors  # a required choice
    assert rig.ledger.decisions(first.id) == []
    done = rig.sandbox.submit("U0PAYLEAD", {SPAN_BLOCK: {SPAN_ACTION: "30m"},
                                            USES_BLOCK: {USES_ACTION: "2"}})
    assert done.ok and done.response_action is None
    assert settled(rig, first.id).status == TicketStatus.APPROVED
    [grant] = GrantStore(rig.ledger).for_ticket(first.id)
    assert (grant.granted_by, grant.max_uses, grant.uses) == ("U0PAYLEAD", 2, 0)
    rig.sandbox.wait_until(lambda: grant.id in thread_texts(rig, first))

    cards_before = len(rig.sandbox.messages("C0PAYMENTS"))
    second = refund(rig, 80)
    assert second.status == TicketStatus.APPROVED and second.card is None
    [decision] = rig.ledger.decisions(second.id)
    assert decision.reviewer == "U0PAYLEAD" and decision.kind == DecisionKind.APPROVE
    assert decision.reason is not None and f"standing grant {grant.id}" in decision.reason
    assert decision.reason.endswith("1 of 2)")
    # A compact line in the card's thread, not a new card.
    assert second.id in thread_texts(rig, first)
    assert len(rig.sandbox.messages("C0PAYMENTS")) == cards_before
    ran: list[dict[str, Any]] = []
    assert rig.client.execute(second.id, lambda **kw: ran.append(kw) or "ok",
                              action="issue_refund") == "ok"
    assert ran == [{"amount": 80, "customer": "cus_42"}]

    outside = refund(rig, 121)  # above the approved amount: reviewed as usual
    assert outside.status == TicketStatus.PENDING and outside.card is not None
    third = refund(rig, 120)
    assert third.status == TicketStatus.APPROVED
    assert refund(rig, 10).status == TicketStatus.PENDING  # both uses are spent
    assert GrantStore(rig.ledger).get(grant.id).uses == 2
    scraped = _scrape(rig)
    assert 'signoff_grant_approvals_total{action="issue_refund",route="payments"} 2.0' \
        in scraped
    assert 'kind="approved_by_grant"' in scraped
    # In the stats the grant's approvals are neither reviewed requests nor anyone's clicks.
    stats = QualityStats(rig.ledger.engine)
    since = first.created_at - timedelta(minutes=1)
    [figures] = stats.queue_figures(since)
    assert (figures.by_grant, figures.reviewed) == (2, 3)  # first, outside, the last one
    [lead] = [r for r in stats.reviewer_figures(since) if r.reviewer == "U0PAYLEAD"]
    assert lead.decisions == 1


def _scrape(rig: Rig) -> str:
    return generate_latest(metrics_registry(rig.ledger)).decode()


def test_a_grant_stops_when_its_time_is_up(rig: Rig) -> None:
    grant = grant_on(rig, refund(rig, 120))
    assert refund(rig, 100).status == TicketStatus.APPROVED
    with rig.ledger.engine.begin() as conn:  # its time has passed (by the database's clock)
        conn.execute(update(GrantRow).where(GrantRow.id == grant.id)
                     .values(expires_at=db_now()))
    late = refund(rig, 100)
    assert late.status == TicketStatus.PENDING and late.card is not None
    assert GrantStore(rig.ledger).get(grant.id).uses == 1


def test_revoking_from_the_cli_stops_a_grant_at_once(
        rig: Rig, db_url: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    first = refund(rig, 120)
    grant = grant_on(rig, first)
    assert refund(rig, 100).status == TicketStatus.APPROVED
    monkeypatch.setenv("SIGNOFF_DATABASE_URL", db_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", rig.sandbox.bot_token)
    monkeypatch.setenv("SLACK_API_URL", rig.sandbox.api_url)
    assert main(["grants", "revoke", grant.id, "--by", "U0FINOPS"]) == 0
    assert "approves nothing more" in capsys.readouterr().out
    assert refund(rig, 100).status == TicketStatus.PENDING
    # Reviewers see it in the grant's thread.
    assert "<@U0FINOPS> revoked standing grant" in thread_texts(rig, first)
    assert main(["grants", "list"]) == 0
    listed = capsys.readouterr().out
    assert grant.id in listed and "revoked" in listed and "1/3 used" in listed
    assert main(["grants", "revoke", "gnope"]) == 1
    assert "no standing grant" in capsys.readouterr().err


def test_revoking_from_app_home_stops_a_grant_at_once(rig: Rig) -> None:
    first = refund(rig, 120)
    grant = grant_on(rig, first)
    assert rig.sandbox.open_app_home("U0PAYLEAD").ok
    home = rig.sandbox.wait_until(lambda: (h := rig.sandbox.home("U0PAYLEAD"))
                                  and "Your standing grants" in json.dumps(h.data) and h)
    assert rig.sandbox.click("U0PAYLEAD", action_id=ACTION_REVOKE_GRANT, view_id=home.id).ok
    rig.sandbox.wait_until(lambda: GrantStore(rig.ledger).get(grant.id).revoked_at)
    assert GrantStore(rig.ledger).get(grant.id).revoked_by == "U0PAYLEAD"
    assert refund(rig, 100).status == TicketStatus.PENDING
    rig.sandbox.wait_until(lambda: "revoked standing grant" in thread_texts(rig, first))
    rig.sandbox.wait_until(lambda: "Your standing grants" not in json.dumps(
        rig.sandbox.home("U0PAYLEAD").data))  # type: ignore[union-attr]


def test_only_the_granter_or_the_routes_approvers_may_revoke(rig: Rig) -> None:
    grant = grant_on(rig, refund(rig, 120))
    authz = Authorizer(rig.slack)
    assert may_revoke(rig.config, authz, "U0PAYLEAD", grant)  # the granter
    assert may_revoke(rig.config, authz, "U0FINOPS", grant)  # approves for payments
    assert not may_revoke(rig.config, authz, "U0OUTSIDER", grant)
    assert not may_revoke(rig.config, authz, "U0SRE1", grant)  # another route's approver


def test_a_grant_stops_when_its_granter_leaves_the_approvers(rig: Rig) -> None:
    first = rig.client.request("restart_service", {"service": "api"}, reason="stuck",
                               requested_by="U0REQUESTER")  # the SRE group's route
    grant = grant_on(rig, first, "U0SRE1", channel="C0APPROVALS")
    again = rig.client.request("restart_service", {"service": "api"}, reason="stuck again",
                               requested_by="U0REQUESTER")
    assert again.status == TicketStatus.APPROVED
    assert rig.sandbox.set_usergroup_members("S0SREGROUP", ["U0SRE2"]).ok
    later = rig.client.request("restart_service", {"service": "api"}, reason="and again",
                               requested_by="U0REQUESTER")
    assert later.status == TicketStatus.PENDING and later.card is not None
    assert GrantStore(rig.ledger).get(grant.id).uses == 1


def test_no_grant_for_a_two_person_rule_and_no_button_for_it(rig: Rig) -> None:
    big = refund(rig, 5000)  # critical, two approvers
    card = rig.sandbox.message("C0PAYMENTS", rig.card_ts(big.id))
    assert card is not None and ACTION_GRANT not in json.dumps(card.data)
    normal = refund(rig, 120)
    normal_card = rig.sandbox.message("C0PAYMENTS", rig.card_ts(normal.id))
    assert normal_card is not None and ACTION_GRANT in json.dumps(normal_card.data)


def test_an_outsider_cannot_open_the_grant_form(rig: Rig) -> None:
    ticket = refund(rig, 120)
    assert rig.sandbox.click("U0OUTSIDER", action_id=ACTION_GRANT, channel="C0PAYMENTS").ok
    told = wait_ephemeral(rig, "U0OUTSIDER", "approver")
    assert told and rig.sandbox.views("U0OUTSIDER") == []
    assert rig.ledger.decisions(ticket.id) == [] and GrantStore(rig.ledger).listed() == []


def test_over_http_a_grant_covers_only_the_agent_it_was_made_for(rig: Rig, gate: Gate) -> None:
    mine = gate.client()
    _, token = gate.gateway.agents.add("other-bot", actions=("*",), max_pending=20)
    other = gate.client(token)
    try:
        first = _http_refund(mine, 120)
        assert first.agent == "refund-bot" and first.status == TicketStatus.PENDING
        grant = grant_on(rig, first)
        assert grant.agent == "refund-bot"
        again = _http_refund(mine, 100)
        assert again.status == TicketStatus.APPROVED and again.card is None
        assert _http_refund(other, 100).status == TicketStatus.PENDING  # another agent
        assert GrantStore(rig.ledger).get(grant.id).uses == 1
    finally:
        mine.close()
        other.close()


def test_a_repeated_idempotency_key_returns_its_ticket_and_uses_nothing(rig: Rig) -> None:
    grant = grant_on(rig, refund(rig, 120))
    once = refund(rig, 100, idempotency_key="refund-77")
    twice = refund(rig, 100, idempotency_key="refund-77")
    assert once.status == TicketStatus.APPROVED and twice.id == once.id
    assert GrantStore(rig.ledger).get(grant.id).uses == 1


def _http_refund(client: ApprovalClient, amount: int) -> Ticket:
    return client.request("issue_refund", {"amount": amount, "customer": "cus_42"},
                          reason="double charge", requested_by="U0REQUESTER")


NEVER_RULE = """    - action: issue_refund
      decide: require_approval
      tier: high
      route: payments
"""


def test_grants_never_offers_no_grant_and_stops_existing_ones(ledger: Ledger) -> None:
    text = EXAMPLE.read_text()
    assert NEVER_RULE in text
    never = parse_config(text.replace(NEVER_RULE, NEVER_RULE + "      grants: never\n")
                         .replace('policy_version: "2026-11-20"',
                                  'policy_version: "2026-11-26-no-grants"'))
    with running_rig(ledger, load_config(EXAMPLE), workspace()) as rig:
        grant = grant_on(rig, refund(rig, 120))
        assert refund(rig, 100).status == TicketStatus.APPROVED
    with running_rig(ledger, never, workspace()) as rig:
        # The rule now says never: the grant made before approves nothing more ...
        assert refund(rig, 100).status == TicketStatus.PENDING
        assert GrantStore(ledger).get(grant.id).uses == 1
        # ... and the card's form explains instead of offering one.
        ticket = refund(rig, 110)
        assert rig.sandbox.click("U0PAYLEAD", action_id=ACTION_GRANT, channel="C0PAYMENTS",
                                 message_ts=rig.card_ts(ticket.id)).ok
        notice = rig.sandbox.wait_until(lambda: rig.sandbox.views("U0PAYLEAD"))[-1]
        assert "grants: never" in json.dumps(notice.data)
        assert rig.ledger.decisions(ticket.id) == []
