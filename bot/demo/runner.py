"""``signoff demo`` in one object: the local Slack-compatible server and its page, the real
bot behind the real HTTP server, a throw-away database, the demo config and the demo agent.

    with Demo(DemoOptions(port=0, fast=True)) as demo:
        print(demo.url)
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from bot.agent.client import ApprovalClient
from bot.demo import mcp_client
from bot.demo.agent import DemoAgent, Say
from bot.demo.config import demo_config, demo_config_text, demo_workspace, timing
from bot.demo.history import post_suggestion, seed_history
from bot.demo.plan import DemoPlan
from bot.demo.web import DemoSandbox
from bot.server.compose import Service, SlackAccess, compose
from bot.server.http import HttpServer
from escalation.config import SignoffConfig
from escalation.quality import CanaryRequest
from store.db import migrate_url
from store.ledger import Ledger

log = logging.getLogger(__name__)
MCP_MISSING = ("(the MCP part of the demo needs the mcp extra: pip install -e \".[mcp]\"; "
               "going on without it)")


@dataclass(frozen=True)
class DemoOptions:
    port: int = 8765
    host: str = "127.0.0.1"
    fast: bool = False
    agent: bool = True
    say: Say = print
    #: Seconds before the agent proposes a decided (or expired) request again; None: the
    #: default for the speed (fast: 15 s, normal: 45 s, so the demo is never left empty).
    again_after: float | None = None


@dataclass
class Demo:
    options: DemoOptions = field(default_factory=DemoOptions)
    config: SignoffConfig | None = None
    sandbox: DemoSandbox | None = None
    server: HttpServer | None = None
    ledger: Ledger | None = None
    client: ApprovalClient | None = None
    agent: DemoAgent | None = None
    plan: DemoPlan | None = None
    service: Service | None = None
    mcp: mcp_client.DemoMcpClient | None = None
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        assert self.sandbox is not None, "the demo is not started"
        return self.sandbox.base_url + "/"

    @property
    def database_path(self) -> Path:
        assert self._tmp is not None, "the demo is not started"
        return Path(self._tmp.name) / "signoff-demo.db"

    def start(self) -> Demo:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        opts = self.options
        self.config = config = demo_config(opts.fast)
        text = demo_config_text(timing(opts.fast))
        self._tmp = tempfile.TemporaryDirectory(prefix="signoff-demo-",
                                                ignore_cleanup_errors=True)
        self.ledger = ledger = _open_ledger(f"sqlite:///{self.database_path}")
        seed_history(ledger, config)  # decided requests, so a policy suggestion appears
        secret = secrets.token_hex(16)
        self.sandbox = sandbox = DemoSandbox(demo_workspace(), host=opts.host, port=opts.port,
                                             signing_secret=secret, fast=opts.fast)
        sandbox.start()
        # The same composition as ``signoff serve``: ack-first front door, sweep and all.
        self.service = service = compose(
            config, ledger, SlackAccess(sandbox.bot_token, sandbox.api_url, secret),
            owner="signoff-demo")
        self.server = service.serve_http("127.0.0.1", 0, threads=8).start()
        sandbox.set_request_url(f"{self.server.url}/slack/events")
        service.canary_rng = OneCanary()
        post_suggestion(ledger, config, text, service.slack)
        service.start_scheduler()
        self.client = client = service.agent_client(poll_interval=0.1, max_poll_interval=0.5)
        if opts.agent:
            assert client.slack is not None
            again = opts.again_after if opts.again_after is not None else (
                15.0 if opts.fast else 45.0)
            self.agent = DemoAgent(client, client.slack, say=opts.say, again_after=again,
                                   decisions=ledger.decisions).start()
            self.plan = DemoPlan(client, self.agent.report).start()
            self._start_mcp_client(config, client, self.agent)

    def _start_mcp_client(self, config: SignoffConfig, client: ApprovalClient,
                          agent: DemoAgent) -> None:
        """An MCP client's calls through ``signoff mcp-proxy``, when the extra is there."""
        if not mcp_client.available():
            self.options.say(MCP_MISSING)
            return
        assert self._tmp is not None
        self.mcp = mcp_client.DemoMcpClient(config, client, Path(self._tmp.name) / "notes",
                                            report=agent.report,
                                            again_after=agent.again_after or 45.0).start()

    def close(self) -> None:
        if self.mcp is not None:
            self.mcp.stop(timeout=2.0)
        if self.agent is not None:
            self.agent.stop(timeout=2.0)
        if self.plan is not None:
            self.plan.stop(timeout=2.0)
            self.plan = None
        if self.service is not None:
            _quietly(self.service.close)  # sweep, server, decisions in flight, the ledger
        elif self.ledger is not None:
            self.ledger.close()
        if self.sandbox is not None:
            _quietly(self.sandbox.stop)
        if self._tmp is not None:
            # The MCP notes server may still be writing as it exits (a busy host can outlast
            # the stop's wait): a file that lands mid-removal must not fail the shutdown.
            self._tmp.cleanup()
            shutil.rmtree(self._tmp.name, ignore_errors=True)
        self.agent = self.service = self.server = self.sandbox = self.ledger = None
        self.mcp = None
        self._tmp = None

    def __enter__(self) -> Demo:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class OneCanary:
    """The demo's canary draw: a canary follows the first payments request, and no other."""

    def __init__(self) -> None:
        self.drawn = 0

    def random(self) -> float:
        self.drawn += 1
        return 0.0 if self.drawn == 1 else 1.0

    def choice(self, seq: Sequence[CanaryRequest]) -> CanaryRequest:
        return seq[0]


def _open_ledger(url: str) -> Ledger:
    migrate_url(url)
    return Ledger.open(url)


def _quietly(stop: Any) -> None:
    try:
        stop()
    except Exception:  # closing must go on with the other parts
        log.exception("demo part did not stop cleanly")
