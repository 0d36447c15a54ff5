"""The Slack side's parts tested directly: a real ledger, the local Slack-compatible server,
and the real slack_sdk client pointed at it; no Bolt app, no HTTP front door."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.sandbox import Channel, SlackSandbox, User, Workspace
from bot.slack.surfaces import Surfaces
from store.ledger import Ledger
from store.models import Route, Ticket
from tests.conftest import TicketFactory

USERS = ("U0LEAD", "U0FINOPS", "U0REQUESTER", "U0OUTSIDER", "U0ONCALL", "U0SRE1", "U0SRE2")
GROUP = "S0SREGROUP"
PAYMENTS, APPROVALS = "C0PAYMENTS", "C0APPROVALS"


@pytest.fixture
def sandbox() -> Iterator[SlackSandbox]:
    ws = Workspace(users=[User(u, u.lower(), u.title(), f"{u.lower()}@example.com")
                          for u in USERS],
                   usergroups={GROUP: ["U0SRE1", "U0SRE2"]},
                   channels=[Channel(PAYMENTS, "payments"), Channel(APPROVALS, "approvals")])
    with SlackSandbox(ws, signing_secret="unit-secret") as sb:
        yield sb


@pytest.fixture
def slack(sandbox: SlackSandbox) -> WebClient:
    return WebClient(base_url=sandbox.api_url, token=sandbox.bot_token)


@pytest.fixture
def surfaces(slack: WebClient, ledger: Ledger) -> Surfaces:
    return Surfaces(slack, ledger)


@pytest.fixture
def carded(make_ticket: TicketFactory, surfaces: Surfaces) -> TicketFactory:
    """A ticket whose card is posted in its route's channel."""

    def factory(**overrides: Any) -> Ticket:
        ticket = surfaces.post_card(make_ticket(**overrides))
        assert ticket.card is not None
        return ticket

    return factory


def route(*approvers: str, channel: str = PAYMENTS, approvals: int = 1,
          name: str = "payments") -> Route:
    return Route(name=name, channel=channel, approvers=approvers, approvals_required=approvals)
