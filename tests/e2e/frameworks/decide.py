"""Reviewers' clicks and the passing of time, as the end-to-end tests make them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from bot.render import ACTION_APPROVE, ACTION_EDIT, ACTION_REJECT, REASON_BLOCK
from store.db import db_now
from store.models import Ticket, TicketStatus
from store.tables import TicketRow
from tests.e2e.conftest import Rig
from tests.e2e.test_reviews import settled


def only_ticket(rig: Rig) -> Ticket:
    tickets = rig.ledger.list_tickets()
    assert len(tickets) == 1, [t.action for t in tickets]
    return tickets[0]


def approve(rig: Rig, ticket: Ticket) -> Ticket:
    return approve_as(rig, ticket, "U0PAYLEAD")


def open_modal(rig: Rig, user: str, action_id: str, channel: str) -> None:
    """Click until the modal opens: as in Slack, a trigger_id the bot could not use within
    3 s (a loaded machine) opens nothing, and the reviewer clicks again."""
    for _ in range(3):
        assert rig.sandbox.click(user, action_id=action_id, channel=channel).ok
        try:
            rig.sandbox.wait_until(lambda: rig.sandbox.views(user))
            return
        except TimeoutError:
            continue
    raise AssertionError(f"the {action_id} modal never opened for {user}")


def reject(rig: Rig, ticket: Ticket, reason: str) -> Ticket:
    open_modal(rig, "U0PAYLEAD", ACTION_REJECT, ticket.route.channel)
    done = rig.sandbox.submit("U0PAYLEAD", {REASON_BLOCK: {"signoff_reason_value": reason}})
    assert done.ok
    return settled(rig, ticket.id)


def edit(rig: Rig, ticket: Ticket, values: dict[str, str]) -> Ticket:
    return edit_as(rig, ticket, "U0FINOPS", values)


def expire(rig: Rig, ticket: Ticket) -> Ticket:
    """Its deadline passes (by the database's clock) and the sweep runs."""
    with rig.ledger.engine.begin() as conn:
        conn.execute(update(TicketRow).where(TicketRow.id == ticket.id)
                     .values(expires_at=db_now(), next_action_at=db_now()))
    rig.service.engine().tick(at=ticket.created_at + timedelta(hours=2))
    after = rig.ledger.get_ticket(ticket.id)
    assert after.status == TicketStatus.EXPIRED
    return after


def cards(rig: Rig) -> list[dict[str, object]]:
    """Every card posted (thread replies left out)."""
    return [c.args for c in rig.sandbox.calls("chat.postMessage")
            if c.ok and "thread_ts" not in c.args]


def approve_as(rig: Rig, ticket: Ticket, user: str) -> Ticket:
    rig.sandbox.click(user, action_id=ACTION_APPROVE, channel=ticket.route.channel)
    return settled(rig, ticket.id)


def edit_as(rig: Rig, ticket: Ticket, user: str, values: dict[str, str]) -> Ticket:
    open_modal(rig, user, ACTION_EDIT, ticket.route.channel)
    done = rig.sandbox.submit(user, {f"arg:{name}": {"signoff_edit_value": value}
                                     for name, value in values.items()})
    assert done.ok and done.response_action is None, done.errors
    return settled(rig, ticket.id)
