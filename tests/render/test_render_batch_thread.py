"""The thread replies that speak for several requests of a batch card: what they say, and
that they fit Slack's limits and pass both Block Kit validators whatever the tickets hold."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.render.batch_thread import render_batch_escalation_note, render_batch_reminder
from bot.sandbox.blockkit import validate_message_blocks
from store.models import Route, Ticket
from tests.render.render_checks import APPROVER, NOW, assert_fits_message, make_ticket
from tests.render.test_render_limits import FAST, tickets
from tests.render.test_slack_models import sdk_errors


def members(count: int) -> list[Ticket]:
    return [make_ticket(id=f"t{i:02d}", expires_at=NOW + timedelta(minutes=30 + i),
                        route=Route(channel="C1", approvers=(APPROVER, "S0GROUP")))
            for i in range(count)]


def test_reminder_counts_the_waiting_and_names_the_shortest_wait() -> None:
    four = members(4)
    text = render_batch_reminder(four, [timedelta(minutes=m) for m in (7, 5, 6, 9)], 4)["text"]
    assert "*4* requests on this card have waited *5m* or longer" in text
    assert "in all" not in text and f"<@{APPROVER}>" in text and "<!subteam^S0GROUP>" in text
    one = render_batch_reminder(four[:1], [timedelta(minutes=5)], 3)["text"]
    assert "*1* request on this card has waited" in one
    assert "3 requests on the card are waiting in all" in one


def test_escalation_note_names_the_level_and_the_people() -> None:
    text = render_batch_escalation_note(members(3), 2, ["U0ANA", "S0TEAM"])["text"]
    assert "*3* requests on this card escalated to on-call level *2*" in text
    assert "<@U0ANA>" in text and "<!subteam^S0TEAM>" in text
    nobody = render_batch_escalation_note(members(2), 1, [])["text"]
    assert "nobody (no one is on call at this level)" in nobody


def test_many_members_list_a_few_ids() -> None:
    blocks = render_batch_reminder(members(12), [timedelta(minutes=5)] * 12, 12)["blocks"]
    shown = str(blocks[-1])
    assert "t00" in shown and "t04" in shown and "t05" not in shown and "7 more" in shown


@FAST
@given(st.lists(tickets(), min_size=1, max_size=6), st.lists(st.text(max_size=30), max_size=40))
def test_shared_replies_fit_whatever_the_tickets(group: list[Ticket], people: list[str]) -> None:
    waited = [timedelta(seconds=37 * i) for i in range(len(group))]
    for message in (render_batch_reminder(group, waited, len(group) + 3),
                    render_batch_escalation_note(group, 2, people)):
        assert_fits_message(message)
        assert [str(e) for e in validate_message_blocks(message["blocks"])] == []
        assert sdk_errors(blocks=message["blocks"]) == []
