"""The composition root of ``signoff serve``: settings in, a running service out."""

from __future__ import annotations

import logging
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.server.ackfirst import AckFirst, AckFirstExecutor
from bot.server.asgi import AsgiServer
from bot.server.http import HttpServer, Router
from bot.settings import Settings
from bot.slack.app import build_app
from bot.slack.notifier import SlackNotifier
from bot.slack.reviews import DECISION_WORKERS
from bot.slack.webapi import make_web_client, slack_error
from escalation.config import SignoffConfig, load_config
from escalation.engine import EscalationEngine
from escalation.scheduler import start_scheduler
from store.errors import ConfigError
from store.ledger import Ledger

log = logging.getLogger(__name__)


@dataclass
class Service:
    settings: Settings
    config: SignoffConfig
    ledger: Ledger
    slack: WebClient
    app: App
    bot_user: str
    server: HttpServer | AsgiServer | None = None
    scheduler: Any = None
    gate: AckFirst = field(default_factory=AckFirst)
    _closers: list[Any] = field(default_factory=list)

    def serve_http(self, host: str, port: int, *, threads: int = 16) -> HttpServer:
        router = Router(self.app, self.ledger, self.config.policy_version, self.gate)
        self.server = HttpServer(router, host=host, port=port, threads=threads)
        return self.server

    def serve_asgi(self, host: str, port: int, *, threads: int = 16) -> AsgiServer:
        """The agent API and, mounted beside it, ``/slack/events`` and ``/healthz``."""
        from bot.server.api import build_gateway
        from bot.server.api.app import build_api

        router = Router(self.app, self.ledger, self.config.policy_version, self.gate)
        gateway = build_gateway(self.settings, self.ledger, self.config, self.slack)
        api = build_api(gateway, database_url=self.settings.database_url, mount=router,
                        workers=threads)
        self.server = AsgiServer(api, host=host, port=port)
        return self.server

    def start_scheduler(self) -> None:
        self.scheduler = start_scheduler(self.engine(), self.config.sweep_every)

    def engine(self) -> EscalationEngine:
        # The sweep's own client does not retry 5xx on posts: the engine decides what is
        # safe to retry, so a message Slack did post is never sent twice.
        token = require(self.settings.slack_bot_token, "SLACK_BOT_TOKEN", "")
        slack = make_web_client(token, self.settings.slack_api_url, server_error_retries=0)
        owner = f"{socket.gethostname()}:{os.getpid()}"
        return EscalationEngine(self.ledger, self.config, SlackNotifier(slack, self.ledger),
                                owner=owner)

    def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        if self.server is not None:
            self.server.close()
            self.server = None
        for close in self._closers:  # decisions already acked finish before the ledger closes
            close()
        self._closers.clear()
        self.ledger.close()


def require(value: Any, name: str, fix: str) -> str:
    if value is None:
        raise ConfigError(f"{name} is not set; {fix}")
    return str(value.get_secret_value() if hasattr(value, "get_secret_value") else value)


def build_service(settings: Settings, *, check_auth: bool = True) -> Service:
    """Load config, open the ledger, check the Slack token, build the Bolt app."""
    token = require(settings.slack_bot_token, "SLACK_BOT_TOKEN",
                    "set it to the app's Bot User OAuth Token (xoxb-…)")
    secret = require(settings.slack_signing_secret, "SLACK_SIGNING_SECRET",
                     "copy it from the app's Basic Information page")
    config = load_config(settings.config_path)
    ledger = Ledger.open(settings.database_url, audit_key=settings.audit_key_bytes)
    slack = make_web_client(token, settings.slack_api_url)
    bot_user = "?"
    if check_auth:
        try:
            bot_user = str(slack.auth_test()["user_id"])
        except (SlackApiError, SlackClientError, OSError) as exc:
            ledger.close()
            raise ConfigError(
                f"Slack refused SLACK_BOT_TOKEN at {settings.slack_api_url} (auth.test: "
                f"{slack_error(exc)}); check the token and SLACK_API_URL") from exc
    gate = AckFirst()
    pool = AckFirstExecutor(ThreadPoolExecutor(max_workers=DECISION_WORKERS,
                                               thread_name_prefix="signoff-decide"), gate)
    app = build_app(ledger=ledger, config=config, client=slack, signing_secret=secret, pool=pool)
    service = Service(settings, config, ledger, slack, app, bot_user, gate=gate)
    service._closers.append(lambda: pool.shutdown(wait=True))
    return service
