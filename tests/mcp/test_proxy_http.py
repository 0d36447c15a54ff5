"""``signoff mcp-proxy --http``: remote MCP clients over streamable HTTP, the proxy holding
nothing but an agent token for ``signoff serve``'s agent API (the production shape)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import httpx
import mcp_types as types
import pytest
from mcp import Client

from bot.render import ACTION_APPROVE
from store.models import TicketStatus
from tests.e2e.conftest import running_gateway
from tests.mcp.conftest import REPO, McpRig
from tests.mcp.test_proxy import WRITE, call_while, outcome, pending_ticket, text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def http_proxy(m: McpRig, url: str, token: str) -> Iterator[str]:
    port = free_port()
    env = m.env(SIGNOFF_URL=url, SIGNOFF_AGENT_TOKEN=token,
                SIGNOFF_DATABASE_URL="sqlite:////nonexistent/never-opened.db")
    env.pop("SLACK_BOT_TOKEN")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "mcp-proxy", "--http", f"127.0.0.1:{port}",
         "--wait", "20"], env={**os.environ, **env}, cwd=REPO)
    try:
        deadline = time.monotonic() + 90  # a loaded CI machine starts Python slowly
        while True:
            assert proc.poll() is None, "the proxy exited"
            try:
                httpx.get(f"http://127.0.0.1:{port}/mcp", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the proxy did not start"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres",
                                                           marks=pytest.mark.postgres)],
                         indirect=True)
def test_http_clients_through_the_agent_api(mcp_rig: McpRig, db_url: str) -> None:
    rig = mcp_rig.rig

    def approve() -> None:
        pending_ticket(mcp_rig)
        rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")

    with running_gateway(rig, db_url, agent="notes-proxy", actions=("notes.*",),
                         trusted_annotations=True) as gate, \
            http_proxy(mcp_rig, gate.url, gate.token) as url:
        async def scenario() -> tuple[types.CallToolResult, ...]:
            async with Client(url, cache=None) as one, Client(url, cache=None) as two:
                read = await one.call_tool("read_note", {"name": "todo"})
                denied = await two.call_tool("write_note", {"name": "passwd", "text": "x"})
                wrote = await call_while(two, "write_note", WRITE, approve)
                return read, denied, wrote

        read, denied, wrote = anyio.run(scenario)
    assert not read.is_error
    assert denied.is_error and "system notes are off limits" in text(denied)
    assert not wrote.is_error and "wrote 14 characters" in text(wrote)
    assert mcp_rig.upstream_calls() == [{"tool": "read_note", "args": {"name": "todo"}},
                                        {"tool": "write_note", "args": WRITE}]
    (ticket,) = outcome(mcp_rig, "notes.write_note")
    # The annotations crossed the agent API: the destructive-write rule routed it.
    assert ticket.policy_rule == "mcp-writes" and ticket.route.channel == "C0PAYMENTS"
    assert ticket.status == TicketStatus.EXECUTED and ticket.agent == "notes-proxy"
