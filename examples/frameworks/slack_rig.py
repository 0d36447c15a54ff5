"""The examples' stand-in for Slack and for signoff serve, in this process and offline: the
local Slack-compatible server, the real bot composed as ``signoff serve`` composes it, a
throw-away SQLite ledger, and a reviewer who clicks. In production the agent only needs
``ApprovalClient.from_env()`` (``SIGNOFF_URL`` + ``SIGNOFF_AGENT_TOKEN``)."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bot import ApprovalClient
from bot.render import ACTION_APPROVE, ACTION_EDIT
from bot.sandbox import Channel, SlackSandbox, User, Workspace
from bot.server.compose import SlackAccess, compose
from escalation.config import load_config
from store.db import migrate_url
from store.ledger import Ledger
from store.models import Ticket, TicketStatus

CONFIG = Path(__file__).with_name("signoff.yml")


@dataclass
class Slack:
    sandbox: SlackSandbox
    ledger: Ledger

    def card(self) -> Ticket:
        """The request waiting in #payments."""
        return self.sandbox.wait_until(lambda: next(
            iter(self.ledger.list_tickets([TicketStatus.PENDING])), None))

    def reviewer_edits(self, ticket: Ticket, **values: str) -> Ticket:
        """U0PAYLEAD opens the card's Edit form, changes fields and approves."""
        for _ in range(3):  # as in Slack: a modal the bot opened too late is clicked again
            self.sandbox.click("U0PAYLEAD", action_id=ACTION_EDIT, channel="C0PAYMENTS")
            try:
                self.sandbox.wait_until(lambda: self.sandbox.views("U0PAYLEAD"))
                break
            except TimeoutError:
                continue
        self.sandbox.submit("U0PAYLEAD", {f"arg:{name}": {"signoff_edit_value": value}
                                          for name, value in values.items()})
        return self.decided(ticket)

    def reviewer_approves(self, ticket: Ticket) -> Ticket:
        self.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
        return self.decided(ticket)

    def decided(self, ticket: Ticket) -> Ticket:
        return self.sandbox.wait_until(lambda: next(
            (t for t in [self.ledger.get_ticket(ticket.id)]
             if t.status != TicketStatus.PENDING), None))


@contextmanager
def offline_slack() -> Iterator[tuple[ApprovalClient, Slack]]:
    """An embedded client on a bot that posts cards to the local Slack server."""
    workspace = Workspace(bot_name="signoff", users=[
        User("U0PAYLEAD", "paylead", "Pay Lead", "paylead@example.com"),
        User("U0ALICE", "alice", "Alice", "alice@example.com")],
        channels=[Channel("C0PAYMENTS", "payments")])
    secret = secrets.token_hex(16)
    with tempfile.TemporaryDirectory() as tmp, SlackSandbox(workspace,
                                                            signing_secret=secret) as sandbox:
        url = f"sqlite:///{tmp}/signoff.db"
        migrate_url(url)
        ledger = Ledger.open(url)
        service = compose(load_config(CONFIG), ledger,
                          SlackAccess(sandbox.bot_token, sandbox.api_url, secret),
                          owner="example")
        server = service.serve_http("127.0.0.1", 0).start()
        sandbox.set_request_url(f"{server.url}/slack/events")
        try:
            yield service.agent_client(), Slack(sandbox, ledger)
        finally:
            service.close()
