"""The sweep through the real Slack notifier: reminders in the thread, on-call DMs whose
buttons count, and expiry shown on the card."""

from __future__ import annotations

from datetime import timedelta

from bot.render import ACTION_APPROVE
from escalation.engine import EscalationEngine
from store.models import TicketStatus
from tests.e2e.conftest import Rig
from tests.e2e.test_reviews import refund, settled


def engine(rig: Rig) -> EscalationEngine:
    return rig.service.engine()  # the sweep as serve builds it


def test_reminder_then_oncall_dm_then_a_decision_from_the_dm(rig: Rig) -> None:
    ticket = refund(rig)  # payments-oncall: remind every 5m, U0PAYONCALL after 10m
    sweep = engine(rig)
    sweep.tick(at=ticket.created_at + timedelta(minutes=5, seconds=1))
    card_ts = rig.card_ts(ticket.id)
    replies = [m for m in rig.sandbox.thread("C0PAYMENTS", card_ts) if m.ts != card_ts]
    assert len(replies) == 1 and "waiting" in (replies[0].text + str(replies[0].blocks)).lower()

    sweep.tick(at=ticket.created_at + timedelta(minutes=10, seconds=1))
    dm = rig.sandbox.dm_channel("U0PAYONCALL")
    dms = rig.sandbox.messages(dm)
    assert len(dms) == 1 and any(b.get("type") == "actions" for b in dms[0].blocks)
    sweep.tick(at=ticket.created_at + timedelta(minutes=10, seconds=2))
    assert len(rig.sandbox.messages(dm)) == 1, "a level is DM'd once"

    rig.sandbox.click("U0PAYONCALL", action_id=ACTION_APPROVE, channel=dm)
    after = settled(rig, ticket.id)
    assert after.status == TicketStatus.APPROVED and after.decided_by == "U0PAYONCALL"
    rig.sandbox.wait_until(lambda: rig.sandbox.calls("chat.update"))
    sweep.tick(at=ticket.created_at + timedelta(minutes=40))
    assert len(rig.sandbox.messages(rig.sandbox.dm_channel("U0PAYMGR"))) == 0


def test_expiry_updates_the_card_and_tells_the_requester(rig: Rig) -> None:
    from sqlalchemy import update

    from store.db import db_now
    from store.tables import TicketRow

    ticket = refund(rig)
    with rig.ledger.engine.begin() as conn:  # its hour has passed (by the database's clock)
        conn.execute(update(TicketRow).where(TicketRow.id == ticket.id)
                     .values(expires_at=db_now(), next_action_at=db_now()))
    engine(rig).tick(at=ticket.created_at + timedelta(hours=1, seconds=1))
    after = rig.ledger.get_ticket(ticket.id)
    assert after.status == TicketStatus.EXPIRED
    card = rig.sandbox.message("C0PAYMENTS", rig.card_ts(ticket.id))
    assert card is not None and "Expired" in str(card.blocks)
    assert not any(b.get("type") == "actions" for b in card.blocks)
    told = rig.sandbox.messages(rig.sandbox.dm_channel("U0REQUESTER"))
    assert told and "nothing was executed" in (told[0].text + str(told[0].blocks))
