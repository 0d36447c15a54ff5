"""Delegation (out of office) and fallback approvers, end to end: signed clicks to the real
bot, a real database (SQLite and PostgreSQL), the sandbox's users.info and DMs.

Time is never slept: a delegation that ended is one whose period lies in the past.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.render import ACTION_APPROVE
from escalation.config import load_config
from store.delegations import Delegation, DelegationStore
from store.ledger import Ledger
from store.models import TicketStatus
from tests.e2e.conftest import EXAMPLE, Rig, running_rig, workspace
from tests.e2e.test_escalation_slack import engine
from tests.e2e.test_reviews import RefundArgs, refund, settled, wait_ephemeral

NOT_YOURS = "Only the approvers"
ONE_PERSON = "one person for approvals"
LEAD, FINOPS, DELEGATE = "U0PAYLEAD", "U0FINOPS", "U0OUTSIDER"


def now() -> datetime:
    return datetime.now(UTC)


def lend(rig: Rig, principal: str = LEAD, delegate: str = DELEGATE, *,
         days: float = 3, ago: float = 0) -> Delegation:
    """``principal`` delegates to ``delegate``: from ``ago`` days back, for ``days``."""
    start = now() - timedelta(days=ago)
    return DelegationStore(rig.ledger).delegate(principal, delegate, at=start,
                                                until=start + timedelta(days=days), by="test")


def card_text(rig: Rig, ticket_id: str) -> str:
    ticket = rig.ledger.get_ticket(ticket_id)
    assert ticket.card is not None
    msg = rig.sandbox.message(ticket.card.channel, ticket.card.ts)
    assert msg is not None
    return json.dumps(msg.data)


def refund_for(rig: Rig, requested_by: str, amount: int = 120) -> str:
    return rig.client.request("issue_refund", {"amount": amount, "customer": "cus_42"},
                              reason="double charge", requested_by=requested_by,
                              args_model=RefundArgs).id


def test_a_delegate_approves_and_both_names_are_recorded(
        rig: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    lend(rig)
    ticket = refund(rig)
    rig.sandbox.click(DELEGATE, action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    done = settled(rig, ticket.id)
    assert done.status == TicketStatus.APPROVED
    assert done.approvals == (DELEGATE,) and done.acting_for == {DELEGATE: LEAD}
    [decision] = rig.ledger.decisions(ticket.id)
    assert (decision.reviewer, decision.on_behalf_of) == (DELEGATE, LEAD)
    decided = [e for e in rig.ledger.audit_events(ticket_id=ticket.id) if e.kind == "decided"]
    assert decided[-1].actor == DELEGATE and decided[-1].data["on_behalf_of"] == LEAD
    assert rig.sandbox.wait_until(
        lambda: f"<@{DELEGATE}> on behalf of <@{LEAD}>" in card_text(rig, ticket.id))
    assert rig.ledger.verify_audit().ok
    assert ticket_show(rig, ticket.id, capsys)["decisions"][0]["on_behalf_of"] == LEAD


def ticket_show(rig: Rig, ticket_id: str, capsys: pytest.CaptureFixture[str]) -> Any:
    """``signoff tickets show ID --json`` on the rig's database."""
    from bot.cli import main

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SIGNOFF_DATABASE_URL", rig.ledger.engine.url.render_as_string(
            hide_password=False))
        assert main(["tickets", "show", ticket_id, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_delegation_that_ended_lends_nothing(rig: Rig) -> None:
    lend(rig, days=2, ago=3)  # ended a day ago
    ticket = refund(rig)
    rig.sandbox.click(DELEGATE, action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    wait_ephemeral(rig, DELEGATE, NOT_YOURS)
    assert rig.ledger.decisions(ticket.id) == []
    assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.PENDING


def test_a_revoked_delegation_stops_at_once(rig: Rig) -> None:
    made = lend(rig)
    ticket = refund(rig)
    DelegationStore(rig.ledger).revoke(made.id, at=now(), by=LEAD)
    rig.sandbox.click(DELEGATE, action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    wait_ephemeral(rig, DELEGATE, NOT_YOURS)
    assert rig.ledger.decisions(ticket.id) == []
    events = [e.kind for e in rig.ledger.audit_events() if e.ticket_id is None]
    assert "delegated" in events and "delegation_revoked" in events


def after_the_check(rig: Rig, monkeypatch: pytest.MonkeyPatch, user: str,
                    then: Callable[[], object]) -> None:
    """Run ``then`` right after the bot authorised ``user``'s next click, before the ledger
    records the decision: the window a change from App Home or the CLI can land in."""
    authz = rig.service.inbox.reviews.authz if rig.service.inbox else None
    assert authz is not None
    checked, done = authz.standing, []

    def and_then(who: str, *args: Any, **kwargs: Any) -> Any:
        found = checked(who, *args, **kwargs)
        if who == user and not done:
            done.append(then())
        return found

    monkeypatch.setattr(authz, "standing", and_then)


def test_a_revocation_between_the_check_and_the_write_records_nothing(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    from store.inbox import ClickStatus

    made = lend(rig)
    ticket = refund(rig)
    after_the_check(rig, monkeypatch, DELEGATE, lambda: DelegationStore(rig.ledger).revoke(
        made.id, at=now(), by=LEAD))
    rig.sandbox.click(DELEGATE, action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    told = wait_ephemeral(rig, DELEGATE, "Nothing was recorded")
    assert f"<@{LEAD}>" in told and "revoked or ended" in told
    assert rig.ledger.decisions(ticket.id) == []
    after = rig.ledger.get_ticket(ticket.id)
    assert after.status == TicketStatus.PENDING and after.version == ticket.version
    assert not any(e.kind in ("decided", "edited")
                   for e in rig.ledger.audit_events(ticket_id=ticket.id))
    assert rig.sandbox.wait_until(lambda: not rig.ledger.clicks(ClickStatus.PENDING))
    assert [c.user for c in rig.ledger.clicks(ClickStatus.TOLD)] == [DELEGATE]
    rig.sandbox.click(FINOPS, action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    assert settled(rig, ticket.id).approvals == (FINOPS,)


def test_a_delegation_made_after_the_check_still_makes_two_approvers_one(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    ticket = refund(rig, amount=5000)  # critical: two distinct approvers
    rig.sandbox.click(LEAD, action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    shown = settled(rig, ticket.id).version
    # FINOPS clicks the card as refreshed after the lead's approval (an older one is refused).
    rig.sandbox.wait_until(lambda: f"{ticket.id}@{shown}" in card_text(rig, ticket.id))
    after_the_check(rig, monkeypatch, FINOPS, lambda: lend(rig, LEAD, FINOPS))
    rig.sandbox.click(FINOPS, action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    told = wait_ephemeral(rig, FINOPS, ONE_PERSON)
    assert f"<@{LEAD}> already approved" in told
    after = rig.ledger.get_ticket(ticket.id)
    assert after.status == TicketStatus.PENDING and after.approvals == (LEAD,)


def test_a_deactivated_principal_lends_nothing(rig: Rig) -> None:
    lend(rig)
    rig.sandbox.deactivate_user(LEAD)  # left the company while their delegation ran
    ticket = refund(rig)
    rig.sandbox.click(DELEGATE, action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    wait_ephemeral(rig, DELEGATE, NOT_YOURS)
    assert rig.ledger.decisions(ticket.id) == []


def test_a_delegate_never_approves_the_principals_request(rig: Rig) -> None:
    lend(rig)
    ticket_id = refund_for(rig, requested_by=LEAD)
    rig.sandbox.click(DELEGATE, action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    wait_ephemeral(rig, DELEGATE, f"made on behalf of <@{LEAD}>")
    assert rig.ledger.decisions(ticket_id) == []
    rig.sandbox.click(FINOPS, action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    assert settled(rig, ticket_id).approvals == (FINOPS,)


def test_a_delegate_never_approves_their_own_request(rig: Rig) -> None:
    lend(rig)
    ticket_id = refund_for(rig, requested_by=DELEGATE)
    rig.sandbox.click(DELEGATE, action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    wait_ephemeral(rig, DELEGATE, "made on your behalf")
    assert rig.ledger.decisions(ticket_id) == []


def test_principal_and_delegate_never_count_twice(rig: Rig) -> None:
    lend(rig)
    ticket = refund(rig, amount=5000)  # critical: two distinct approvers
    assert ticket.route.approvals_required == 2
    rig.sandbox.click(LEAD, action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    settled(rig, ticket.id)
    rig.sandbox.click(DELEGATE, action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    wait_ephemeral(rig, DELEGATE, ONE_PERSON)
    after = rig.ledger.get_ticket(ticket.id)
    assert after.status == TicketStatus.PENDING and after.approvals == (LEAD,)
    rig.sandbox.click(FINOPS, action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    assert settled(rig, ticket.id, decisions=2).status == TicketStatus.APPROVED


def test_the_delegate_first_then_the_principal_is_refused(rig: Rig) -> None:
    lend(rig)
    ticket = refund(rig, amount=5000)
    rig.sandbox.click(DELEGATE, action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    assert settled(rig, ticket.id).acting_for == {DELEGATE: LEAD}
    rig.sandbox.click(LEAD, action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    wait_ephemeral(rig, LEAD, ONE_PERSON)
    assert rig.ledger.get_ticket(ticket.id).approvals == (DELEGATE,)


def test_a_delegates_edit_counts_for_the_principal_under_the_stricter_terms(rig: Rig) -> None:
    from tests.e2e.test_reroute import edit_amount

    lend(rig)
    ticket = refund(rig)  # one approval; the edit to 5000 makes it critical, two approvals
    edit_amount(rig, DELEGATE, 5000)
    edited = settled(rig, ticket.id)
    assert edited.route.approvals_required == 2 and edited.status == TicketStatus.PENDING
    assert edited.approvals == (DELEGATE,) and edited.acting_for == {DELEGATE: LEAD}
    assert rig.ledger.decisions(ticket.id)[-1].on_behalf_of == LEAD
    rig.sandbox.click(LEAD, action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    wait_ephemeral(rig, LEAD, ONE_PERSON)
    rig.sandbox.click(FINOPS, action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    done = settled(rig, ticket.id, decisions=2)
    assert done.status == TicketStatus.APPROVED and done.final_args["amount"] == 5000
    assert rig.ledger.verify_audit().ok


def test_the_ledger_refuses_one_person_twice_under_its_lock(rig: Rig) -> None:
    """A click that raced past the bot's check is still refused by the ledger."""
    from store.decisions import Capacity
    from store.errors import DuplicateApproval
    from store.models import DecisionKind

    made = lend(rig)
    ticket = refund(rig, amount=5000)
    rig.ledger.record_decision(ticket.id, reviewer=LEAD, kind=DecisionKind.APPROVE)
    with pytest.raises(DuplicateApproval):
        rig.ledger.record_decision(ticket.id, reviewer=DELEGATE, kind=DecisionKind.APPROVE,
                                   capacity=Capacity(on_behalf_of=LEAD,
                                                     identities=frozenset({DELEGATE, LEAD}),
                                                     delegations=frozenset({made.id})))


def test_delegation_is_never_chained(rig: Rig) -> None:
    lend(rig)                              # the lead's authority to the outsider
    lend(rig, DELEGATE, "U0SRE1")          # the outsider's (own) authority to U0SRE1
    ticket = refund(rig)
    rig.sandbox.click("U0SRE1", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    wait_ephemeral(rig, "U0SRE1", NOT_YOURS)
    assert rig.ledger.decisions(ticket.id) == []


def test_an_oncall_dm_goes_to_the_delegate_who_decides_for_the_engineer(rig: Rig) -> None:
    lend(rig, "U0PAYONCALL", DELEGATE)
    ticket = refund(rig)
    engine(rig).tick(at=ticket.created_at + timedelta(minutes=10, seconds=1))
    dm = rig.sandbox.dm_channel(DELEGATE)
    assert rig.sandbox.wait_until(lambda: rig.sandbox.messages(dm))
    assert "for <@U0PAYONCALL>" in json.dumps(rig.sandbox.messages(dm)[-1].data)
    rig.sandbox.click(DELEGATE, action_id=ACTION_APPROVE, channel=dm)
    done = settled(rig, ticket.id)
    assert done.status == TicketStatus.APPROVED and done.acting_for == {DELEGATE: "U0PAYONCALL"}


# -- fallback approvers ---------------------------------------------------------------------


@pytest.fixture
def with_fallback(ledger: Ledger, tmp_path: Path) -> Iterator[Rig]:
    """The payments route names fallback approvers (U0PAYMGR)."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("  sre: [S0SREGROUP]", "  sre: [S0SREGROUP]\n  payments-leads: [U0PAYMGR]")
    text = text.replace("    chain: payments-oncall\n",
                        "    chain: payments-oncall\n    fallback_approvers: payments-leads\n")
    path = tmp_path / "signoff.yml"
    path.write_text(text, encoding="utf-8")
    with running_rig(ledger, load_config(path), workspace()) as r:
        yield r


def test_fallback_approvers_decide_only_when_every_approver_is_away(with_fallback: Rig) -> None:
    rig = with_fallback
    first = refund(rig)
    rig.sandbox.click("U0PAYMGR", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    wait_ephemeral(rig, "U0PAYMGR", NOT_YOURS)
    assert rig.ledger.decisions(first.id) == []

    lend(rig)                                  # the lead is on holiday
    rig.sandbox.deactivate_user(FINOPS)        # and finops has left the company
    ticket = refund(rig, amount=130)
    dm = rig.sandbox.dm_channel("U0PAYMGR")
    assert rig.sandbox.wait_until(lambda: rig.sandbox.messages(dm))
    assert "fallback approver" in json.dumps(rig.sandbox.messages(dm)[-1].data)
    assert [m.user for m in rig.ledger.get_ticket(ticket.id).messages
            if m.role == "fallback"] == ["U0PAYMGR"]
    rig.sandbox.click("U0PAYMGR", action_id=ACTION_APPROVE, channel=dm)
    done = settled(rig, ticket.id)
    assert done.status == TicketStatus.APPROVED and done.approvals == ("U0PAYMGR",)


def test_a_fallback_click_is_not_recorded_once_an_approver_is_back(
        with_fallback: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    rig = with_fallback
    made = lend(rig)                           # the lead is on holiday
    rig.sandbox.deactivate_user(FINOPS)        # and finops has left the company
    ticket = refund(rig, amount=130)
    dm = rig.sandbox.dm_channel("U0PAYMGR")
    assert rig.sandbox.wait_until(lambda: rig.sandbox.messages(dm))
    # The lead comes back (revokes) just after the fallback approver's click was authorised.
    after_the_check(rig, monkeypatch, "U0PAYMGR", lambda: DelegationStore(rig.ledger).revoke(
        made.id, at=now(), by=LEAD))
    rig.sandbox.click("U0PAYMGR", action_id=ACTION_APPROVE, channel=dm)
    wait_ephemeral(rig, "U0PAYMGR", "Nothing was recorded")
    assert rig.ledger.decisions(ticket.id) == []
    assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.PENDING


def test_one_approver_present_keeps_the_fallback_closed(with_fallback: Rig) -> None:
    rig = with_fallback
    lend(rig)  # the lead is away, finops is not
    ticket = refund(rig)
    assert not [m for m in rig.ledger.get_ticket(ticket.id).messages if m.role == "fallback"]
    rig.sandbox.click("U0PAYMGR", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    wait_ephemeral(rig, "U0PAYMGR", NOT_YOURS)
    assert rig.ledger.decisions(ticket.id) == []


# -- App Home -------------------------------------------------------------------------------


def test_a_reviewer_delegates_from_app_home_and_revokes_there(rig: Rig) -> None:
    from bot.render.delegation import (
        ACTION_DELEGATE_OPEN,
        ACTION_DELEGATE_REVOKE,
        DELEGATE_TO_ACTION,
        DELEGATE_TO_BLOCK,
        DELEGATE_UNTIL_ACTION,
        DELEGATE_UNTIL_BLOCK,
    )

    assert rig.sandbox.open_app_home(LEAD).ok
    rig.sandbox.wait_until(lambda: (h := rig.sandbox.home(LEAD)) and "Out of office" in str(
        h.data))
    assert rig.sandbox.click(LEAD, action_id=ACTION_DELEGATE_OPEN).ok
    rig.sandbox.wait_until(lambda: rig.sandbox.views(LEAD))
    back = (now() + timedelta(days=3)).date().isoformat()
    own = rig.sandbox.submit(LEAD, {DELEGATE_TO_BLOCK: {DELEGATE_TO_ACTION: LEAD},
                                    DELEGATE_UNTIL_BLOCK: {DELEGATE_UNTIL_ACTION: back}})
    assert own.response_action == "errors" and DELEGATE_TO_BLOCK in own.errors
    rig.sandbox.deactivate_user("U0SRE2")
    gone = rig.sandbox.submit(LEAD, {DELEGATE_TO_BLOCK: {DELEGATE_TO_ACTION: "U0SRE2"},
                                     DELEGATE_UNTIL_BLOCK: {DELEGATE_UNTIL_ACTION: back}})
    assert gone.response_action == "errors" and "deactivated" in gone.errors[DELEGATE_TO_BLOCK]
    past = rig.sandbox.submit(LEAD, {DELEGATE_TO_BLOCK: {DELEGATE_TO_ACTION: DELEGATE},
                                     DELEGATE_UNTIL_BLOCK: {DELEGATE_UNTIL_ACTION: "2020-01-01"}})
    assert past.response_action == "errors" and DELEGATE_UNTIL_BLOCK in past.errors
    assert DelegationStore(rig.ledger).listing(at=now()) == []
    done = rig.sandbox.submit(LEAD, {DELEGATE_TO_BLOCK: {DELEGATE_TO_ACTION: DELEGATE},
                                     DELEGATE_UNTIL_BLOCK: {DELEGATE_UNTIL_ACTION: back}})
    assert done.ok and done.response_action is None
    [made] = DelegationStore(rig.ledger).listing(at=now())
    assert (made.principal, made.delegate, made.created_by) == (LEAD, DELEGATE, LEAD)
    assert made.ends_at.date().isoformat() == back
    home = rig.sandbox.wait_until(
        lambda: (h := rig.sandbox.home(LEAD)) and "decides for you" in str(h.data) and h)
    assert f"<@{DELEGATE}>" in str(home.data)

    ticket = refund(rig)
    rig.sandbox.click(DELEGATE, action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    assert settled(rig, ticket.id).acting_for == {DELEGATE: LEAD}

    assert rig.sandbox.click(LEAD, action_id=ACTION_DELEGATE_REVOKE).ok
    rig.sandbox.wait_until(lambda: DelegationStore(rig.ledger).listing(at=now()) == [])
    second = refund(rig, amount=140)
    rig.sandbox.click(DELEGATE, action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    wait_ephemeral(rig, DELEGATE, NOT_YOURS)
    assert rig.ledger.decisions(second.id) == []


def test_the_day_back_starts_at_midnight_in_the_reviewers_own_time_zone(rig: Rig) -> None:
    from zoneinfo import ZoneInfo

    from bot.render.delegation import (
        ACTION_DELEGATE_OPEN,
        DELEGATE_TO_ACTION,
        DELEGATE_TO_BLOCK,
        DELEGATE_UNTIL_ACTION,
        DELEGATE_UNTIL_BLOCK,
    )

    rig.sandbox.set_time_zone(LEAD, "Asia/Tokyo")
    assert rig.sandbox.open_app_home(LEAD).ok
    rig.sandbox.wait_until(lambda: (h := rig.sandbox.home(LEAD)) and "Out of office" in str(
        h.data))
    assert rig.sandbox.click(LEAD, action_id=ACTION_DELEGATE_OPEN).ok
    form = rig.sandbox.wait_until(lambda: rig.sandbox.views(LEAD))[-1]
    assert "00:00 (Asia/Tokyo)" in str(form.data)
    tokyo_today = now().astimezone(ZoneInfo("Asia/Tokyo")).date()
    first = form.data["blocks"][2]["element"]["initial_date"]
    assert first == (tokyo_today + timedelta(days=1)).isoformat()  # tomorrow in Tokyo
    back = tokyo_today + timedelta(days=3)
    done = rig.sandbox.submit(LEAD, {DELEGATE_TO_BLOCK: {DELEGATE_TO_ACTION: DELEGATE},
                                     DELEGATE_UNTIL_BLOCK: {DELEGATE_UNTIL_ACTION:
                                                            back.isoformat()}})
    assert done.ok and done.response_action is None
    [made] = DelegationStore(rig.ledger).listing(at=now())
    # Midnight in Tokyo is 15:00 UTC the day before, not 00:00 UTC on the day.
    assert made.ends_at.astimezone(UTC) == datetime.combine(
        back, datetime.min.time(), ZoneInfo("Asia/Tokyo")).astimezone(UTC)
    assert made.ends_at.astimezone(UTC).hour == 15


def test_approvers_who_leave_later_hand_the_request_to_the_fallback_at_the_next_reminder(
        with_fallback: Rig) -> None:
    rig = with_fallback
    ticket = refund(rig)
    assert not [m for m in rig.ledger.get_ticket(ticket.id).messages if m.role == "fallback"]
    lend(rig)
    rig.sandbox.deactivate_user(FINOPS)
    sweep = engine(rig)
    sweep.tick(at=ticket.created_at + timedelta(minutes=5, seconds=1))   # a reminder
    sweep.tick(at=ticket.created_at + timedelta(minutes=10, seconds=1))  # the on-call DM
    fallback_dms = [m for m in rig.ledger.get_ticket(ticket.id).messages if m.role == "fallback"]
    assert [m.user for m in fallback_dms] == ["U0PAYMGR"]  # once, however often it is swept
    assert len(rig.sandbox.messages(rig.sandbox.dm_channel("U0PAYMGR"))) == 1
