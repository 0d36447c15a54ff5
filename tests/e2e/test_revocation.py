"""Revocation takes effect: authority is checked at click time against the configuration in
force now as well as the ticket's snapshot, and user-group membership is read fresh.

Real sandbox, the real Bolt app behind a real HTTP server, signed clicks, a real database.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.agent.client import ApprovalClient
from bot.render import ACTION_APPROVE
from bot.slack.webapi import make_web_client
from escalation.config import load_config
from store.ledger import Ledger
from store.models import TicketStatus
from store.sweep import SweepStore
from tests.e2e.conftest import EXAMPLE, Rig, running_rig, workspace
from tests.e2e.test_escalation_slack import engine
from tests.e2e.test_reviews import RefundArgs, settled, wait_ephemeral

NOT_YOURS = "Only the approvers"


@pytest.fixture
def revoked(ledger: Ledger, tmp_path: Path) -> Iterator[Rig]:
    """The bot runs a configuration from which U0FINOPS (an approver) and U0PAYMGR (the
    payments chain's second level) were removed after requests were opened."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("payments-approvers: [U0PAYLEAD, U0FINOPS]",
                        "payments-approvers: [U0PAYLEAD, U0SRE1]")
    text = text.replace("      - notify: [U0PAYMGR]\n", "      - notify: [U0PAYLEAD]\n")
    assert "U0FINOPS" not in text and "U0PAYMGR" not in text
    path = tmp_path / "signoff.yml"
    path.write_text(text, encoding="utf-8")
    with running_rig(ledger, load_config(path), workspace()) as r:
        yield r


def opened_before(rig: Rig, amount: int = 120) -> str:
    """A refund opened by an agent that still ran the old configuration."""
    old = ApprovalClient(rig.ledger, load_config(EXAMPLE),
                         slack=make_web_client(rig.sandbox.bot_token, rig.sandbox.api_url))
    ticket = old.request("issue_refund", {"amount": amount, "customer": "cus_42"},
                         reason="double charge", requested_by="U0REQUESTER",
                         args_model=RefundArgs)
    assert "U0FINOPS" in ticket.route.approvers
    return ticket.id


def test_an_approver_removed_from_the_configuration_no_longer_decides(revoked: Rig) -> None:
    rig = revoked
    ticket_id = opened_before(rig)
    rig.sandbox.click("U0FINOPS", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    wait_ephemeral(rig, "U0FINOPS", NOT_YOURS)
    assert rig.ledger.decisions(ticket_id) == []
    assert rig.ledger.get_ticket(ticket_id).status == TicketStatus.PENDING
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    assert settled(rig, ticket_id).status == TicketStatus.APPROVED


def test_an_oncall_engineer_removed_from_the_chain_no_longer_decides(revoked: Rig) -> None:
    rig = revoked
    ticket_id = opened_before(rig)
    created = rig.ledger.get_ticket(ticket_id).created_at
    # The ticket's own chain (the old configuration) DMs U0PAYMGR at its second level.
    engine(rig).tick(at=created + timedelta(minutes=30, seconds=1))
    assert "U0PAYMGR" in SweepStore(rig.ledger).oncall_targets(ticket_id)
    dm = rig.sandbox.dm_channel("U0PAYMGR")
    rig.sandbox.click("U0PAYMGR", action_id=ACTION_APPROVE, channel=dm)
    wait_ephemeral(rig, "U0PAYMGR", NOT_YOURS)
    assert rig.ledger.decisions(ticket_id) == []


def test_a_member_removed_from_a_user_group_stops_deciding_at_once(rig: Rig) -> None:
    ticket = rig.client.request("restart_service", {"service": "billing"},
                                reason="stuck workers", requested_by="U0REQUESTER")
    assert ticket.route.approvers == ("S0SREGROUP",)
    assert rig.sandbox.open_app_home("U0SRE2").ok  # reads (and caches) the group
    listed = rig.sandbox.wait_until(lambda: rig.sandbox.home("U0SRE2"))
    assert "restart_service" in str(listed.data["blocks"])

    changed = rig.sandbox.set_usergroup_members("S0SREGROUP", ["U0SRE1"])
    assert changed.ok
    rig.sandbox.click("U0SRE2", action_id=ACTION_APPROVE, channel="C0APPROVALS")
    wait_ephemeral(rig, "U0SRE2", NOT_YOURS)
    assert rig.ledger.decisions(ticket.id) == []

    # The membership event also clears the cache App Home reads from.
    def home_without_it() -> bool:
        assert rig.sandbox.open_app_home("U0SRE2").ok
        home = rig.sandbox.home("U0SRE2")
        return home is not None and "restart_service" not in str(home.data["blocks"])

    assert rig.sandbox.wait_until(home_without_it)
    rig.sandbox.click("U0SRE1", action_id=ACTION_APPROVE, channel="C0APPROVALS")
    assert settled(rig, ticket.id).status == TicketStatus.APPROVED
