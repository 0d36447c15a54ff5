"""Thread replies, the on-call DM and private refusals."""

from __future__ import annotations

from datetime import timedelta

from bot.render import (
    ACTION_APPROVE,
    render_already_decided,
    render_escalation_dm,
    render_escalation_note,
    render_execution_result,
    render_expired_notice,
    render_info_answer,
    render_info_request,
    render_refusal,
    render_reminder,
)
from store.models import Route, TicketStatus
from tests.render.render_checks import (
    APPROVER,
    APPROVER2,
    NOW,
    assert_fits_message,
    block,
    everything,
    make_ticket,
    outcome,
    text_of,
)


def test_reminder_says_how_long_who_and_until_when() -> None:
    ticket = make_ticket(route=Route(channel="C1", approvers=(APPROVER, "S0PAYMENTS")))
    message = render_reminder(ticket, timedelta(hours=1, minutes=5))
    assert_fits_message(message)
    text = text_of(message["blocks"][0])
    assert "after *1h 5m*" in text
    assert f"<@{APPROVER}>, <!subteam^S0PAYMENTS>" in text
    assert "<!date^" in text and "nothing runs" in text
    assert ticket.id in everything(message)


def test_escalation_note_lists_who_was_notified() -> None:
    message = render_escalation_note(make_ticket(), 2, [APPROVER, APPROVER2])
    assert_fits_message(message)
    assert text_of(message["blocks"][0]) == (
        f"📟 Escalated to on-call level *2*: notified <@{APPROVER}>, <@{APPROVER2}>."
    )
    nobody = text_of(render_escalation_note(make_ticket(), 3, [])["blocks"][0])
    assert "nobody" in nobody


def test_escalation_dm_is_the_interactive_card_with_an_intro() -> None:
    message = render_escalation_dm(make_ticket(), 2, waited=timedelta(minutes=45), now=NOW)
    assert_fits_message(message)
    intro = text_of(block(message["blocks"], "signoff_oncall"))
    assert intro.startswith("📟 You are on call for *issue_refund* (level 2)")
    assert "*45m*" in intro
    assert block(message["blocks"], "signoff_actions")["elements"][0]["action_id"] == (
        ACTION_APPROVE
    )
    assert message["text"].startswith("You are on call")


def test_execution_result() -> None:
    ok = render_execution_result(make_ticket(status=TicketStatus.EXECUTED,
                                             outcome=outcome(True, "Refund re_9 created")))
    assert text_of(ok["blocks"][0]) == "⚙️ Executed: Refund re_9 created"
    bad = render_execution_result(make_ticket(status=TicketStatus.FAILED,
                                              outcome=outcome(False, "timeout")))
    assert text_of(bad["blocks"][0]) == "💥 Failed: timeout"
    for message in (ok, bad, render_execution_result(make_ticket())):
        assert_fits_message(message)


def test_info_request_and_answer_quote_the_text() -> None:
    asked = render_info_request(make_ticket(), APPROVER, "Which order?\n<!channel>")
    assert_fits_message(asked)
    text = text_of(asked["blocks"][0])
    assert f"<@{APPROVER}> asked the agent" in text
    assert "> Which order?\n> &lt;!channel&gt;" in text
    answer = render_info_answer(make_ticket(), "Order 1042.")
    assert_fits_message(answer)
    assert "> Order 1042." in text_of(answer["blocks"][0])


def test_expired_notice() -> None:
    message = render_expired_notice(make_ticket(status=TicketStatus.EXPIRED))
    assert_fits_message(message)
    assert "nobody decided in time; nothing was executed" in message["text"]


def test_refusals() -> None:
    for reason in (
        "Only members of payments-approvers can decide this request.",
        "You can't approve a request made on your behalf.",
        f"Already approved by <@{APPROVER}> at <!date^1741080600^{{time}}|09:30 UTC>.",
    ):
        message = render_refusal(reason)
        assert_fits_message(message)
        assert reason in message["text"] and reason in text_of(message["blocks"][0])
    assert_fits_message(render_refusal("x" * 10_000))


def test_already_decided_says_by_whom_and_when() -> None:
    ticket = make_ticket(status=TicketStatus.APPROVED, decided_by=APPROVER, decided_at=NOW)
    message = render_already_decided(ticket)
    assert_fits_message(message)
    assert message["text"].startswith(f"Already approved by <@{APPROVER}> <!date^")
    expired = render_already_decided(make_ticket(status=TicketStatus.EXPIRED))
    assert "expired" in expired["text"] and "nothing was executed" in expired["text"]
