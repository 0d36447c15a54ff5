"""The agent gateway: agents call ``signoff serve`` over HTTP with a scoped token."""

from __future__ import annotations

from datetime import timedelta

from slack_sdk import WebClient

from bot import receipts
from bot.agent.inprocess import InProcessBackend
from bot.server.api.gateway import Gateway
from escalation.config import SignoffConfig
from store.agents import AgentStore
from store.ledger import Ledger


def build_gateway(ledger: Ledger, config: SignoffConfig, slack: WebClient | None, *,
                  receipt_ttl: timedelta = receipts.DEFAULT_TTL,
                  passphrase: bytes | None = None) -> Gateway:
    """The server-side half: the in-process backend (policy, ledger, cards) behind tokens."""
    return Gateway(backend=InProcessBackend(ledger, config, slack=slack),
                   agents=AgentStore(ledger), receipt_ttl=receipt_ttl, passphrase=passphrase)
