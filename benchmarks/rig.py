"""The local Slack-compatible server and an agent-side client, built from settings as an
agent process builds it (``ApprovalClient.from_settings``); the bot itself is the real
``signoff serve`` process (see :mod:`benchmarks.procs`)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.env import ACTION, CHANNEL, REQUESTER, REVIEWER, SECRET, Bench, workspace
from benchmarks.procs import signoff_env
from benchmarks.slackreq import approve_payload, form_body
from bot.agent.client import ApprovalClient
from bot.sandbox import SlackSandbox
from bot.settings import load_settings
from store.ledger import Ledger
from store.models import Ticket

_amounts = itertools.count(1)


@dataclass
class AgentSide:
    sandbox: SlackSandbox
    ledger: Ledger
    client: ApprovalClient
    database_url: str
    config_path: Path

    def env(self) -> dict[str, str]:
        """Environment for ``signoff serve`` (and the agent process) on this rig."""
        return signoff_env(database_url=self.database_url, api_url=self.sandbox.api_url,
                           token=self.sandbox.bot_token, config=self.config_path)

    def request(self) -> Ticket:
        """A refund request, as an agent makes it: policy, ticket, card."""
        ticket = self.client.request(ACTION, {"amount": next(_amounts), "customer": "cus_42"},
                                     reason="customer was double charged",
                                     requested_by=REQUESTER, agent="bench-agent")
        if ticket.card is None:
            raise RuntimeError(f"card of {ticket.id} was not posted")
        return ticket

    def approve_body(self, ticket: Ticket) -> bytes:
        assert ticket.card is not None
        return form_body(approve_payload(self.sandbox, REVIEWER, ticket.id, CHANNEL,
                                         ticket.card.ts))


@contextmanager
def agent_side(bench: Bench, database_url: str) -> Iterator[AgentSide]:
    with SlackSandbox(workspace(), signing_secret=SECRET) as sandbox:
        settings = load_settings(database_url=database_url, slack_bot_token=sandbox.bot_token,
                                 slack_api_url=sandbox.api_url, config_path=bench.config_path)
        client = ApprovalClient.from_settings(settings)
        try:
            yield AgentSide(sandbox, client.ledger, client, database_url, bench.config_path)
        finally:
            client.close()
