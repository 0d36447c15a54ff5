"""The agent gateway: agents call ``signoff serve`` over HTTP with a scoped token."""

from __future__ import annotations

from datetime import timedelta

from slack_sdk import WebClient

from bot.agent.client import ApprovalClient
from bot.server.api.gateway import Gateway
from bot.settings import Settings
from escalation.config import SignoffConfig
from store.agents import AgentStore
from store.ledger import Ledger


def build_gateway(settings: Settings, ledger: Ledger, config: SignoffConfig,
                  slack: WebClient | None) -> Gateway:
    """The server-side half: the embedded client (policy, ledger, cards) behind the tokens."""
    return Gateway(client=ApprovalClient(ledger, config, slack=slack), agents=AgentStore(ledger),
                   receipt_ttl=timedelta(seconds=settings.receipt_ttl_s),
                   passphrase=settings.keys_passphrase_bytes)
