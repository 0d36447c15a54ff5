"""What reviewers see follows the ledger: the card is posted and recorded (or its failure
is), updated in place with its DM copies, moved with pointers left behind, and private notes
reach only the person they are for."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.sandbox import SlackSandbox
from bot.slack.surfaces import Surfaces
from store.ledger import Ledger
from store.models import DecisionKind, SlackRef, TicketStatus
from tests.conftest import TicketFactory
from tests.slack.conftest import APPROVALS, PAYMENTS, route


def kinds(ledger: Ledger, ticket_id: str) -> list[str]:
    return [e.kind for e in ledger.audit_events(ticket_id=ticket_id)]


def test_a_posted_card_is_recorded_on_the_ticket(
        surfaces: Surfaces, sandbox: SlackSandbox, ledger: Ledger,
        make_ticket: TicketFactory) -> None:
    ticket = surfaces.post_card(make_ticket())
    (post,) = sandbox.calls("chat.postMessage")
    assert ticket.card is not None and ticket.card.channel == PAYMENTS
    assert ticket.card.ts == post.response["ts"]
    assert ledger.get_ticket(ticket.id).card == ticket.card


def test_a_card_slack_refuses_is_recorded_as_undelivered(
        surfaces: Surfaces, sandbox: SlackSandbox, ledger: Ledger,
        make_ticket: TicketFactory) -> None:
    sandbox.inject_fault("chat.postMessage", error="channel_not_found")
    ticket = surfaces.post_card(make_ticket())
    assert ticket.card is None
    failed = [e for e in ledger.audit_events(ticket_id=ticket.id) if e.kind == "delivery_failed"]
    assert failed and failed[0].data["error"] == "channel_not_found"
    assert ticket.next_action_at is not None  # the chain starts at once


def test_without_a_slack_client_nothing_is_sent_and_that_is_recorded(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    ticket = Surfaces(None, ledger).post_card(make_ticket())
    assert ticket.card is None and "delivery_failed" in kinds(ledger, ticket.id)


def test_refresh_updates_the_card_and_every_dm_copy_in_place(
        surfaces: Surfaces, sandbox: SlackSandbox, slack: WebClient, ledger: Ledger,
        carded: TicketFactory) -> None:
    ticket = carded()
    assert ticket.card is not None
    dm = str(slack.conversations_open(users="U0LEAD")["channel"]["id"])
    ts = str(slack.chat_postMessage(channel=dm, text="copy")["ts"])
    ledger.record_message(ticket.id, SlackRef(role="dm", channel=dm, ts=ts, user="U0LEAD"))
    decided, _ = ledger.record_decision(ticket.id, reviewer="U0LEAD", kind=DecisionKind.REJECT,
                                        reason="not this one", expected_version=ticket.version)
    surfaces.refresh(decided)
    updated = {(c.args["channel"], c.args["ts"]) for c in sandbox.calls("chat.update")}
    assert updated == {(PAYMENTS, ticket.card.ts), (dm, ts)}
    card = sandbox.message(PAYMENTS, ticket.card.ts)
    assert card is not None and not any(b.get("type") == "actions" for b in card.blocks)


def test_tell_reaches_only_its_user_where_they_clicked_or_at_the_card(
        surfaces: Surfaces, sandbox: SlackSandbox, carded: TicketFactory) -> None:
    ticket = carded()
    surfaces.tell("U0OUTSIDER", APPROVALS, "Not yours to decide.")
    surfaces.tell("U0FINOPS", None, "Too late.", ticket)
    surfaces.tell("U0FINOPS", None, "Nowhere to say it.")
    assert [(m.channel, m.text) for m in sandbox.ephemerals("U0OUTSIDER")] == [
        (APPROVALS, "Not yours to decide.")]
    assert [(m.channel, m.text) for m in sandbox.ephemerals("U0FINOPS")] == [
        (PAYMENTS, "Too late.")]


def test_a_move_posts_the_card_in_the_new_channel_and_leaves_a_pointer(
        surfaces: Surfaces, sandbox: SlackSandbox, ledger: Ledger,
        carded: TicketFactory) -> None:
    ticket = carded()
    old = ticket.card
    assert old is not None
    rerouted = ticket.model_copy(update={"route": route("U0LEAD", channel=APPROVALS,
                                                        name="approvals")})
    moved = surfaces.move(rerouted, old, "U0FINOPS")
    assert moved.card is not None and moved.card.channel == APPROVALS
    assert "moved" in kinds(ledger, ticket.id)
    pointer = sandbox.message(PAYMENTS, old.ts)
    assert pointer is not None and not any(b.get("type") == "actions" for b in pointer.blocks)
    assert [m for m in sandbox.thread(PAYMENTS, old.ts) if m.ts != old.ts]  # the note


def test_a_move_slack_refuses_keeps_the_old_card_and_records_the_failure(
        surfaces: Surfaces, sandbox: SlackSandbox, ledger: Ledger,
        carded: TicketFactory) -> None:
    ticket = carded()
    assert ticket.card is not None
    sandbox.inject_fault("chat.postMessage", error="not_in_channel")
    rerouted = ticket.model_copy(update={"route": route("U0LEAD", channel=APPROVALS)})
    after = surfaces.move(rerouted, ticket.card, "U0FINOPS")
    assert after.card == ticket.card and after.status == TicketStatus.PENDING
    assert "delivery_failed" in kinds(ledger, ticket.id) and "moved" not in kinds(
        ledger, ticket.id)
    assert [c.args["ts"] for c in sandbox.calls("chat.update")] == [ticket.card.ts]
