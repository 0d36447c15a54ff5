"""Standing grants made by a delegate, end to end: signed clicks to the real bot, the sandbox,
a real database (SQLite and PostgreSQL). Such a grant carries the principal's authority and
approves similar requests only while the delegation that lent it is active."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import update

from bot.cli import main
from bot.render import ACTION_APPROVE
from store.db import db_now
from store.delegations import DelegationStore
from store.grant_store import GrantStore
from store.models import TicketStatus
from store.tables import DelegationRow
from tests.e2e.conftest import Rig
from tests.e2e.test_delegation import DELEGATE, LEAD, lend, now
from tests.e2e.test_grants import grant_on, thread_texts
from tests.e2e.test_reviews import refund, settled


def test_a_delegates_grant_works_while_the_delegation_lasts_and_stops_with_it(
        rig: Rig, db_url: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    made = lend(rig)
    first = refund(rig, 120)
    grant = grant_on(rig, first, DELEGATE)
    assert (grant.granted_by, grant.on_behalf_of, grant.delegation) == (DELEGATE, LEAD, made.id)
    assert settled(rig, first.id).acting_for == {DELEGATE: LEAD}
    rig.sandbox.wait_until(lambda: f"on behalf of <@{LEAD}>" in thread_texts(rig, first))

    second = refund(rig, 80)
    assert second.status == TicketStatus.APPROVED and second.card is None
    [decision] = rig.ledger.decisions(second.id)
    assert (decision.reviewer, decision.on_behalf_of) == (DELEGATE, LEAD)
    assert rig.ledger.get_ticket(second.id).acting_for == {DELEGATE: LEAD}

    assert grant.id in home_grants(rig, DELEGATE)
    DelegationStore(rig.ledger).revoke(made.id, at=now(), by=LEAD)
    assert grant.id not in home_grants(rig, DELEGATE), "not shown as active once it lapsed"
    after = refund(rig, 80)
    assert after.status == TicketStatus.PENDING and after.card is not None
    assert GrantStore(rig.ledger).get(grant.id).uses == 1
    assert rig.ledger.verify_audit().ok
    monkeypatch.setenv("SIGNOFF_DATABASE_URL", db_url)
    assert main(["grants", "list"]) == 0
    assert f"granted by {DELEGATE} on behalf of {LEAD} (while delegation {made.id} lasts)" \
        in capsys.readouterr().out


def home_grants(rig: Rig, user: str) -> str:
    """The "Your standing grants" part of ``user``'s App Home, freshly published."""
    published = len(rig.sandbox.calls("views.publish"))
    assert rig.sandbox.open_app_home(user).ok
    rig.sandbox.wait_until(lambda: len(rig.sandbox.calls("views.publish")) > published)
    home = rig.sandbox.home(user)
    assert home is not None
    blocks = home.blocks
    start = next((i for i, b in enumerate(blocks) if b.get("block_id") == "signoff_home_grants"),
                 len(blocks))
    return str(blocks[start:])


def test_a_delegates_grant_stops_when_the_delegation_runs_out(rig: Rig) -> None:
    made = lend(rig)
    grant = grant_on(rig, refund(rig, 120), DELEGATE)
    with rig.ledger.engine.begin() as conn:  # its period is over (by the database's clock)
        conn.execute(update(DelegationRow).where(DelegationRow.id == made.id)
                     .values(ends_at=db_now()))
    late = refund(rig, 80)
    assert late.status == TicketStatus.PENDING and late.card is not None
    assert GrantStore(rig.ledger).get(grant.id).uses == 0


def test_a_delegates_grant_stops_when_the_principals_account_is_deactivated(
        rig: Rig) -> None:
    lend(rig)
    grant = grant_on(rig, refund(rig, 120), DELEGATE)
    rig.sandbox.deactivate_user(LEAD)  # left the company: lends nothing any more
    late = refund(rig, 80)
    assert late.status == TicketStatus.PENDING and late.card is not None
    assert GrantStore(rig.ledger).get(grant.id).uses == 0
    rig.sandbox.click("U0FINOPS", action_id=ACTION_APPROVE, channel="C0PAYMENTS",
                      message_ts=rig.card_ts(late.id))
    assert json.dumps(settled(rig, late.id).approvals) == '["U0FINOPS"]'


def test_a_delegates_grant_stops_when_the_principal_leaves_the_approvers(rig: Rig) -> None:
    lend(rig, "U0SRE1", DELEGATE)
    first = rig.client.request("restart_service", {"service": "api"}, reason="stuck",
                               requested_by="U0REQUESTER")  # the SRE group's route
    grant = grant_on(rig, first, DELEGATE, channel="C0APPROVALS")
    assert grant.on_behalf_of == "U0SRE1"
    again = rig.client.request("restart_service", {"service": "api"}, reason="stuck again",
                               requested_by="U0REQUESTER")
    assert again.status == TicketStatus.APPROVED
    assert rig.sandbox.set_usergroup_members("S0SREGROUP", ["U0SRE2"]).ok
    later = rig.client.request("restart_service", {"service": "api"}, reason="and again",
                               requested_by="U0REQUESTER")
    assert later.status == TicketStatus.PENDING and later.card is not None
    assert GrantStore(rig.ledger).get(grant.id).uses == 1
