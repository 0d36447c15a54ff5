"""Every (status, event) pair through the real ledger: the new status or a typed error."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from store.breakglass import BreakGlassTerms
from store.db import make_engine, migrate
from store.errors import AlreadyDecided, TransitionRefused
from store.ledger import Ledger
from store.models import DecisionKind, NewTicket, Route, Ticket, TicketStatus
from store.states import Event, next_status, sources
from store.tables import TicketRow


@pytest.fixture(scope="module")
def led(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('sm')) / 'sm.db'}"
    engine = make_engine(url)
    migrate(engine)
    ledger = Ledger(engine)
    yield ledger
    ledger.close()


def _open(led: Ledger, status: TicketStatus, *, required: int, expired: bool) -> Ticket:
    offset = timedelta(seconds=-1) if expired else timedelta(hours=1)
    ticket, _ = led.create_ticket(NewTicket(
        action="issue_refund", args={"amount": 10}, requested_by="U0REQ",
        route=Route(channel="C1", approvals_required=required), policy_version="v1",
        expires_at=led.db_now() + offset,
    ))
    if status == TicketStatus.APPROVED and not expired:
        # Approved for real: execution refuses an approval its audit events do not show.
        for reviewer in ("U0FIRST", "U0SECOND")[:required]:
            approved, _ = led.record_decision(ticket.id, reviewer=reviewer,
                                              kind=DecisionKind.APPROVE)
        assert approved.status == status
        return approved
    with led.engine.begin() as conn:  # put the ticket straight into the status under test
        conn.execute(update(TicketRow).where(TicketRow.id == ticket.id)
                     .values(status=status.value))
    return ticket


Apply = Callable[[Ledger, str], Ticket]


def _decide(kind: DecisionKind, args: dict[str, Any] | None = None) -> Apply:
    def run(led: Ledger, tid: str) -> Ticket:
        return led.record_decision(tid, reviewer="U0LEAD", kind=kind, reason="r", args=args)[0]
    return run


APPLY: dict[Event, Apply] = {
    Event.APPROVE_PARTIAL: _decide(DecisionKind.APPROVE),
    Event.APPROVE: _decide(DecisionKind.APPROVE),
    Event.EDIT: _decide(DecisionKind.EDIT, {"amount": 9}),
    Event.EDIT_PARTIAL: _decide(DecisionKind.EDIT, {"amount": 9}),
    Event.REJECT: _decide(DecisionKind.REJECT),
    Event.REQUEST_INFO: _decide(DecisionKind.REQUEST_INFO),
    Event.TAKE_OVER: _decide(DecisionKind.TAKE_OVER),
    Event.ANSWER: lambda led, tid: led.answer_info(tid, actor="agent", text="because"),
    Event.CANCEL: lambda led, tid: led.cancel(tid, actor="agent", reason="not needed"),
    Event.EXPIRE: lambda led, tid: led.expire(tid),
    Event.START_EXECUTION: lambda led, tid: led.start_execution(tid, action="issue_refund",
                                                                  args={"amount": 10},
                                                                  actor="agent"),
    Event.FINISH_OK: lambda led, tid: led.finish_execution(tid, ok=True, actor="agent"),
    Event.FINISH_FAILED: lambda led, tid: led.finish_execution(tid, ok=False, actor="agent",
                                                               error="boom"),
    Event.LOSE_EXECUTION: lambda led, tid: led.lose_execution(tid, at=led.db_now()),
    Event.RESOLVE_OK: lambda led, tid: led.resolve_outcome(tid, ok=True, actor="U0OPS",
                                                           note="the refund is in Stripe"),
    Event.RESOLVE_FAILED: lambda led, tid: led.resolve_outcome(tid, ok=False, actor="U0OPS",
                                                               note="no refund in Stripe"),
    Event.BREAK_GLASS: lambda led, tid: led.break_glass(
        tid, responder="U0LEAD", justification="outage", expected_version=led.get_ticket(
            tid).version, terms=BreakGlassTerms(rule="r", witness_within=timedelta(minutes=15),
                                                 policy_version="v1"))[0],
}

PAIRS = [(s, e) for s in TicketStatus for e in Event]


def test_table_covers_every_event() -> None:
    assert set(APPLY) == set(Event)
    assert all(sources(e) for e in Event), "every event must be possible from somewhere"


@pytest.mark.parametrize(("status", "event"), PAIRS, ids=[f"{s}-{e}" for s, e in PAIRS])
def test_transition(led: Ledger, status: TicketStatus, event: Event) -> None:
    required = 2 if event in (Event.APPROVE_PARTIAL, Event.EDIT_PARTIAL) else 1
    ticket = _open(led, status, required=required, expired=event == Event.EXPIRE)
    expected = next_status(status, event)
    if expected is None:
        error = AlreadyDecided if not status.is_open else TransitionRefused
        with pytest.raises(error) as info:
            APPLY[event](led, ticket.id)
        assert info.value.status == status.value  # the error says what the ticket is now
        after = led.get_ticket(ticket.id)
        assert (after.status, after.version) == (status, ticket.version), "nothing changed"
    else:
        result = APPLY[event](led, ticket.id)
        assert result.status == expected
        assert result.version == ticket.version + 1
        assert led.get_ticket(ticket.id).status == expected

