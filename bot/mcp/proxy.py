"""The MCP server ``signoff mcp-proxy`` runs: the upstreams' tools, each call through signoff.

Built on the official ``mcp`` SDK's low-level ``Server`` (tools/list and tools/call handlers
of our own, over its stdio and streamable-HTTP transports) and its ``Client`` for the
upstream sessions; no protocol code here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
import mcp_types as types
from mcp.server import Server
from mcp.server.stdio import stdio_server

from bot.agent.client import ApprovalClient
from bot.mcp.gate import McpGate, error
from bot.mcp.upstreams import ProxiedTool, Upstreams
from bot.render.mcp_text import mcp_answered, mcp_status_unknown, mcp_unknown_tool
from escalation.config import SignoffConfig
from escalation.policy import Proposal, mismatch
from store.models import Ticket

STATUS_TOOL = "signoff_status"
_STATUS = types.Tool(
    name=STATUS_TOOL,
    description=("The decision on a tool call that answered 'pending': waits a while for "
                 "it, then runs the call if approved and returns its result."),
    input_schema={"type": "object", "properties": {"ticket": {"type": "string"}},
                  "required": ["ticket"]},
    annotations=types.ToolAnnotations(read_only_hint=False, destructive_hint=False),
)

ANSWER_TOOL = "signoff_answer"
_ANSWER = types.Tool(
    name=ANSWER_TOOL,
    description=("Answer a reviewer's question about a tool call (a 'needs_info' answer); "
                 "the request goes back to the reviewer."),
    input_schema={"type": "object", "properties": {"ticket": {"type": "string"},
                                                   "text": {"type": "string"}},
                  "required": ["ticket", "text"]},
    annotations=types.ToolAnnotations(read_only_hint=False, destructive_hint=False),
)


def always_denied(config: SignoffConfig, tool: ProxiedTool) -> bool:
    """A deny rule that holds whatever the arguments and whoever asks: the tool is hidden."""
    probe = Proposal(action=tool.action, requested_by="-", annotations=tool.annotations)
    for rule in config.policy.rules:
        unconditional = (rule.requested_by is None and rule.confidence_below is None
                         and all(p.startswith("annotations.") for p in rule.when))
        if rule.decide == "deny" and unconditional and mismatch(rule, probe) is None:
            return True
    return False


@dataclass
class McpProxy:
    config: SignoffConfig
    upstreams: Upstreams
    gate: McpGate

    @classmethod
    def of(cls, config: SignoffConfig, client: ApprovalClient, *, requested_by: str,
           wait_s: float | None = None) -> McpProxy:
        wait = config.mcp.wait.total_seconds() if wait_s is None else wait_s
        return cls(config, Upstreams(config.mcp), McpGate(client, requested_by, wait))

    def visible(self) -> dict[str, ProxiedTool]:
        return {name: tool for name, tool in self.upstreams.tools.items()
                if not always_denied(self.config, tool)}

    async def list_tools(self, _ctx: Any, _params: Any) -> types.ListToolsResult:
        tools = [tool.listed() for tool in self.visible().values()]
        return types.ListToolsResult(tools=[*tools, _STATUS, _ANSWER])

    async def call_tool(self, _ctx: Any,
                        params: types.CallToolRequestParams) -> types.CallToolResult:
        args = dict(params.arguments or {})
        if params.name == STATUS_TOOL:
            return await self._status(str(args.get("ticket", "")))
        if params.name == ANSWER_TOOL:
            return await self._answer(str(args.get("ticket", "")), str(args.get("text", "")))
        tool = self.visible().get(params.name)
        if tool is None:
            return error(mcp_unknown_tool(params.name, list(self.visible())))
        return await anyio.to_thread.run_sync(self.gate.call, tool, args, self._forward)

    async def _answer(self, ticket_id: str, answer: str) -> types.CallToolResult:
        if await self._owned(ticket_id) is None or not answer.strip():
            return error(mcp_status_unknown(ticket_id))
        try:
            await anyio.to_thread.run_sync(
                lambda: self.gate.client.answer(ticket_id, answer, actor=self.gate.agent))
        except Exception as exc:
            return error(str(exc))
        return types.CallToolResult(content=[types.TextContent(
            text=mcp_answered(ticket_id))])

    async def _owned(self, ticket_id: str) -> tuple[Ticket, ProxiedTool] | None:
        """A ticket this proxy's tools asked for, for the same person; else None."""
        by_action = {t.action: t for t in self.visible().values()}
        try:
            ticket = await anyio.to_thread.run_sync(self.gate.client.get, ticket_id)
        except Exception:
            return None
        tool = by_action.get(ticket.action)
        if tool is None or ticket.requested_by != self.gate.requested_by:
            return None
        return ticket, tool

    async def _status(self, ticket_id: str) -> types.CallToolResult:
        """Picks a pending call up by ticket: only a ticket this proxy's tools asked for, for
        the same person."""
        owned = await self._owned(ticket_id)
        if owned is None:
            return error(mcp_status_unknown(ticket_id))
        ticket, tool = owned
        return await anyio.to_thread.run_sync(self.gate.resume, ticket, tool, self._forward)

    def _forward(self, tool: ProxiedTool, args: dict[str, Any]) -> types.CallToolResult:
        """From a worker thread: the upstream call, made on the event loop its session
        lives on."""
        return anyio.from_thread.run(self.upstreams.call, tool, args)

    def server(self) -> Server[Any]:
        return Server("signoff-mcp-proxy", on_list_tools=self.list_tools,
                      on_call_tool=self.call_tool)

    async def serve_stdio(self) -> None:
        server = self.server()
        async with self.upstreams, stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    async def serve_http(self, host: str, port: int, *, path: str = "/mcp") -> None:
        import uvicorn

        app = self.server().streamable_http_app(streamable_http_path=path, host=host)
        async with self.upstreams:
            config = uvicorn.Config(app, host=host, port=port, log_level="warning")
            await uvicorn.Server(config).serve()
