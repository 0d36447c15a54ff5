"""Issue 5's end-to-end cases: every click is a real signed request to the real bot."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import pytest
from pydantic import BaseModel, Field

from bot import ApprovalRejected
from bot.render import (
    ACTION_APPROVE,
    ACTION_EDIT,
    ACTION_REJECT,
    ACTION_REQUEST_INFO,
    QUESTION_BLOCK,
    REASON_BLOCK,
)
from bot.sandbox import Forgery
from store.models import DecisionKind, Ticket, TicketStatus
from tests.e2e.conftest import Rig


class RefundArgs(BaseModel):
    amount: int = Field(ge=1, le=100_000)
    customer: str = Field(pattern=r"^cus_[a-z0-9]+$")


def refund(rig: Rig, amount: int = 120, **kw: Any) -> Ticket:
    return rig.client.request("issue_refund", {"amount": amount, "customer": "cus_42"},
                              reason="customer was double charged",
                              requested_by="U0REQUESTER", args_model=RefundArgs, **kw)


def settled(rig: Rig, ticket_id: str, *, decisions: int = 1) -> Ticket:
    """Handlers finish after the ack: wait for the ledger, not for time."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if len(rig.ledger.decisions(ticket_id)) >= decisions:
            return rig.ledger.get_ticket(ticket_id)
        time.sleep(0.01)
    raise AssertionError(f"ticket {ticket_id} got no decision")


def ephemeral_texts(rig: Rig, user: str) -> list[str]:
    return [m.text for m in rig.sandbox.ephemerals(user)]


def wait_ephemeral(rig: Rig, user: str, needle: str) -> str:
    return rig.sandbox.wait_until(
        lambda: next((t for t in ephemeral_texts(rig, user) if needle in t), None))


def test_reject_needs_a_reason(rig: Rig) -> None:
    ticket = refund(rig)
    opened = rig.sandbox.click("U0PAYLEAD", action_id=ACTION_REJECT, channel="C0PAYMENTS")
    assert opened.ok
    rig.sandbox.wait_until(lambda: rig.sandbox.views("U0PAYLEAD"))
    blank = rig.sandbox.submit("U0PAYLEAD", {REASON_BLOCK: {"signoff_reason_value": "   "}})
    assert blank.response_action == "errors" and REASON_BLOCK in blank.errors
    assert rig.ledger.decisions(ticket.id) == []
    done = rig.sandbox.submit("U0PAYLEAD", {REASON_BLOCK: {"signoff_reason_value":
                                                           "refund already issued"}})
    assert done.ok and done.response_action is None
    after = settled(rig, ticket.id)
    assert after.status == TicketStatus.REJECTED
    with pytest.raises(ApprovalRejected) as info:
        rig.client.execute(ticket.id, lambda **kw: kw, action="issue_refund")
    assert info.value.reason == "refund already issued" and info.value.reviewer == "U0PAYLEAD"


def test_edit_shows_field_errors_then_runs_exactly_the_edit(rig: Rig) -> None:
    ran: list[dict[str, Any]] = []
    gated = rig.client.gate("issue_refund", args_model=RefundArgs, mode="defer",
                            requested_by="U0REQUESTER")(lambda **kw: ran.append(kw) or "ok")
    from bot import ApprovalPending

    with pytest.raises(ApprovalPending) as pending:
        gated(amount=120, customer="cus_42", _reason="double charge")
    ticket_id = pending.value.ticket_id
    assert ticket_id is not None
    assert rig.sandbox.click("U0FINOPS", action_id=ACTION_EDIT, channel="C0PAYMENTS").ok
    rig.sandbox.wait_until(lambda: rig.sandbox.views("U0FINOPS"))
    # Bounds travel into the number input, so Slack's own client refuses 0 ...
    low = rig.sandbox.submit("U0FINOPS", {"arg:amount": {"signoff_edit_value": "0"}})
    assert not low.delivered and "arg:amount" in low.errors
    # ... and what only the model knows comes back from the bot as a field error.
    bad = rig.sandbox.submit("U0FINOPS", {"arg:amount": {"signoff_edit_value": "80"},
                                          "arg:customer": {"signoff_edit_value": "bob"}})
    assert bad.response_action == "errors" and "arg:customer" in bad.errors
    assert rig.ledger.decisions(ticket_id) == []
    good = rig.sandbox.submit("U0FINOPS", {"arg:customer": {"signoff_edit_value": "cus_42"}})
    assert good.ok and good.response_action is None
    after = settled(rig, ticket_id)
    assert after.status == TicketStatus.APPROVED
    assert after.final_args == {"amount": 80, "customer": "cus_42"}
    decision = rig.ledger.decisions(ticket_id)[0]
    assert decision.kind == DecisionKind.EDIT and decision.args_hash == after.final_args_hash
    assert gated.resume(ticket_id) == "ok"
    assert ran == [{"amount": 80, "customer": "cus_42"}]
    card = rig.sandbox.wait_until(lambda: next(
        (m for m in rig.sandbox.messages("C0PAYMENTS")
         if m.ts == rig.card_ts(ticket_id) and "80" in str(m.blocks)), None))
    assert "120" in str(card.blocks)  # the diff shows before → after


def test_two_person_rule(rig: Rig) -> None:
    ticket = refund(rig, amount=5000)  # critical: two distinct approvers
    assert ticket.tier.value == "critical" and ticket.route.approvals_required == 2
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    assert settled(rig, ticket.id).status == TicketStatus.PENDING
    card = rig.sandbox.wait_until(lambda: next(
        (m for m in rig.sandbox.messages("C0PAYMENTS") if "1 of 2" in str(m.blocks)), None))
    assert card.ts == rig.card_ts(ticket.id)
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    wait_ephemeral(rig, "U0PAYLEAD", "already approved")
    assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.PENDING
    rig.sandbox.click("U0FINOPS", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    after = settled(rig, ticket.id, decisions=2)
    assert after.status == TicketStatus.APPROVED
    assert set(after.approvals) == {"U0PAYLEAD", "U0FINOPS"}


def test_self_approval_and_outsiders_are_refused(rig: Rig) -> None:
    ticket = rig.client.request("issue_refund", {"amount": 120, "customer": "c"},
                                reason="r", requested_by="U0PAYLEAD")  # an approver asks
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    wait_ephemeral(rig, "U0PAYLEAD", "on your behalf")
    rig.sandbox.click("U0OUTSIDER", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    wait_ephemeral(rig, "U0OUTSIDER", "Only the approvers")
    rig.sandbox.click("U0OUTSIDER", action_id=ACTION_REJECT, channel="C0PAYMENTS")
    rig.sandbox.wait_until(lambda: len(ephemeral_texts(rig, "U0OUTSIDER")) >= 2)
    assert rig.sandbox.views("U0OUTSIDER") == []  # refused before any modal opened
    assert rig.ledger.decisions(ticket.id) == []
    assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.PENDING


def test_group_members_may_decide(rig: Rig) -> None:
    ticket = rig.client.request("restart_service", {"service": "api"}, reason="stuck",
                                requested_by="U0REQUESTER")  # default route: S0SREGROUP
    assert ticket.route.channel == "C0APPROVALS"
    rig.sandbox.click("U0SRE2", action_id=ACTION_APPROVE, channel="C0APPROVALS")
    assert settled(rig, ticket.id).status == TicketStatus.APPROVED
    assert rig.sandbox.calls("usergroups.users.list")


def test_request_info_and_answer(rig: Rig) -> None:
    ticket = refund(rig)
    rig.sandbox.click("U0FINOPS", action_id=ACTION_REQUEST_INFO, channel="C0PAYMENTS")
    rig.sandbox.wait_until(lambda: rig.sandbox.views("U0FINOPS"))
    rig.sandbox.submit("U0FINOPS", {QUESTION_BLOCK: {"signoff_question_value":
                                                     "Which order was charged twice?"}})
    assert settled(rig, ticket.id).status == TicketStatus.NEEDS_INFO
    assert rig.client.wait(ticket.id, 1).status == TicketStatus.NEEDS_INFO
    back = rig.client.answer(ticket.id, "order 1234", evidence=[{"title": "ledger export"}])
    assert back.status == TicketStatus.PENDING
    def thread_text() -> str:  # the question is posted after the decision's ack
        thread = rig.sandbox.thread("C0PAYMENTS", rig.card_ts(ticket.id))
        return " ".join(m.text + str(m.blocks) for m in thread)

    texts = rig.sandbox.wait_until(
        lambda: next((t for t in [thread_text()] if "Which order" in t), None))
    assert "Which order" in texts and "order 1234" in texts


def test_twenty_concurrent_clicks_one_decision(rig: Rig) -> None:
    ticket = refund(rig)
    clickers = ["U0PAYLEAD", "U0FINOPS"] * 10
    results: list[Any] = []
    barrier = threading.Barrier(len(clickers))

    def click(user: str) -> None:
        barrier.wait()
        results.append(rig.sandbox.click(user, action_id=ACTION_APPROVE, channel="C0PAYMENTS"))

    threads = [threading.Thread(target=click, args=(u,)) for u in clickers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert all(r.ok for r in results), [r.error for r in results]
    assert max(r.elapsed for r in results) < 3.0
    after = settled(rig, ticket.id)
    time.sleep(0.3)  # let every handler finish before counting
    assert len(rig.ledger.decisions(ticket.id)) == 1
    kinds = Counter(e.kind for e in rig.ledger.audit_events(ticket_id=ticket.id))
    assert kinds["decided"] == 1
    assert after.status == TicketStatus.APPROVED


@pytest.mark.parametrize("forgery", [Forgery(secret="not-the-secret"), Forgery(tamper=True),
                                     Forgery(age=301), Forgery(signature="v0=deadbeef")],
                         ids=["wrong-secret", "tampered", "stale", "garbage"])
def test_forged_requests_get_401_and_change_nothing(rig: Rig, forgery: Forgery) -> None:
    ticket = refund(rig)
    result = rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS",
                               forgery=forgery)
    assert result.status == 401
    time.sleep(0.2)
    assert rig.ledger.decisions(ticket.id) == []
    assert rig.ledger.get_ticket(ticket.id).version == ticket.version


def test_late_click_on_expired_ticket_is_refused_and_card_refreshed(rig: Rig) -> None:
    from sqlalchemy import update

    from store.db import db_now
    from store.tables import TicketRow

    ticket = refund(rig)
    with rig.ledger.engine.begin() as conn:  # the deadline passes while the sweep is down
        conn.execute(update(TicketRow).where(TicketRow.id == ticket.id)
                     .values(expires_at=db_now()))
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    wait_ephemeral(rig, "U0PAYLEAD", "expired")
    after = rig.ledger.get_ticket(ticket.id)
    assert after.status == TicketStatus.EXPIRED and rig.ledger.decisions(ticket.id) == []
    rig.sandbox.wait_until(lambda: next(
        (m for m in rig.sandbox.messages("C0PAYMENTS") if "Expired" in str(m.blocks)), None))


def test_everything_sent_fits_block_kit_even_for_huge_arguments(rig: Rig) -> None:
    from bot.render import ACTION_SHOW_ALL

    huge = {f"field_{i:03d}": "x" * 30_000 for i in range(30)}  # 10x every text limit
    huge.update(note="<!channel> " * 3000, nested={"deep": [list(range(500))] * 20},
                password="hunter2-secret")
    ticket = rig.client.request("bulk_update", huge, reason="r" * 20_000,
                                requested_by="U0REQUESTER", summary="s" * 10_000,
                                evidence=[{"title": "t" * 5000, "url": "https://e.x/" + "a" * 3000}
                                          ] * 40)
    assert ticket.card is not None
    for opened, action in enumerate((ACTION_SHOW_ALL, ACTION_EDIT, ACTION_REQUEST_INFO), 1):
        rig.sandbox.click("U0SRE1", action_id=action, channel="C0APPROVALS")
        rig.sandbox.wait_until(lambda n=opened: len(rig.sandbox.calls("views.open")) >= n)
    rig.sandbox.close_view("U0SRE1", clear=True)
    rig.sandbox.click("U0SRE1", action_id=ACTION_APPROVE, channel="C0APPROVALS")
    settled(rig, ticket.id)
    rig.sandbox.wait_until(lambda: rig.sandbox.calls("chat.update"))
    sent = [c for c in rig.sandbox.calls() if c.method.startswith(("chat.", "views."))]
    assert sent and all(c.ok for c in sent), [(c.method, c.response) for c in sent if not c.ok]
    assert all("hunter2" not in json.dumps(c.args) for c in sent)
    assert all("<!channel>" not in json.dumps(c.args) for c in sent)


def test_app_home_lists_only_what_the_user_may_decide(rig: Rig) -> None:
    mine = refund(rig)
    other = rig.client.request("restart_service", {"service": "api"}, reason="stuck",
                               requested_by="U0REQUESTER")  # the SRE group's, not payments'
    assert rig.sandbox.open_app_home("U0PAYLEAD").ok
    home = rig.sandbox.wait_until(lambda: rig.sandbox.home("U0PAYLEAD"))
    text = json.dumps(home.data)
    assert mine.id in text and other.id not in text
    assert rig.sandbox.open_app_home("U0OUTSIDER").ok
    empty = rig.sandbox.wait_until(lambda: rig.sandbox.home("U0OUTSIDER"))
    assert mine.id not in json.dumps(empty.data)
