"""End-to-end rig: the local Slack-compatible server, the bot composed as ``signoff serve``
composes it (Bolt app, ack-first front door, waitress), the real ApprovalClient, a real
database. Nothing is mocked."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_sdk import WebClient

from bot.agent.client import ApprovalClient
from bot.agent.http import HttpBackend
from bot.sandbox import Channel, SlackSandbox, User, Workspace
from bot.server.api import build_gateway
from bot.server.api.app import build_api
from bot.server.asgi import AsgiServer
from bot.server.compose import Service, SlackAccess, compose
from bot.server.http import HttpServer
from escalation.config import SignoffConfig, load_config
from store.ledger import Ledger

EXAMPLE = Path(__file__).parents[1] / "fixtures" / "signoff.example.yml"
SECRET = "e2e-signing-secret"
MANIFEST = Path(__file__).parents[2] / "manifest.yml"
#: The bot token has exactly the scopes manifest.yml asks for, as after a real install, so
#: every end-to-end test also proves the manifest is enough.
MANIFEST_SCOPES = tuple(yaml.safe_load(MANIFEST.read_text())["oauth_config"]["scopes"]["bot"])

USERS = {
    "U0PAYLEAD": "paylead", "U0FINOPS": "finops", "U0REQUESTER": "requester",
    "U0OUTSIDER": "outsider", "U0SREONCALL": "sreoncall", "U0PAYONCALL": "payoncall",
    "U0PAYMGR": "paymgr", "U0SRE1": "sre1", "U0SRE2": "sre2",
}


def workspace() -> Workspace:
    return Workspace(
        bot_name="signoff", bot_scopes=MANIFEST_SCOPES,
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


@dataclass
class Gate:
    """The agent gateway (the ASGI app under a real uvicorn) over the rig's ledger."""

    url: str
    token: str
    agent: str
    gateway: Any
    server: AsgiServer

    def client(self, token: str | None = None) -> ApprovalClient:
        return ApprovalClient(backend=HttpBackend(self.url, token or self.token))


@contextmanager
def running_gateway(rig: Rig, db_url: str, *, agent: str = "refund-bot",
                    actions: tuple[str, ...] = ("*",), max_pending: int = 20,
                    webhook_url: str | None = None,
                    trusted_annotations: bool = False) -> Iterator[Gate]:
    gw = build_gateway(rig.ledger, rig.config, rig.service.access.web_client())
    _, token = gw.agents.add(agent, actions=actions, max_pending=max_pending,
                             webhook_url=webhook_url, trusted_annotations=trusted_annotations)
    with AsgiServer(build_api(gw, database_url=db_url), port=0) as server:
        yield Gate(server.url, token, agent, gw, server)


@pytest.fixture
def gate(rig: Rig, db_url: str) -> Iterator[Gate]:
    with running_gateway(rig, db_url) as g:
        yield g


@pytest.fixture(params=["embedded", "http"])
def client(request: pytest.FixtureRequest, rig: Rig, db_url: str) -> Iterator[ApprovalClient]:
    """The agent-side client over each transport: in-process, and HTTP to the gateway."""
    if request.param == "embedded":
        yield rig.client
        return
    with running_gateway(rig, db_url) as g:
        http = g.client()
        try:
            yield http
        finally:
            http.close()
