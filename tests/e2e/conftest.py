"""End-to-end rig: the local Slack-compatible server, the bot composed as ``signoff serve``
composes it (Bolt app, ack-first front door, waitress), the real ApprovalClient, a real
database. Nothing is mocked."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.agent.client import ApprovalClient
from bot.sandbox import Channel, SlackSandbox, User, Workspace
from bot.server.compose import Service, SlackAccess, compose
from bot.server.http import HttpServer
from escalation.config import SignoffConfig, load_config
from store.ledger import Ledger

EXAMPLE = Path(__file__).parents[1] / "fixtures" / "signoff.example.yml"
SECRET = "e2e-signing-secret"

USERS = {
    "U0PAYLEAD": "paylead", "U0FINOPS": "finops", "U0REQUESTER": "requester",
    "U0OUTSIDER": "outsider", "U0SREONCALL": "sreoncall", "U0PAYONCALL": "payoncall",
    "U0PAYMGR": "paymgr", "U0SRE1": "sre1", "U0SRE2": "sre2",
}


def workspace() -> Workspace:
    return Workspace(
        users=[User(uid, name, name.title(), f"{name}@example.com")
               for uid, name in USERS.items()],
        usergroups={"S0SREGROUP": ["U0SRE1", "U0SRE2"]},
        channels=[Channel("C0APPROVALS", "approvals"), Channel("C0PAYMENTS", "payments")],
    )


@dataclass
class Rig:
    sandbox: SlackSandbox
    server: HttpServer
    ledger: Ledger
    config: SignoffConfig
    client: ApprovalClient
    slack: WebClient
    service: Service

    def card_ts(self, ticket_id: str) -> str:
        ticket = self.ledger.get_ticket(ticket_id)
        assert ticket.card is not None, "the card was not posted"
        return ticket.card.ts


@contextmanager
def running_rig(ledger: Ledger, config: SignoffConfig, ws: Workspace) -> Iterator[Rig]:
    """The sandbox for ``ws``, the bot behind a real server, and an agent-side client."""
    with SlackSandbox(ws, signing_secret=SECRET) as sandbox:
        service = compose(config, ledger, SlackAccess(sandbox.bot_token, sandbox.api_url, SECRET),
                          owner="e2e", owns_ledger=False)
        server = service.serve_http("127.0.0.1", 0).start()
        sandbox.set_request_url(f"{server.url}/slack/events")
        client = service.agent_client(poll_interval=0.01)
        try:
            yield Rig(sandbox, server, ledger, config, client, service.slack, service)
        finally:
            service.close()


@pytest.fixture
def rig(ledger: Ledger) -> Iterator[Rig]:
    with running_rig(ledger, load_config(EXAMPLE), workspace()) as r:
        yield r
