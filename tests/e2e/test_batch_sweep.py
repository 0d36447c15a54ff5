"""The sweep over a batch card: members due together share one reminder reply and one
escalation note per level, while each member keeps its own steps and audit events. Real
sandbox Slack calls, the bot's own notifier, a real database; time is the sweep's ``at``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.render import REASON_BLOCK
from bot.render.batch import ACTION_BATCH_ITEM, ACTION_BATCH_SHOW_ALL, item_value
from escalation.config import parse_config
from escalation.engine import EscalationEngine, TickReport
from store.ledger import Ledger
from store.models import Ticket, TicketStatus
from store.tables import EscalationStepRow
from tests.e2e.conftest import Rig, running_rig, workspace
from tests.e2e.test_batch_review import BATCHED, refund, wait_for

# payments-oncall: a reminder every 5m, level 1 (U0PAYONCALL) after 10m.
FIRST_REMINDER = timedelta(minutes=5, seconds=1)
LEVEL_ONE = timedelta(minutes=10, seconds=1)
NEXT_REMINDER = timedelta(minutes=15, seconds=1)


@pytest.fixture
def rig(ledger: Ledger) -> Iterator[Rig]:
    with running_rig(ledger, parse_config(BATCHED, "signoff.yml"), workspace()) as r:
        yield r


def four(rig: Rig) -> list[Ticket]:
    tickets = [refund(rig, amount) for amount in (20, 35, 80, 55)]
    cards = {rig.ledger.get_ticket(t.id).card for t in tickets}
    assert len(cards) == 1 and None not in cards, "the four share one batch card"
    return tickets


def tick(rig: Rig, tickets: list[Ticket], after: timedelta) -> TickReport:
    sweep: EscalationEngine = rig.service.engine()
    return sweep.tick(at=max(t.created_at for t in tickets) + after)


def thread_posts(rig: Rig, ticket: Ticket) -> list[Any]:
    card_ts = rig.card_ts(ticket.id)
    return [c for c in rig.sandbox.calls("chat.postMessage")
            if c.args.get("thread_ts") == card_ts and c.ok]


def text_of(call: Any) -> str:
    return str(call.args.get("text", "")) + str(call.args.get("blocks", ""))


def events(rig: Rig, ticket: Ticket, kind: str) -> list[Any]:
    return [e for e in rig.ledger.audit_events(ticket_id=ticket.id) if e.kind == kind]


def steps(rig: Rig, ticket: Ticket, kind: str) -> list[EscalationStepRow]:
    with rig.ledger.engine.connect() as conn:
        return list(conn.execute(select(EscalationStepRow).where(
            EscalationStepRow.ticket_id == ticket.id, EscalationStepRow.kind == kind)
            .order_by(EscalationStepRow.id)).all())


def test_four_members_due_together_get_one_reminder(rig: Rig) -> None:
    tickets = four(rig)
    before = len(thread_posts(rig, tickets[0]))
    report = tick(rig, tickets, FIRST_REMINDER)
    posts = thread_posts(rig, tickets[0])[before:]
    assert len(posts) == 1, "one reply for the card, not one per request"
    assert "4* requests on this card have waited" in text_of(posts[0])
    assert report.reminders == 4 and report.failures == 0
    for t in tickets:  # the ledger stays per ticket
        assert len(events(rig, t, "reminded")) == 1
        assert [s.status for s in steps(rig, t, "remind")] == ["sent"]
    tick(rig, tickets, FIRST_REMINDER)  # the same instant again: nothing is sent twice
    assert len(thread_posts(rig, tickets[0])) == before + 1
    assert all(len(events(rig, t, "reminded")) == 1 for t in tickets)


def reject_on_card(rig: Rig, ticket: Ticket) -> None:
    """Reject one listed request on its own from the batch card ("Show all" → its menu)."""
    assert rig.sandbox.click("U0PAYLEAD", action_id=ACTION_BATCH_SHOW_ALL).ok
    shown = rig.sandbox.wait_until(lambda: rig.sandbox.views("U0PAYLEAD"))
    index = next(i for i, b in enumerate(shown[-1].blocks)
                 if ticket.id in str(b.get("text", ""))) - 1  # after the intro context
    rig.sandbox.select("U0PAYLEAD", ACTION_BATCH_ITEM, item_value("reject", ticket),
                       block_id=f"signoff_batch_all_{index}", view_id=shown[-1].id)
    rig.sandbox.wait_until(lambda: len(rig.sandbox.views("U0PAYLEAD")) > 1 or None)
    assert rig.sandbox.submit("U0PAYLEAD", {REASON_BLOCK: {"signoff_reason_value":
                                                           "already refunded"}}).ok
    wait_for(lambda: rig.ledger.get_ticket(ticket.id).status == TicketStatus.REJECTED)
    rig.sandbox.close_view("U0PAYLEAD", clear=True)


def test_a_member_decided_before_the_sweep_is_not_counted(rig: Rig) -> None:
    tickets = four(rig)
    reject_on_card(rig, tickets[2])
    before = len(thread_posts(rig, tickets[0]))
    tick(rig, tickets, FIRST_REMINDER)
    posts = thread_posts(rig, tickets[0])[before:]
    assert len(posts) == 1 and "3* requests on this card have waited" in text_of(posts[0])
    assert events(rig, tickets[2], "reminded") == []
    assert all(len(events(rig, t, "reminded")) == 1 for t in tickets if t is not tickets[2])


def test_a_member_decided_after_the_claim_is_not_counted(rig: Rig) -> None:
    claimed = four(rig)  # as the sweep read them, all pending
    reject_on_card(rig, claimed[0])
    before = len(thread_posts(rig, claimed[1]))
    at = max(t.created_at for t in claimed) + FIRST_REMINDER
    rig.service.engine().notifier.remind_batch(claimed, [at - t.created_at for t in claimed])
    (post,) = thread_posts(rig, claimed[1])[before:]
    assert "3* requests on this card have waited" in text_of(post)


def test_a_failed_shared_reminder_fails_each_member_as_alone(rig: Rig) -> None:
    tickets = four(rig)
    before = len(thread_posts(rig, tickets[0]))
    rig.sandbox.inject_fault("chat.postMessage", error="internal_error")
    report = tick(rig, tickets, FIRST_REMINDER)
    assert len(thread_posts(rig, tickets[0])) == before
    assert report.failures == 4
    for t in tickets:  # as for a lone request: recorded, audited, not retried
        assert len(events(rig, t, "reminded")) == 1
        (failed,) = events(rig, t, "delivery_failed")
        assert failed.data["target"] == "remind" and failed.data["will_retry"] is False
        assert [s.status for s in steps(rig, t, "remind")] == ["failed"]
    # Nothing is lost: the chain goes on, and the next reminder reaches all four at once.
    tick(rig, tickets, LEVEL_ONE)
    before = len(thread_posts(rig, tickets[0]))
    tick(rig, tickets, NEXT_REMINDER)
    posts = thread_posts(rig, tickets[0])[before:]
    assert len(posts) == 1 and "4* requests on this card" in text_of(posts[0])
    assert all(len(events(rig, t, "reminded")) == 2 for t in tickets)


def test_one_escalation_note_per_level(rig: Rig) -> None:
    tickets = four(rig)
    tick(rig, tickets, FIRST_REMINDER)
    before = len(thread_posts(rig, tickets[0]))
    report = tick(rig, tickets, LEVEL_ONE)
    posts = thread_posts(rig, tickets[0])[before:]
    assert len(posts) == 1
    assert "4* requests on this card escalated to on-call level *1*" in text_of(posts[0])
    assert "U0PAYONCALL" in text_of(posts[0])
    assert report.escalations == 4
    for t in tickets:
        (escalated,) = events(rig, t, "escalated")
        assert escalated.data["targets"] == ["U0PAYONCALL"]
    assert len(rig.sandbox.messages(rig.sandbox.dm_channel("U0PAYONCALL"))) == 4


def test_a_retryable_dm_failure_leaves_each_member_retrying(rig: Rig) -> None:
    tickets = four(rig)
    tick(rig, tickets, FIRST_REMINDER)
    rig.sandbox.inject_fault("conversations.open", times=4, error="internal_error")
    tick(rig, tickets, LEVEL_ONE)
    retry_at: list[datetime] = []
    for t in tickets:
        (step,) = steps(rig, t, "notify")
        assert (step.status, step.pending) == ("retrying", ["U0PAYONCALL"])
        retry_at.append(step.retry_at)
    sweep: EscalationEngine = rig.service.engine()
    report = sweep.tick(at=max(retry_at) + timedelta(seconds=1))
    assert report.retries == 4
    assert all(steps(rig, t, "notify")[0].status == "sent" for t in tickets)
    assert len(rig.sandbox.messages(rig.sandbox.dm_channel("U0PAYONCALL"))) == 4
