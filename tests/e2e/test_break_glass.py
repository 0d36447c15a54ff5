"""Break-glass end to end: signed clicks on the real bot, the sandbox's Slack, a real
database (SQLite and PostgreSQL). A responder runs a pending request alone with a mandatory
justification; a second person witnesses it in time, or the sweep escalates it along the
route's chain; every refusal records nothing and tells the clicker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import ApprovalConsumed
from bot.render import ACTION_APPROVE, ACTION_REJECT, CHANGED_SINCE_FORM, REASON_BLOCK
from bot.render.breakglass import (
    MISSING_JUSTIFICATION,
    NOT_A_RESPONDER,
    NOT_A_WITNESS,
    NOT_ALLOWED,
    OWN_REQUEST,
    WITNESS_SELF,
    WITNESS_UNRECORDED,
    WITNESSED,
)
from bot.render.ids import (
    ACTION_BREAK_GLASS,
    ACTION_WITNESS,
    JUSTIFICATION_ACTION,
    JUSTIFICATION_BLOCK,
)
from bot.sandbox import Channel
from bot.slack.surfaces import Surfaces
from escalation.config import load_config
from store.ledger import Ledger
from store.models import DecisionKind, NewTicket, Ticket, TicketStatus
from tests.e2e.conftest import EXAMPLE, Rig, running_rig, workspace
from tests.e2e.test_click_inbox import tables_gone
from tests.e2e.test_reviews import settled, wait_ephemeral

SECURITY = "C0SECURITY"
RULES = [
    {"action": "restart_payments", "decide": "require_approval", "route": "payments",
     "tier": "critical", "approvals": 2, "break_glass": "allowed"},
    {"action": "rotate_key", "decide": "require_approval", "route": "payments",
     "break_glass": {"allowed": True, "allow_self": True, "witness_within": "5m"}},
    {"action": "restart_payments", "when": {"region": {"eq": "all"}}, "decide": "deny",
     "reason": "never every region at once"},
]


@pytest.fixture
def rig(ledger: Ledger, tmp_path: Path) -> Iterator[Rig]:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["policy"]["rules"] += RULES
    data["break_glass"] = {"security_channel": SECURITY, "witness_within": "15m"}
    path = tmp_path / "signoff.yml"
    path.write_text(yaml.safe_dump(data))
    ws = workspace()
    ws.channels.append(Channel(SECURITY, "security"))
    with running_rig(ledger, load_config(path), ws) as r:
        yield r


def restart(rig: Rig, *, requested_by: str = "U0REQUESTER", region: str = "eu") -> Ticket:
    return rig.client.request("restart_payments", {"region": region}, reason="payments down",
                              requested_by=requested_by)


def buttons(rig: Rig, channel: str, ts: str) -> list[str]:
    msg = rig.sandbox.message(channel, ts)
    assert msg is not None
    return [e.get("action_id", "") for b in msg.blocks if b.get("type") == "actions"
            for e in b.get("elements", [])]


def break_glass(rig: Rig, user: str, justification: str | None, ts: str) -> Any:
    assert rig.sandbox.click(user, action_id=ACTION_BREAK_GLASS, channel="C0PAYMENTS",
                             message_ts=ts).ok
    rig.sandbox.wait_until(lambda: rig.sandbox.views(user))
    if justification is None:
        return None
    return rig.sandbox.submit(user, {JUSTIFICATION_BLOCK: {JUSTIFICATION_ACTION: justification}})


def audit_kinds(rig: Rig, ticket_id: str) -> list[str]:
    return [e.kind for e in rig.ledger.audit_events(ticket_id=ticket_id)]


def security_posts(rig: Rig) -> list[Any]:
    return rig.sandbox.messages(SECURITY)


def broken(rig: Rig, user: str = "U0PAYLEAD") -> Ticket:
    ticket = restart(rig)
    done = break_glass(rig, user, "payments are down for everyone", rig.card_ts(ticket.id))
    assert done.ok and done.response_action is None, done.errors
    return settled(rig, ticket.id)


def test_break_glass_needs_a_justification_then_runs_once(rig: Rig) -> None:
    ticket = restart(rig)  # critical, two approvers: nobody has approved yet
    ts = rig.card_ts(ticket.id)
    assert ACTION_BREAK_GLASS in buttons(rig, "C0PAYMENTS", ts)
    blank = break_glass(rig, "U0PAYLEAD", "   ", ts)
    assert blank.response_action == "errors"
    assert blank.errors == {JUSTIFICATION_BLOCK: MISSING_JUSTIFICATION}
    assert rig.ledger.decisions(ticket.id) == [] and rig.ledger.break_glass_of(ticket.id) is None
    done = rig.sandbox.submit("U0PAYLEAD", {JUSTIFICATION_BLOCK: {
        JUSTIFICATION_ACTION: "payments are down for everyone"}})
    assert done.ok and done.response_action is None, done.errors

    after = settled(rig, ticket.id)
    assert after.status == TicketStatus.APPROVED and after.decided_by == "U0PAYLEAD"
    [decision] = rig.ledger.decisions(ticket.id)
    assert decision.kind == DecisionKind.BREAK_GLASS
    assert decision.reason == "payments are down for everyone"
    assert decision.args_hash == ticket.final_args_hash
    record = rig.ledger.break_glass_of(ticket.id)
    assert record is not None and record.responder == "U0PAYLEAD" and not record.witnessed
    assert record.witness_due_at - record.broken_at == timedelta(minutes=15)
    assert "break_glass" in audit_kinds(rig, ticket.id)

    post = rig.sandbox.wait_until(lambda: security_posts(rig))[0]
    assert "BREAK-GLASS" in post.text and "payments are down" in str(post.blocks)
    assert ACTION_WITNESS in buttons(rig, SECURITY, post.ts)
    rig.sandbox.wait_until(lambda: "break-glass" in str(
        rig.sandbox.message("C0PAYMENTS", ts).blocks))  # type: ignore[union-attr]
    assert ACTION_BREAK_GLASS not in buttons(rig, "C0PAYMENTS", ts)
    assert ACTION_WITNESS in buttons(rig, "C0PAYMENTS", ts)  # the card offers Witness too

    ran: list[dict[str, Any]] = []
    rig.client.execute(ticket.id, lambda **kw: ran.append(kw), action="restart_payments")
    with pytest.raises(ApprovalConsumed):
        rig.client.execute(ticket.id, lambda **kw: ran.append(kw), action="restart_payments")
    assert ran == [{"region": "eu"}]
    assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.EXECUTED


def test_witnessed_in_time_is_never_escalated(rig: Rig) -> None:
    ticket = broken(rig)
    post = rig.sandbox.wait_until(lambda: security_posts(rig))[0]
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_WITNESS, channel=SECURITY, message_ts=post.ts)
    wait_ephemeral(rig, "U0PAYLEAD", WITNESS_SELF)
    rig.sandbox.click("U0OUTSIDER", action_id=ACTION_WITNESS, channel=SECURITY,
                      message_ts=post.ts)
    wait_ephemeral(rig, "U0OUTSIDER", NOT_A_WITNESS)
    assert rig.ledger.break_glass_of(ticket.id).witnessed_by is None  # type: ignore[union-attr]

    rig.sandbox.click("U0FINOPS", action_id=ACTION_WITNESS, channel=SECURITY, message_ts=post.ts)
    wait_ephemeral(rig, "U0FINOPS", WITNESSED)
    record = rig.ledger.break_glass_of(ticket.id)
    assert record is not None and record.witnessed_by == "U0FINOPS"
    assert "break_glass_witnessed" in audit_kinds(rig, ticket.id)
    rig.sandbox.wait_until(lambda: ACTION_WITNESS not in buttons(rig, SECURITY, post.ts))
    card_ts = rig.card_ts(ticket.id)
    rig.sandbox.wait_until(lambda: ACTION_WITNESS not in buttons(rig, "C0PAYMENTS", card_ts))
    assert any("witnessed the break-glass" in m.text
               for m in rig.sandbox.thread("C0PAYMENTS", card_ts))

    rig.service.sweep().tick(at=record.broken_at + timedelta(minutes=40))
    assert rig.sandbox.messages(rig.sandbox.dm_channel("U0PAYONCALL")) == []
    assert "break_glass_unwitnessed" not in audit_kinds(rig, ticket.id)


def test_a_witness_the_database_cannot_take_is_told_and_can_click_again(
        rig: Rig, db_url: str) -> None:
    """The Witness click is acknowledged before it is written: a database failure after
    the ack still ends in a message to the witness, and nothing is taken as witnessed."""
    ticket = broken(rig)
    post = rig.sandbox.wait_until(lambda: security_posts(rig))[0]
    with tables_gone(db_url, "break_glass"):
        rig.sandbox.click("U0FINOPS", action_id=ACTION_WITNESS, channel=SECURITY,
                          message_ts=post.ts)
        wait_ephemeral(rig, "U0FINOPS", WITNESS_UNRECORDED)
    record = rig.ledger.break_glass_of(ticket.id)
    assert record is not None and record.witnessed_by is None
    assert "break_glass_witnessed" not in audit_kinds(rig, ticket.id)
    rig.sandbox.click("U0FINOPS", action_id=ACTION_WITNESS, channel=SECURITY, message_ts=post.ts)
    wait_ephemeral(rig, "U0FINOPS", WITNESSED)
    assert rig.ledger.break_glass_of(ticket.id).witnessed_by == "U0FINOPS"  # type: ignore[union-attr]


def test_unwitnessed_break_glass_escalates_along_the_chain(rig: Rig) -> None:
    ticket = broken(rig)
    # The security post is announced after the ack; the sweep below (time travelled to the
    # deadline) updates it only once the ledger knows where it is.
    record = rig.sandbox.wait_until(
        lambda: (r := rig.ledger.break_glass_of(ticket.id)) and r.security_ts and r)
    sweep = rig.service.sweep()
    sweep.tick(at=record.broken_at + timedelta(minutes=14))
    assert rig.sandbox.messages(rig.sandbox.dm_channel("U0PAYONCALL")) == []

    sweep.tick(at=record.witness_due_at + timedelta(seconds=1))  # payments-oncall, level 1
    sweep.tick(at=record.witness_due_at + timedelta(seconds=2))  # a level is DM'd once
    dms = rig.sandbox.messages(rig.sandbox.dm_channel("U0PAYONCALL"))
    assert len(dms) == 1 and "Unwitnessed break-glass" in dms[0].text
    assert ACTION_WITNESS in buttons(rig, dms[0].channel, dms[0].ts)
    assert rig.sandbox.messages(rig.sandbox.dm_channel("U0PAYMGR")) == []
    events = [e for e in rig.ledger.audit_events(ticket_id=ticket.id)
              if e.kind == "break_glass_unwitnessed"]
    assert [(e.data["level"], e.data["targets"]) for e in events] == [(1, ["U0PAYONCALL"])]
    post = security_posts(rig)[0]
    assert "Unwitnessed override" in str(rig.sandbox.message(SECURITY, post.ts).blocks)  # type: ignore[union-attr]

    sweep.tick(at=record.witness_due_at + timedelta(minutes=20, seconds=1))  # level 2
    assert len(rig.sandbox.messages(rig.sandbox.dm_channel("U0PAYMGR"))) == 1

    rig.sandbox.click("U0PAYONCALL", action_id=ACTION_WITNESS, channel=dms[0].channel)
    wait_ephemeral(rig, "U0PAYONCALL", WITNESSED)
    witnessed = [e for e in rig.ledger.audit_events(ticket_id=ticket.id)
                 if e.kind == "break_glass_witnessed"]
    assert witnessed and witnessed[0].data["late"] is True
    assert rig.ledger.break_glass_counts() == {"total": 1, "witnessed": 1, "witnessed_late": 1,
                                               "unwitnessed": 0, "escalated": 1}


def test_who_may_not_break_glass_is_told_and_nothing_is_recorded(rig: Rig) -> None:
    refund = rig.client.request("issue_refund", {"amount": 120, "customer": "cus_42"},
                                reason="double charge", requested_by="U0REQUESTER")
    assert ACTION_BREAK_GLASS not in buttons(rig, "C0PAYMENTS", rig.card_ts(refund.id))

    ticket = restart(rig)
    ts = rig.card_ts(ticket.id)
    rig.sandbox.click("U0OUTSIDER", action_id=ACTION_BREAK_GLASS, channel="C0PAYMENTS",
                      message_ts=ts)
    wait_ephemeral(rig, "U0OUTSIDER", NOT_A_RESPONDER)

    own = restart(rig, requested_by="U0FINOPS")  # a payments approver's own request
    rig.sandbox.click("U0FINOPS", action_id=ACTION_BREAK_GLASS, channel="C0PAYMENTS",
                      message_ts=rig.card_ts(own.id))
    wait_ephemeral(rig, "U0FINOPS", OWN_REQUEST)

    # A card that still shows the button for an action policy now denies (or for a rule
    # without break_glass): the click is refused, whatever the card says.
    for action, args in (("restart_payments", {"region": "all"}),
                         ("issue_refund", {"amount": 10, "customer": "cus_1"})):
        stale = _card_with_button(rig, action, args)
        rig.sandbox.click("U0PAYLEAD", action_id=ACTION_BREAK_GLASS, channel="C0PAYMENTS",
                          message_ts=stale.card.ts)  # type: ignore[union-attr]
        rig.sandbox.wait_until(lambda: sum(NOT_ALLOWED in m.text for m in
                                           rig.sandbox.ephemerals("U0PAYLEAD")) >= 1)
    for t in (ticket, own):
        assert rig.ledger.decisions(t.id) == [] and rig.ledger.break_glass_of(t.id) is None
    assert rig.sandbox.messages(SECURITY) == []


def test_self_break_glass_only_where_the_rule_allows_it(rig: Rig) -> None:
    ticket = rig.client.request("rotate_key", {"key": "k1"}, reason="leaked",
                                requested_by="U0FINOPS")
    done = break_glass(rig, "U0FINOPS", "the key leaked publicly", rig.card_ts(ticket.id))
    assert done.ok and done.response_action is None, done.errors
    after = settled(rig, ticket.id)
    assert after.status == TicketStatus.APPROVED
    record = rig.ledger.break_glass_of(ticket.id)
    assert record is not None and record.witness_due_at - record.broken_at == timedelta(minutes=5)
    ran: list[dict[str, Any]] = []
    rig.client.execute(ticket.id, lambda **kw: ran.append(kw), action="rotate_key")
    assert ran == [{"key": "k1"}]


def test_stale_forms_are_refused(rig: Rig) -> None:
    ticket = restart(rig)
    ts = rig.card_ts(ticket.id)
    break_glass(rig, "U0PAYLEAD", None, ts)  # the form is open on version 1 ...
    rig.sandbox.click("U0FINOPS", action_id=ACTION_APPROVE, channel="C0PAYMENTS", message_ts=ts)
    settled(rig, ticket.id)  # ... when a first approval moves the request on
    changed = rig.sandbox.submit("U0PAYLEAD", {JUSTIFICATION_BLOCK: {
        JUSTIFICATION_ACTION: "payments are down"}})
    assert changed.errors == {JUSTIFICATION_BLOCK: CHANGED_SINCE_FORM}
    assert [d.kind for d in rig.ledger.decisions(ticket.id)] == [DecisionKind.APPROVE]

    rig.sandbox.close_view("U0PAYLEAD", clear=True)
    other = restart(rig)
    ots = rig.card_ts(other.id)
    break_glass(rig, "U0PAYLEAD", None, ots)
    rig.sandbox.click("U0FINOPS", action_id=ACTION_REJECT, channel="C0PAYMENTS", message_ts=ots)
    rig.sandbox.wait_until(lambda: rig.sandbox.views("U0FINOPS"))
    rig.sandbox.submit("U0FINOPS", {REASON_BLOCK: {"signoff_reason_value": "not now"}})
    assert settled(rig, other.id).status == TicketStatus.REJECTED
    late = rig.sandbox.submit("U0PAYLEAD", {JUSTIFICATION_BLOCK: {
        JUSTIFICATION_ACTION: "payments are down"}})
    assert late.ok and late.response_action is None, late.errors
    wait_ephemeral(rig, "U0PAYLEAD", "Already rejected")
    assert [d.kind for d in rig.ledger.decisions(other.id)] == [DecisionKind.REJECT]
    assert rig.ledger.break_glass_of(other.id) is None


def _card_with_button(rig: Rig, action: str, args: dict[str, Any]) -> Ticket:
    """A pending request whose card shows "Break glass" although policy does not allow it
    (a card from before a policy change)."""
    from store.models import Route

    ticket, _ = rig.ledger.create_ticket(NewTicket(
        action=action, args=args, requested_by="U0REQUESTER", reason="old card",
        route=Route(name="payments", channel="C0PAYMENTS",
                    approvers=("U0PAYLEAD", "U0FINOPS"), chain="payments-oncall"),
        policy_version="old", policy_rule="old rule",
        expires_at=rig.ledger.db_now() + timedelta(hours=1)))
    return Surfaces(rig.slack, rig.ledger, break_glass=lambda _t: True).post_card(ticket)


def test_stats_and_metrics_count_break_glass(rig: Rig, db_url: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main
    from tests.quality.test_metrics import scrape, value

    first = broken(rig)
    rig.sandbox.wait_until(lambda: security_posts(rig))
    second = restart(rig)
    done = break_glass(rig, "U0FINOPS", "still down", rig.card_ts(second.id))
    assert done.ok and done.response_action is None, done.errors
    settled(rig, second.id)
    rig.ledger.witness(first.id, witness="U0FINOPS")
    record = rig.ledger.break_glass_of(second.id)
    assert record is not None
    rig.service.sweep().tick(at=record.witness_due_at + timedelta(seconds=1))

    m = scrape(rig.server.url)
    assert value(m, "signoff_break_glass_total") == 2
    assert value(m, "signoff_break_glass_witnessed_total", late="false") == 1
    assert value(m, "signoff_break_glass_escalated_total") == 1
    assert value(m, "signoff_break_glass_unwitnessed") == 1
    assert value(m, "signoff_decisions_total", kind="break_glass", route="payments",
                 tier="critical") == 2

    monkeypatch.setenv("SIGNOFF_DATABASE_URL", db_url)
    monkeypatch.setenv("SIGNOFF_CONFIG", str(tmp_path / "signoff.yml"))
    assert main(["stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["break_glass"] == {
        "total": 2, "witnessed": 1, "witnessed_late": 0, "unwitnessed": 1, "escalated": 1}
    assert main(["stats"]) == 0
    assert ("break-glass: 2 (witnessed 1, of them late 0; unwitnessed 1; escalated as "
            "unwitnessed overrides 1)") in capsys.readouterr().out


def test_break_glass_on_a_canary_is_a_miss_and_nothing_runs(rig: Rig) -> None:
    from sqlalchemy import update

    from bot.slack.breakglass import offers
    from store.tables import TicketRow

    ticket = rig.ledger.create_ticket(NewTicket(
        action="restart_payments", args={"region": "eu"}, requested_by="U0REQUESTER",
        reason="test", route=rig.config.route("payments"), policy_version="2026-11-20",
        policy_rule="rules[6] restart_payments", expires_at=rig.ledger.db_now()
        + timedelta(hours=1)))[0]
    with rig.ledger.engine.begin() as conn:
        conn.execute(update(TicketRow).where(TicketRow.id == ticket.id).values(
            canary="restart-canary", canary_lesson="nothing was down"))
    canary = rig.ledger.get_ticket(ticket.id)
    posted = Surfaces(rig.slack, rig.ledger, break_glass=offers(rig.config)).post_card(canary)
    assert posted.card is not None
    assert ACTION_BREAK_GLASS in buttons(rig, "C0PAYMENTS", posted.card.ts)  # like any card
    done = break_glass(rig, "U0PAYLEAD", "it is down", posted.card.ts)
    assert done.ok and done.response_action is None, done.errors
    wait_ephemeral(rig, "U0PAYLEAD", "canary")
    assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.CANCELLED
    assert rig.ledger.break_glass_of(ticket.id) is None
    assert "canary_missed" in audit_kinds(rig, ticket.id)
    assert rig.sandbox.messages(SECURITY) == []


def test_forged_and_stale_requests_get_401_and_change_nothing(rig: Rig) -> None:
    from bot.sandbox import Forgery

    ticket = restart(rig)
    ts = rig.card_ts(ticket.id)
    break_glass(rig, "U0PAYLEAD", None, ts)
    for forgery in (Forgery(secret="not-the-secret"), Forgery(age=301), Forgery(tamper=True)):
        sent = rig.sandbox.submit("U0PAYLEAD", {JUSTIFICATION_BLOCK: {
            JUSTIFICATION_ACTION: "outage"}}, forgery=forgery)
        assert sent.status == 401
    assert rig.ledger.decisions(ticket.id) == [] and rig.ledger.clicks() == []
    rig.sandbox.close_view("U0PAYLEAD", clear=True)

    done = break_glass(rig, "U0PAYLEAD", "outage", ts)
    assert done.ok, done.errors
    settled(rig, ticket.id)
    post = rig.sandbox.wait_until(lambda: security_posts(rig))[0]
    forged = rig.sandbox.click("U0FINOPS", action_id=ACTION_WITNESS, channel=SECURITY,
                               message_ts=post.ts, forgery=Forgery(age=301))
    assert forged.status == 401
    record = rig.ledger.break_glass_of(ticket.id)
    assert record is not None and record.witnessed_by is None
    assert [d.kind for d in rig.ledger.decisions(ticket.id)] == [DecisionKind.BREAK_GLASS]
