"""Who may make a standing grant: the route's own approvers, never an on-call engineer whose
authority comes from a DM about this one request, and only where policy still allows it."""

from __future__ import annotations

from pathlib import Path

from slack_sdk import WebClient

from bot.slack.authz import Authorizer
from bot.slack.grant_checks import refusal_to_grant
from escalation.config import load_config
from store.models import DecisionKind, RiskTier
from tests.conftest import TicketFactory
from tests.slack.conftest import route

EXAMPLE = Path(__file__).parents[1] / "fixtures" / "signoff.example.yml"
PAYMENTS = route("U0PAYLEAD", "U0FINOPS").model_copy(update={"chain": "payments-oncall"})


def test_the_routes_approvers_may_grant_an_on_call_engineer_may_only_approve(
        make_ticket: TicketFactory, slack: WebClient) -> None:
    config = load_config(EXAMPLE)
    ticket = make_ticket(route=PAYMENTS, args={"amount": 120, "customer": "cus_42"},
                         tier=RiskTier.HIGH)
    authz = Authorizer(slack, oncall=lambda _tid: {"U0PAYONCALL"}, config=lambda: config)
    assert refusal_to_grant(config, authz, "U0PAYLEAD", ticket) is None
    assert authz.refusal("U0PAYONCALL", ticket, DecisionKind.APPROVE) is None
    refused = refusal_to_grant(config, authz, "U0PAYONCALL", ticket)
    assert refused is not None and "route's own approvers" in refused
    assert refusal_to_grant(config, authz, "U0REQUESTER", ticket) is not None


def test_no_grant_where_policy_now_wants_more(make_ticket: TicketFactory,
                                              slack: WebClient) -> None:
    config = load_config(EXAMPLE)
    authz = Authorizer(slack, config=lambda: config)
    big = make_ticket(route=PAYMENTS, args={"amount": 5000, "customer": "cus_42"})
    refused = refusal_to_grant(config, authz, "U0PAYLEAD", big)
    assert refused is not None and "critical" in refused
    elsewhere = make_ticket(route=route("U0PAYLEAD", name="default"),
                            args={"amount": 120, "customer": "cus_42"})
    refused = refusal_to_grant(config, authz, "U0PAYLEAD", elsewhere)
    assert refused is not None and "another route" in refused
