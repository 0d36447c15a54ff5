"""The demo's MCP client: an unmodified MCP client session whose tool calls go through the real
``signoff mcp-proxy`` (the same ``McpProxy``, in-process) to the notes server, which runs as
a stdio subprocess. Reads pass at once; the write waits for a reviewer in ``#approvals``,
and the client keeps asking as a model would, until the proxy answers with the result.

Needs the ``mcp`` extra (``pip install -e ".[mcp]"``); without it the demo says how to see
this part and goes on without it.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.agent.client import ApprovalClient
from bot.demo.config import REQUESTER
from escalation.config import SignoffConfig
from escalation.mcp_config import McpConfig, McpUpstream

log = logging.getLogger(__name__)
WRITE = {"name": "launch-plan",
         "text": "Launch on Tuesday 10:00 UTC; support on call; roll back if refunds spike."}


def available() -> bool:
    try:
        import mcp  # noqa: F401
    except ImportError:
        return False
    return True


def notes_upstream(root: Path) -> McpConfig:
    """The notes server the proxy fronts; ours, so its annotations may let reads pass."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "runbook.txt").write_text("Restart the worker, then check the queue depth.")
    return McpConfig(requested_by=REQUESTER.id, upstreams={"notes": McpUpstream(
        command=sys.executable, args=("-m", "bot.demo.notes_server"),
        env={"NOTES_ROOT": str(root)}, trust_annotations=True)})


@dataclass
class DemoMcpClient:
    """Runs the session in one daemon thread (its own event loop) until ``stop()``."""

    config: SignoffConfig = field(repr=False)
    client: ApprovalClient = field(repr=False)
    root: Path
    report: Callable[[str], None] = field(repr=False)
    wait_s: float = 5.0
    again_after: float = 45.0
    """Seconds before the write is asked again once it ended (as the demo agent does)."""
    stopping: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> DemoMcpClient:
        self.thread = threading.Thread(target=self._run, daemon=True, name="demo-mcp-client")
        self.thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def _run(self) -> None:
        import anyio

        try:
            anyio.run(self._session)
        except Exception:  # the rest of the demo goes on
            log.exception("the demo's MCP client stopped")


    async def _session(self) -> None:
        import anyio.to_thread
        from mcp import Client

        from bot.mcp.proxy import McpProxy

        config = self.config.model_copy(update={"mcp": notes_upstream(self.root)})
        proxy = McpProxy.of(config, self.client, requested_by=REQUESTER.id,
                            wait_s=self.wait_s)
        try:
            async with proxy.upstreams, Client(proxy.server(), cache=None) as session:
                read = await session.call_tool("read_note", {"name": "runbook"})
                self.report(f"MCP `notes.read_note` passed at once: {_text(read)!r}")
                while not self.stopping.is_set():
                    await self._write(session)
                    await anyio.to_thread.run_sync(self.stopping.wait, self.again_after)
        finally:
            proxy.gate.close()

    async def _write(self, session: Any) -> None:
        """Asks until the proxy answers with more than "pending", as a model told to ask
        again would."""
        import anyio

        self.report("MCP `notes.write_note` asked through signoff mcp-proxy: a card in "
                    "#approvals; the MCP client waits")
        while not self.stopping.is_set():
            result = await session.call_tool("write_note", WRITE)
            doc = _pending(result)
            if doc is None:
                outcome = "failed" if result.is_error else "ran"
                self.report(f"MCP `notes.write_note` {outcome}: {_text(result)}")
                return
            await anyio.sleep(0.2)


def _text(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content).strip()


def _pending(result: Any) -> dict[str, Any] | None:
    """The proxy's "pending" or "needs_info" answer, or None for a result or an error."""
    if result.is_error:
        return None
    try:
        doc = json.loads(_text(result))
    except ValueError:
        return None
    if isinstance(doc, dict) and doc.get("status") in ("pending", "needs_info"):
        return doc
    return None
