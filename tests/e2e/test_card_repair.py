"""A card whose shown version is behind its ticket is repaired: by the next sweep, or by the
click of somebody who still saw it live. On-call DM copies follow decisions and expiry.

Real sandbox, the real Bolt app behind a real HTTP server, signed clicks, a real database.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from bot.render import ACTION_APPROVE
from bot.sandbox import Message
from bot.slack.surfaces import Surfaces
from store.db import db_now
from store.models import DecisionKind, TicketStatus
from store.tables import TicketRow
from tests.e2e.conftest import Rig
from tests.e2e.test_escalation_slack import engine
from tests.e2e.test_reviews import refund, settled, wait_ephemeral


def live(msg: Message | None) -> bool:
    """Does the message still offer decision buttons?"""
    return msg is not None and any(b.get("type") == "actions" for b in msg.blocks)


def shown(msg: Message) -> str:
    return msg.text + str(msg.blocks)


def test_the_sweep_repairs_a_card_whose_update_failed(rig: Rig) -> None:
    ticket = refund(rig)
    ts = rig.card_ts(ticket.id)
    rig.sandbox.inject_fault("chat.update", times=1, error="internal_error")
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    approved = settled(rig, ticket.id)
    assert approved.status == TicketStatus.APPROVED
    rig.sandbox.wait_until(lambda: rig.sandbox.calls("chat.update"))
    assert live(rig.sandbox.message("C0PAYMENTS", ts)), "the failed update left it live"
    behind = rig.ledger.get_ticket(ticket.id)
    assert behind.shown_version is not None and behind.shown_version < behind.version

    report = engine(rig).tick(at=ticket.created_at + timedelta(seconds=1))
    assert report.repaired == 1
    card = rig.sandbox.message("C0PAYMENTS", ts)
    assert card is not None and not live(card) and "Approved" in shown(card)
    assert rig.ledger.get_ticket(ticket.id).shown_version == behind.version
    assert engine(rig).tick(at=ticket.created_at + timedelta(seconds=2)).repaired == 0


def test_the_sweep_repairs_a_card_after_a_crash_before_its_update(rig: Rig) -> None:
    ticket = refund(rig)
    ts = rig.card_ts(ticket.id)
    # The decision committed, then the process died before any chat.update.
    rig.ledger.record_decision(ticket.id, reviewer="U0PAYLEAD", kind=DecisionKind.REJECT,
                               reason="duplicate")
    assert live(rig.sandbox.message("C0PAYMENTS", ts))
    engine(rig).tick(at=ticket.created_at + timedelta(seconds=1))
    card = rig.sandbox.message("C0PAYMENTS", ts)
    assert card is not None and not live(card) and "Rejected" in shown(card)


def test_an_already_decided_click_refreshes_the_stale_card(rig: Rig) -> None:
    ticket = refund(rig)
    ts = rig.card_ts(ticket.id)
    rig.sandbox.inject_fault("chat.update", times=1, error="internal_error")
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    settled(rig, ticket.id)
    rig.sandbox.wait_until(lambda: rig.sandbox.calls("chat.update"))
    assert live(rig.sandbox.message("C0PAYMENTS", ts))

    rig.sandbox.click("U0FINOPS", action_id=ACTION_APPROVE, channel="C0PAYMENTS",
                      message_ts=ts)
    wait_ephemeral(rig, "U0FINOPS", "Already approved")
    rig.sandbox.wait_until(lambda: not live(rig.sandbox.message("C0PAYMENTS", ts)))
    assert len(rig.ledger.decisions(ticket.id)) == 1


def test_oncall_dm_copies_show_expiry_without_buttons(rig: Rig) -> None:
    ticket = refund(rig)  # payments-oncall: U0PAYONCALL after 10m, expires after 1h
    sweep = engine(rig)
    sweep.tick(at=ticket.created_at + timedelta(minutes=10, seconds=1))
    dm = rig.sandbox.dm_channel("U0PAYONCALL")
    (copy,) = rig.sandbox.messages(dm)
    assert live(copy) and "still waiting" in shown(copy)

    with rig.ledger.engine.begin() as conn:  # its hour has passed (by the database's clock)
        conn.execute(update(TicketRow).where(TicketRow.id == ticket.id)
                     .values(expires_at=db_now(), next_action_at=db_now()))
    sweep.tick(at=ticket.created_at + timedelta(hours=1, seconds=1))
    assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.EXPIRED
    after = rig.sandbox.message(dm, copy.ts)
    assert after is not None and not live(after)
    assert "still waiting" not in shown(after) and "Expired" in shown(after)


def test_a_refresh_rendered_from_an_older_version_renders_the_newest(rig: Rig) -> None:
    """Two refreshes of one card may reach Slack out of order: the one that rendered an
    older version than the ticket's notices, and renders the newest again."""
    ticket = refund(rig)
    ts = rig.card_ts(ticket.id)
    decided, _ = rig.ledger.record_decision(ticket.id, reviewer="U0PAYLEAD",
                                            kind=DecisionKind.REJECT, reason="duplicate")
    seen = rig.ledger.get_ticket(ticket.id).model_copy(
        update={"version": 1, "status": TicketStatus.PENDING})
    assert Surfaces(rig.slack, rig.ledger).refresh(seen)
    card = rig.sandbox.message("C0PAYMENTS", ts)
    assert card is not None and not live(card) and "Rejected" in shown(card)
    assert rig.ledger.get_ticket(ticket.id).shown_version == decided.version
