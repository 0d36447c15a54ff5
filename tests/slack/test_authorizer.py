"""Who may decide: the route's approvers (user groups expanded, briefly cached, read failures
authorising nobody) and the on-call people its chain DM'd, never the requester for approvals."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.render.refusals import OWN_REQUEST
from bot.sandbox import SlackSandbox
from bot.slack.authz import Authorizer
from store.models import DecisionKind
from tests.conftest import TicketFactory
from tests.slack.conftest import GROUP, route


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_group_members_decide_and_others_are_told_who_can(
        slack: WebClient, make_ticket: TicketFactory) -> None:
    ticket = make_ticket(route=route("U0LEAD", GROUP))
    authz = Authorizer(slack)
    assert authz.refusal("U0SRE2", ticket, DecisionKind.APPROVE) is None
    assert authz.refusal("U0LEAD", ticket, DecisionKind.REJECT) is None
    refusal = authz.refusal("U0OUTSIDER", ticket, DecisionKind.APPROVE)
    assert refusal is not None
    assert "<@U0LEAD>" in refusal and f"<!subteam^{GROUP}>" in refusal
    assert "*payments*" in refusal


def test_the_requester_may_reject_but_never_approve_or_edit(
        slack: WebClient, make_ticket: TicketFactory) -> None:
    ticket = make_ticket(route=route("U0REQUESTER", "U0LEAD"), requested_by="U0REQUESTER")
    authz = Authorizer(slack)
    assert authz.refusal("U0REQUESTER", ticket, DecisionKind.APPROVE) == OWN_REQUEST
    assert authz.refusal("U0REQUESTER", ticket, DecisionKind.EDIT) == OWN_REQUEST
    assert authz.refusal("U0REQUESTER", ticket, DecisionKind.REJECT) is None


def test_membership_is_cached_for_its_ttl_then_read_again(
        slack: WebClient, sandbox: SlackSandbox, make_ticket: TicketFactory) -> None:
    ticket = make_ticket(route=route(GROUP))
    clock = Clock()
    authz = Authorizer(slack, ttl=60.0, clock=clock)
    for _ in range(3):
        assert authz.refusal("U0SRE1", ticket, DecisionKind.APPROVE) is None
    assert len(sandbox.calls("usergroups.users.list")) == 1
    clock.now = 61.0
    assert authz.refusal("U0SRE1", ticket, DecisionKind.APPROVE) is None
    assert len(sandbox.calls("usergroups.users.list")) == 2


def test_an_unreadable_group_authorises_nobody_and_is_not_remembered(
        slack: WebClient, sandbox: SlackSandbox, make_ticket: TicketFactory) -> None:
    ticket = make_ticket(route=route(GROUP))
    authz = Authorizer(slack)
    sandbox.inject_fault("usergroups.users.list", error="missing_scope")
    assert authz.refusal("U0SRE1", ticket, DecisionKind.APPROVE) is not None
    assert authz.refusal("U0SRE1", ticket, DecisionKind.APPROVE) is None


def test_the_on_call_people_the_chain_dmed_decide_unless_left_out(
        slack: WebClient, make_ticket: TicketFactory) -> None:
    ticket = make_ticket(route=route("U0LEAD"))
    authz = Authorizer(slack, oncall=lambda ticket_id: {"U0ONCALL", GROUP}
                       if ticket_id == ticket.id else set())
    assert authz.refusal("U0ONCALL", ticket, DecisionKind.APPROVE) is None
    assert authz.refusal("U0SRE1", ticket, DecisionKind.APPROVE) is None  # a DM'd group
    assert authz.refusal("U0ONCALL", ticket, DecisionKind.EDIT, oncall=False) is not None
