"""A reviewer's decision, from the handler's call to the ledger and back to Slack: what
counts is recorded and shown, and every click that does not count is told why, privately."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.render.refusals import ALREADY_APPROVED_BY_YOU, EXPIRED_CLICK, NO_SUCH_REQUEST
from bot.sandbox import SlackSandbox
from bot.slack.authz import Authorizer
from bot.slack.reviews import Reviews
from bot.slack.surfaces import Surfaces
from escalation.config import load_config
from store.ledger import Ledger
from store.models import DecisionKind, TicketStatus
from tests.conftest import TicketFactory
from tests.slack.conftest import PAYMENTS, route

EXAMPLE = Path(__file__).parents[1] / "fixtures" / "signoff.example.yml"


@pytest.fixture
def reviews(ledger: Ledger, slack: WebClient, surfaces: Surfaces) -> Iterator[Reviews]:
    with ThreadPoolExecutor(1) as pool:
        yield Reviews(ledger, load_config(EXAMPLE), Authorizer(slack), surfaces, pool)


def told(sandbox: SlackSandbox, user: str) -> list[str]:
    return [m.text for m in sandbox.ephemerals(user)]


def test_an_approvers_click_is_recorded_and_the_card_shows_it(
        reviews: Reviews, sandbox: SlackSandbox, carded: TicketFactory) -> None:
    ticket = carded(route=route("U0LEAD"))
    decided = reviews.decide_later(ticket.id, "U0LEAD", DecisionKind.APPROVE,
                                   channel=PAYMENTS, seen=ticket.version).result(timeout=10)
    assert decided is not None and decided.status == TicketStatus.APPROVED
    assert reviews.ledger.get_ticket(ticket.id).decided_by == "U0LEAD"
    assert [c.args["ts"] for c in sandbox.calls("chat.update")] == [
        ticket.card.ts if ticket.card else None]


def test_an_outsiders_click_changes_nothing_and_says_who_decides(
        reviews: Reviews, sandbox: SlackSandbox, carded: TicketFactory) -> None:
    ticket = carded(route=route("U0LEAD"))
    assert reviews.decide(ticket.id, "U0OUTSIDER", DecisionKind.APPROVE, channel=PAYMENTS,
                          seen=ticket.version) is None
    assert reviews.ledger.get_ticket(ticket.id).status == TicketStatus.PENDING
    assert any("Only the approvers" in t and "<@U0LEAD>" in t
               for t in told(sandbox, "U0OUTSIDER"))


def test_a_click_on_a_request_that_does_not_exist_is_told_so(
        reviews: Reviews, sandbox: SlackSandbox) -> None:
    assert reviews.decide("tkt_missing", "U0LEAD", DecisionKind.APPROVE, channel=PAYMENTS,
                          seen=1) is None
    assert told(sandbox, "U0LEAD") == [NO_SUCH_REQUEST]


def test_the_same_approver_twice_is_one_approval(
        reviews: Reviews, sandbox: SlackSandbox, carded: TicketFactory) -> None:
    ticket = carded(route=route("U0LEAD", "U0FINOPS", approvals=2))
    first = reviews.decide(ticket.id, "U0LEAD", DecisionKind.APPROVE, channel=PAYMENTS,
                           seen=ticket.version)
    assert first is not None and first.status == TicketStatus.PENDING
    assert reviews.decide(ticket.id, "U0LEAD", DecisionKind.APPROVE, channel=PAYMENTS,
                          seen=first.version) is None
    assert ALREADY_APPROVED_BY_YOU in told(sandbox, "U0LEAD")
    assert len(reviews.ledger.decisions(ticket.id)) == 1


def test_a_click_after_the_deadline_expires_the_request_and_says_so(
        reviews: Reviews, sandbox: SlackSandbox, carded: TicketFactory) -> None:
    ticket = carded(route=route("U0LEAD"), expires_in=timedelta(seconds=-1))
    assert reviews.decide(ticket.id, "U0LEAD", DecisionKind.APPROVE, channel=PAYMENTS,
                          seen=ticket.version) is None
    assert reviews.ledger.get_ticket(ticket.id).status == TicketStatus.EXPIRED
    assert EXPIRED_CLICK in told(sandbox, "U0LEAD")
    assert sandbox.calls("chat.update"), "the card shows the expiry"


def test_a_click_on_an_older_view_changes_nothing(
        reviews: Reviews, sandbox: SlackSandbox, carded: TicketFactory) -> None:
    ticket = carded(route=route("U0LEAD"))
    assert reviews.decide(ticket.id, "U0LEAD", DecisionKind.APPROVE, channel=PAYMENTS,
                          seen=ticket.version - 1) is None
    assert reviews.ledger.get_ticket(ticket.id).status == TicketStatus.PENDING
    assert any("changed since you saw it" in t for t in told(sandbox, "U0LEAD"))


def test_a_question_goes_to_the_cards_thread(
        reviews: Reviews, sandbox: SlackSandbox, carded: TicketFactory) -> None:
    ticket = carded(route=route("U0LEAD"))
    asked = reviews.decide(ticket.id, "U0LEAD", DecisionKind.REQUEST_INFO, channel=PAYMENTS,
                           seen=ticket.version, reason="which invoice?")
    assert asked is not None and asked.status == TicketStatus.NEEDS_INFO
    assert ticket.card is not None
    replies = [m for m in sandbox.thread(PAYMENTS, ticket.card.ts) if m.ts != ticket.card.ts]
    assert any("which invoice?" in m.text + str(m.blocks) for m in replies)


def test_start_hands_back_the_ticket_only_to_who_may_decide_it_now(
        reviews: Reviews, sandbox: SlackSandbox, carded: TicketFactory) -> None:
    ticket = carded(route=route("U0LEAD"))
    started = reviews.start("U0LEAD", ticket.id, DecisionKind.REJECT, channel=PAYMENTS,
                            seen=ticket.version)
    assert started is not None and started.id == ticket.id
    assert reviews.start("U0OUTSIDER", ticket.id, DecisionKind.REJECT, channel=PAYMENTS,
                         seen=ticket.version) is None
    assert told(sandbox, "U0OUTSIDER")
    reviews.decide(ticket.id, "U0LEAD", DecisionKind.REJECT, channel=PAYMENTS,
                   seen=ticket.version, reason="no")
    assert reviews.start("U0LEAD", ticket.id, DecisionKind.APPROVE, channel=PAYMENTS,
                         seen=ticket.version + 1) is None
    assert any("Already rejected" in t for t in told(sandbox, "U0LEAD"))
