"""The composition root: one place that wires the bot, used by every entry point.

``signoff serve`` (:func:`build_service`), ``signoff demo`` and the end-to-end tests all call
:func:`compose`, so what the tests exercise is what production runs: the Bolt app, its
decision pool behind the ack-first front door, the HTTP router, the escalation sweep and an
agent-side client on the same ledger and config.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor as JobThreads
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.agent.client import ApprovalClient
from bot.server.ackfirst import AckFirst, AckFirstExecutor
from bot.server.asgi import AsgiServer
from bot.server.http import HttpServer, Router
from bot.settings import Settings
from bot.slack.app import build_app
from bot.slack.breakglass import BreakGlassNotifier, offers
from bot.slack.clicks import ClickInbox
from bot.slack.notifier import SlackNotifier
from bot.slack.plan_sweep import PlanSweep, SweepWithPlans
from bot.slack.reviews import REFRESH_WORKERS, decision_workers
from bot.slack.surfaces import Surfaces
from bot.slack.webapi import make_web_client, slack_error
from escalation.breakglass import SweepWithBreakGlass, UnwitnessedSweep
from escalation.canaries import CanaryInjector, SweepWithCanaries
from escalation.config import SignoffConfig, load_config
from escalation.engine import EscalationEngine
from escalation.scheduler import SEAL_EVERY, SEAL_EVERY_SQLITE, start_scheduler
from store.canaries import CanaryStore
from store.errors import ConfigError
from store.ledger import Ledger
from store.plans import PlanStore
from store.sweep import SweepStore

log = logging.getLogger(__name__)
#: How often each sweeping replica replays clicks whose processing stopped (a dead replica).
CLICK_REPLAY_EVERY = timedelta(seconds=5)


@dataclass(frozen=True)
class SlackAccess:
    """Where the bot reaches Slack's Web API, and the secret Slack signs its requests with."""

    token: str
    api_url: str
    signing_secret: str
    app_token: str | None = None  # Socket Mode only

    @classmethod
    def of(cls, settings: Settings, *, socket_mode: bool = False) -> SlackAccess:
        """In Socket Mode nothing reaches the app over HTTP: no signing secret is needed."""
        token = require(settings.slack_bot_token, "SLACK_BOT_TOKEN",
                        "set it to the app's Bot User OAuth Token (xoxb-…)")
        secret = "" if socket_mode and settings.slack_signing_secret is None else require(
            settings.slack_signing_secret, "SLACK_SIGNING_SECRET",
            "copy it from the app's Basic Information page")
        app_token = (settings.slack_app_token.get_secret_value()
                     if settings.slack_app_token is not None else None)
        return cls(token, settings.slack_api_url, secret, app_token)

    def web_client(self, *, server_error_retries: int = 2,
                   rate_limit_retries: int = 3) -> WebClient:
        return make_web_client(self.token, self.api_url, rate_limit_retries=rate_limit_retries,
                               server_error_retries=server_error_retries)


def default_owner() -> str:
    """Who claims sweep work in the ledger: this host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Service:
    """The running bot: what :func:`compose` built, and what to stop at the end."""

    config: SignoffConfig
    ledger: Ledger
    access: SlackAccess
    slack: WebClient
    app: App
    acks: AckFirst
    owner: str
    bot_user: str = "?"
    inbox: ClickInbox | None = None
    server: HttpServer | None = None
    api: AsgiServer | None = None
    scheduler: Any = None
    canary_rng: Any = None  # the canary draw's random source (None: the system's)
    _closers: list[Any] = field(default_factory=list)

    def serve_http(self, host: str, port: int, *, threads: int = 16,
                   reuse_port: bool = False) -> HttpServer:
        """The HTTP front door (not started: call ``start()`` or ``serve_forever()``);
        ``reuse_port``: other processes may listen on the same port (``--processes``)."""
        router = Router(self.app, self.ledger, self.config.policy_version, self.acks)
        self.server = HttpServer(router, host=host, port=port, threads=threads,
                                 acks=self.acks, reuse_port=reuse_port)
        return self.server

    def serve_api(self, host: str, port: int, *, settings: Settings,
                  reuse_port: bool = False) -> AsgiServer:
        """The agent API (``/v1``) on uvicorn, beside the Slack front door (not started)."""
        from bot.server.api import build_gateway
        from bot.server.api.app import build_api

        gateway = build_gateway(self.ledger, self.config, self.access.web_client(),
                                receipt_ttl=timedelta(seconds=settings.receipt_ttl_s),
                                passphrase=settings.keys_passphrase_bytes)
        self.api = AsgiServer(build_api(gateway, database_url=settings.database_url),
                              host=host, port=port, reuse_port=reuse_port)
        return self.api

    def start_webhooks(self) -> None:
        """Deliver agents' decision webhooks from the ledger (every replica may)."""
        from bot.server.webhooks import WebhookSender
        from store.agents import WebhookStore

        sender = WebhookSender(WebhookStore(self.ledger)).start()
        self._closers.insert(0, sender.close)

    def start_scheduler(self) -> None:
        sqlite = self.ledger.dialect == "sqlite"
        self.scheduler = start_scheduler(self.scheduled(), self.config.sweep_every,
                                         seal_every=SEAL_EVERY_SQLITE if sqlite else SEAL_EVERY)
        if self.inbox is not None:  # clicks whose replica died after the ack
            self.scheduler.add_executor(JobThreads(max_workers=1), alias="clicks")
            self.scheduler.add_job(self.inbox.replay, "interval",
                                   seconds=CLICK_REPLAY_EVERY.total_seconds(),
                                   id="signoff-click-replay", executor="clicks",
                                   max_instances=1, coalesce=True)

    def replay_clicks(self) -> None:
        """Decide, in the background, the clicks acknowledged before a crash or restart."""
        if self.inbox is not None:
            threading.Thread(target=self.inbox.replay, name="signoff-click-replay",
                             daemon=True).start()

    def scheduled(self) -> SweepWithPlans:
        """What each scheduler tick runs: :meth:`sweep`, then the plans' deadlines."""
        return SweepWithPlans(self.sweep(), self.plan_sweep())

    def plan_sweep(self) -> PlanSweep:
        surfaces = Surfaces(self.access.web_client(server_error_retries=0), self.ledger)
        return PlanSweep(PlanStore(self.ledger), surfaces, self.config.execution_lease)

    def sweep(self) -> EscalationEngine | SweepWithCanaries | SweepWithBreakGlass:
        """What each scheduler tick runs: the escalation engine, then any canary draw, then
        the escalation of unwitnessed break-glass."""
        engine = self.engine()
        inner: EscalationEngine | SweepWithCanaries = engine
        if self.config.canaries:
            poster = Surfaces(self.access.web_client(server_error_retries=0), self.ledger)
            store = CanaryStore(self.ledger)
            injector = (CanaryInjector(store, self.config, poster) if self.canary_rng is None
                        else CanaryInjector(store, self.config, poster, rng=self.canary_rng))
            inner = SweepWithCanaries(engine, injector)
        if self.config.break_glass is None:
            return inner
        slack = self.access.web_client(server_error_retries=0)
        notifier = BreakGlassNotifier(Surfaces(slack, self.ledger), slack)
        return SweepWithBreakGlass(inner, UnwitnessedSweep(self.ledger, self.config, notifier))

    def engine(self) -> EscalationEngine:
        # The sweep's own client does not retry 5xx on posts: the engine decides what is
        # safe to retry, so a message Slack did post is never sent twice.
        slack = self.access.web_client(server_error_retries=0)
        return EscalationEngine(SweepStore(self.ledger), self.config,
                                SlackNotifier(slack, self.ledger, lambda: self.config,
                                              break_glass=offers(self.config)),
                                owner=self.owner)

    def agent_client(self, **kwargs: Any) -> ApprovalClient:
        """An agent-side client on this ledger and config, with its own Slack client."""
        return ApprovalClient(self.ledger, self.config, slack=self.access.web_client(),
                              **kwargs)

    def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        if self.server is not None:
            self.server.close()
            self.server = None
        if self.api is not None:
            self.api.close()
            self.api = None
        for close in self._closers:  # decisions already acked finish before the ledger closes
            close()
        self._closers.clear()


def require(value: Any, name: str, fix: str) -> str:
    if value is None:
        raise ConfigError(f"{name} is not set; {fix}")
    return str(value.get_secret_value() if hasattr(value, "get_secret_value") else value)


def compose(config: SignoffConfig, ledger: Ledger, access: SlackAccess, *,
            owner: str | None = None, bot_user: str = "?",
            owns_ledger: bool = True, hold_clicks: float = 0.0) -> Service:
    """Wire the bot on an open ledger: the Bolt app with its decision pool behind the
    ack-first front door. ``close()`` drains the pool, then closes the ledger if owned."""
    # The app's threads never sleep through a 429: the bot queues those (bot.slack.retry).
    slack = access.web_client(rate_limit_retries=0)
    acks = AckFirst()
    workers = decision_workers(ledger.engine.dialect.name)
    pool = AckFirstExecutor(ThreadPoolExecutor(max_workers=workers,
                                               thread_name_prefix="signoff-decide"), acks)
    refresh_pool = AckFirstExecutor(ThreadPoolExecutor(max_workers=REFRESH_WORKERS,
                                                       thread_name_prefix="signoff-refresh"),
                                    acks)
    owner = owner or default_owner()
    app, inbox = build_app(ledger=ledger, config=config, client=slack,
                           signing_secret=access.signing_secret, pool=pool, owner=owner,
                           refresh_pool=refresh_pool, hold_clicks=hold_clicks)
    service = Service(config, ledger, access, slack, app, acks, owner, bot_user, inbox)
    service._closers += [inbox.close, lambda: pool.shutdown(wait=True),
                         lambda: refresh_pool.shutdown(wait=True)]
    if owns_ledger:
        service._closers.append(ledger.close)
    return service


def build_service(settings: Settings, *, check_auth: bool = True,
                  socket_mode: bool = False) -> Service:
    """``signoff serve``: load config, open the ledger, check the Slack token, compose."""
    access = SlackAccess.of(settings, socket_mode=socket_mode)
    config = load_config(settings.config_path)
    ledger = Ledger.open(settings.database_url, audit_key=settings.audit_key_bytes)
    service = compose(config, ledger, access, hold_clicks=settings.test_hold_clicks)
    if check_auth:
        try:
            service.bot_user = str(service.slack.auth_test()["user_id"])
        except (SlackApiError, SlackClientError, OSError) as exc:
            service.close()
            raise ConfigError(
                f"Slack refused SLACK_BOT_TOKEN at {settings.slack_api_url} (auth.test: "
                f"{slack_error(exc)}); check the token and SLACK_API_URL") from exc
    return service
