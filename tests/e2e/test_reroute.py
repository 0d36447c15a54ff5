"""An edit that needs more authority moves the request to the new route's channel.

Real sandbox, real Bolt app behind a real HTTP server, signed requests, a real database.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import ApprovalPending
from bot.render import ACTION_APPROVE, ACTION_EDIT
from bot.sandbox import Channel, ElementNotFound, Message, User
from escalation.config import load_config
from store.ledger import Ledger
from store.models import DecisionKind, RiskTier, TicketStatus
from store.sweep import SweepStore
from tests.e2e.conftest import Rig, running_rig, workspace
from tests.e2e.test_escalation_slack import engine
from tests.e2e.test_reviews import RefundArgs, settled, wait_ephemeral

CONFIG = """\
version: 1
policy_version: "2026-12-01"
sweep_every: 15s
reviewers:
  payments-approvers: [U0PAYLEAD, U0FINOPS]
  finance-leads: [U0CFO, U0TREASURER]
routes:
  default: {channel: C0APPROVALS, approvers: payments-approvers, chain: payments-oncall}
  payments: {channel: C0PAYMENTS, approvers: payments-approvers, chain: payments-oncall}
  finance: {channel: C0FINANCE, approvers: finance-leads, chain: finance-oncall}
chains:
  finance-oncall:
    levels:
      - notify: [U0FINONCALL]
        after: 10m
    remind_every: 5m
    expire_after: 1h
  payments-oncall:
    levels:
      - notify: [U0PAYONCALL]
        after: 10m
    remind_every: 5m
    expire_after: 1h
policy:
  default: require_approval
  rules:
    - name: large refunds
      action: issue_refund
      when: {amount: {gt: 1000}}
      decide: require_approval
      tier: critical
      route: finance
    - name: refunds
      action: issue_refund
      decide: require_approval
      tier: high
      route: payments
"""


@pytest.fixture
def rig(ledger: Ledger, tmp_path: Path) -> Iterator[Rig]:
    path = tmp_path / "signoff.yml"
    path.write_text(CONFIG, encoding="utf-8")
    ws = workspace()
    ws.users += [User("U0CFO", "cfo", "Cfo"), User("U0TREASURER", "treasurer", "Treasurer"),
                 User("U0FINONCALL", "finoncall", "Finoncall")]
    ws.channels.append(Channel("C0FINANCE", "finance"))
    with running_rig(ledger, load_config(path), ws) as r:
        yield r


def buttons(msg: Message) -> list[str]:
    return [str(e.get("action_id")) for b in msg.blocks if b.get("type") == "actions"
            for e in b.get("elements", [])]


def shown(msg: Message) -> str:
    return msg.text + str(msg.blocks)


def card_in(rig: Rig, channel: str) -> Message:
    """The interactive card once the bot has posted it in ``channel``."""
    return rig.sandbox.wait_until(lambda: next(
        (m for m in rig.sandbox.messages(channel) if ACTION_APPROVE in buttons(m)), None))


def edit_amount(rig: Rig, user: str, amount: int) -> dict[str, Any]:
    """Edit the amount on the payments card; returns the signed click's payload."""
    click = rig.sandbox.click(user, action_id=ACTION_EDIT, channel="C0PAYMENTS")
    assert click.ok and click.payload is not None
    rig.sandbox.wait_until(lambda: rig.sandbox.views(user))
    done = rig.sandbox.submit(user, {"arg:amount": {"signoff_edit_value": str(amount)}})
    assert done.ok and done.response_action is None, done.errors
    return click.payload


def test_edit_above_the_limit_moves_the_card_to_the_new_route(rig: Rig) -> None:
    ran: list[dict[str, Any]] = []
    gated = rig.client.gate("issue_refund", args_model=RefundArgs, mode="defer",
                            requested_by="U0REQUESTER")(lambda **kw: ran.append(kw) or "ok")
    with pytest.raises(ApprovalPending) as pending:
        gated(amount=120, customer="cus_42", _reason="double charge")
    ticket_id = pending.value.ticket_id
    assert ticket_id is not None
    old_ts = rig.card_ts(ticket_id)
    assert rig.sandbox.messages("C0FINANCE") == []

    stale = edit_amount(rig, "U0FINOPS", 5000)
    new = card_in(rig, "C0FINANCE")
    # The old card points at the new one (the last step of the move) and has no buttons.
    old = rig.sandbox.wait_until(lambda: next(
        (m for m in [rig.sandbox.message("C0PAYMENTS", old_ts)]
         if m is not None and "Moved to" in shown(m)), None))
    ticket = rig.ledger.get_ticket(ticket_id)
    assert ticket.card is not None and (ticket.card.channel, ticket.card.ts) == ("C0FINANCE",
                                                                                 new.ts)
    assert ticket.route.name == "finance" and ticket.tier == RiskTier.CRITICAL
    assert ticket.status == TicketStatus.PENDING and ticket.approvals == ()
    assert "5000" in shown(new) and buttons(new)[:1] == [ACTION_APPROVE]
    assert buttons(old) == [] and not any(b.get("accessory") for b in old.blocks)
    assert "<#C0FINANCE>" in shown(old) and "<@U0CFO>" in shown(old)
    assert "<@U0TREASURER>" in shown(old) and "critical" in shown(old)
    with pytest.raises(ElementNotFound):
        rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS",
                          message_ts=old_ts)
    assert "Moved here from <#C0PAYMENTS>" in " ".join(
        shown(m) for m in rig.sandbox.thread("C0FINANCE", new.ts))
    rig.sandbox.wait_until(lambda: "Moved to <#C0FINANCE>" in " ".join(
        shown(m) for m in rig.sandbox.thread("C0PAYMENTS", old_ts) if m.ts != old_ts))

    moved = [e for e in rig.ledger.audit_events(ticket_id=ticket_id) if e.kind == "moved"]
    assert len(moved) == 1 and moved[0].data["editor"] == "U0FINOPS"
    assert (moved[0].data["from_channel"], moved[0].data["from_ts"]) == ("C0PAYMENTS", old_ts)
    assert (moved[0].data["channel"], moved[0].data["ts"]) == ("C0FINANCE", new.ts)

    refuse_old_route_approver(rig, ticket_id, stale)
    rig.sandbox.click("U0CFO", action_id=ACTION_APPROVE, channel="C0FINANCE")
    approved = settled(rig, ticket_id, decisions=2)
    assert approved.status == TicketStatus.APPROVED and approved.approvals == ("U0CFO",)
    assert gated.resume(ticket_id) == "ok"
    assert ran == [{"amount": 5000, "customer": "cus_42"}]
    rig.sandbox.wait_until(lambda: any(
        "Executed" in shown(m) for m in rig.sandbox.thread("C0FINANCE", new.ts)))
    assert rig.ledger.verify_audit().ok


def refuse_old_route_approver(rig: Rig, ticket_id: str, stale: dict[str, Any]) -> None:
    """U0PAYLEAD approved payments refunds; the finance route is not theirs to decide."""
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0FINANCE")
    wait_ephemeral(rig, "U0PAYLEAD", "route *finance*")
    # A client still showing the old card's buttons sends a signed Approve from it.
    replay = copy.deepcopy(stale)
    replay["user"] = {**replay["user"], "id": "U0PAYLEAD", "username": "paylead",
                      "name": "paylead"}
    replay["actions"][0].update(action_id=ACTION_APPROVE, text={"type": "plain_text",
                                                                "text": "Approve"})
    sent = rig.sandbox.deliverer.interaction("block_actions", "U0PAYLEAD", replay)
    assert sent.ok and replay["container"]["channel_id"] == "C0PAYMENTS"
    rig.sandbox.wait_until(lambda: len([m for m in rig.sandbox.ephemerals("U0PAYLEAD")
                                        if "route *finance*" in m.text]) >= 2)
    assert [d.kind for d in rig.ledger.decisions(ticket_id)] == [DecisionKind.EDIT]
    assert rig.ledger.get_ticket(ticket_id).status == TicketStatus.PENDING


def test_reminders_after_a_move_go_to_the_new_cards_thread(rig: Rig) -> None:
    ticket = rig.client.request("issue_refund", {"amount": 120, "customer": "cus_42"},
                                reason="double charge", requested_by="U0REQUESTER",
                                args_model=RefundArgs)
    old_ts = rig.card_ts(ticket.id)
    edit_amount(rig, "U0FINOPS", 5000)
    new = card_in(rig, "C0FINANCE")
    old_thread = rig.sandbox.wait_until(lambda: [  # the move's last step
        m for m in rig.sandbox.thread("C0PAYMENTS", old_ts)
        if m.ts != old_ts and "Moved to" in shown(m)] and rig.sandbox.thread("C0PAYMENTS", old_ts))
    assert rig.card_ts(ticket.id) == new.ts
    moved = rig.ledger.get_ticket(ticket.id)
    assert moved.next_action_at is not None  # the finance chain, planned from the move
    sweep = engine(rig)
    sweep.tick(at=moved.next_action_at + timedelta(seconds=1))  # remind every 5m
    reminders = [m for m in rig.sandbox.thread("C0FINANCE", new.ts)
                 if "Still waiting" in shown(m)]
    assert len(reminders) == 1 and "<@U0CFO>" in shown(reminders[0])
    assert len(rig.sandbox.thread("C0PAYMENTS", old_ts)) == len(old_thread)


def test_a_move_restarts_the_escalation_and_the_old_oncall_loses_authority(rig: Rig) -> None:
    ticket = rig.client.request("issue_refund", {"amount": 120, "customer": "cus_42"},
                                reason="double charge", requested_by="U0REQUESTER",
                                args_model=RefundArgs)
    sweep = engine(rig)
    sweep.tick(at=ticket.created_at + timedelta(minutes=10, seconds=1))  # payments on-call
    old_dm = rig.sandbox.dm_channel("U0PAYONCALL")
    assert ACTION_APPROVE in buttons(rig.sandbox.messages(old_dm)[0])
    assert SweepStore(rig.ledger).oncall_targets(ticket.id) == {"U0PAYONCALL"}

    edit_amount(rig, "U0FINOPS", 5000)
    card_in(rig, "C0FINANCE")
    moved = rig.ledger.get_ticket(ticket.id)
    assert (moved.escalation_epoch, moved.escalation_loop, moved.escalation_level) == (1, 0, 0)
    assert moved.escalation is not None and moved.escalation["chain"] == "finance-oncall"
    assert moved.next_action_at is not None and moved.next_action_at > ticket.next_action_at
    assert SweepStore(rig.ledger).oncall_targets(ticket.id) == set()
    # The old chain's DM now points to the new card, without buttons.
    pointer = rig.sandbox.wait_until(lambda: next(
        (m for m in rig.sandbox.messages(old_dm) if "Moved to" in shown(m)), None))
    assert buttons(pointer) == []
    # Their DM gave them authority over a payments refund, not over this one.
    rig.sandbox.click("U0PAYONCALL", action_id=ACTION_APPROVE, channel="C0FINANCE")
    wait_ephemeral(rig, "U0PAYONCALL", "route *finance*")
    assert [d.kind for d in rig.ledger.decisions(ticket.id)] == [DecisionKind.EDIT]

    level = moved.escalation["levels"][0]["at"]
    sweep.tick(at=datetime.fromisoformat(level) + timedelta(seconds=1))  # finance on-call
    new_dm = rig.sandbox.dm_channel("U0FINONCALL")
    assert ACTION_APPROVE in buttons(rig.sandbox.messages(new_dm)[0])
    assert len(rig.sandbox.messages(old_dm)) == 1, "the old chain sent nothing more"
    steps = SweepStore(rig.ledger).escalation_steps(ticket.id)
    assert [(s.epoch, s.kind, s.targets) for s in steps if s.kind == "notify"] == [
        (0, "notify", ("U0PAYONCALL",)), (1, "notify", ("U0FINONCALL",))]
    rig.sandbox.click("U0FINONCALL", action_id=ACTION_APPROVE, channel=new_dm)
    approved = settled(rig, ticket.id, decisions=2)
    assert approved.status == TicketStatus.APPROVED and approved.decided_by == "U0FINONCALL"
    assert rig.ledger.verify_audit().ok


def test_an_oncall_editor_whose_edit_moves_the_request_does_not_approve_it_alone(
        rig: Rig) -> None:
    ticket = rig.client.request("issue_refund", {"amount": 120, "customer": "cus_42"},
                                reason="double charge", requested_by="U0REQUESTER",
                                args_model=RefundArgs)
    engine(rig).tick(at=ticket.created_at + timedelta(minutes=10, seconds=1))
    dm = rig.sandbox.dm_channel("U0PAYONCALL")
    assert rig.sandbox.click("U0PAYONCALL", action_id=ACTION_EDIT, channel=dm).ok
    rig.sandbox.wait_until(lambda: rig.sandbox.views("U0PAYONCALL"))
    done = rig.sandbox.submit("U0PAYONCALL", {"arg:amount": {"signoff_edit_value": "5000"}})
    assert done.ok and done.response_action is None, done.errors
    new = card_in(rig, "C0FINANCE")
    moved = settled(rig, ticket.id)
    # The payments chain's DM let them edit a payments refund; the finance route is not theirs.
    assert moved.route.name == "finance" and moved.status == TicketStatus.PENDING
    assert moved.approvals == () and moved.final_args["amount"] == 5000
    assert rig.ledger.decisions(ticket.id)[0].kind == DecisionKind.EDIT
    # Nor can they approve it afterwards, from the new card.
    rig.sandbox.click("U0PAYONCALL", action_id=ACTION_APPROVE, channel="C0FINANCE",
                      message_ts=new.ts)
    wait_ephemeral(rig, "U0PAYONCALL", "route *finance*")
    assert len(rig.ledger.decisions(ticket.id)) == 1
    assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.PENDING
