"""The MCP servers the proxy fronts: one MCP client session each (the ``mcp`` SDK's
``Client``), their tools listed once at start, named for the proxy's own tools/list."""

from __future__ import annotations

import sys
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.client import Transport
from mcp.client.stdio import stdio_client

from escalation.mcp_config import McpConfig, McpUpstream
from escalation.policy import untrusted


@dataclass(frozen=True)
class ProxiedTool:
    """An upstream tool as the proxy offers it."""

    name: str
    """Its name in the proxy's tools/list: the upstream's, or ``<upstream>_<tool>`` when
    two upstreams offer the same name."""
    upstream: str
    tool: types.Tool
    trusted: bool = False
    """Whether the upstream is marked ``trust_annotations`` (see :data:`UNTRUSTED`)."""

    @property
    def action(self) -> str:
        """The action policy sees: ``<upstream>.<tool>``."""
        return f"{self.upstream}.{self.tool.name}"

    @property
    def annotations(self) -> dict[str, Any]:
        """``readOnlyHint``, ``destructiveHint``... as the upstream's tools/list gave them."""
        if self.tool.annotations is None:
            return {}
        found = self.tool.annotations.model_dump(by_alias=True, exclude_none=True,
                                                 mode="json")
        return found if self.trusted else untrusted(found)

    def listed(self) -> types.Tool:
        """As the proxy lists it. Without the upstream's output schema: through the proxy a
        call may also answer "pending", which no upstream schema describes (clients check
        structured results against a listed schema)."""
        return self.tool.model_copy(update={"name": self.name, "output_schema": None})


def _target(upstream: McpUpstream) -> Transport | str:
    if upstream.url is not None:
        return upstream.url
    assert upstream.command is not None
    params = StdioServerParameters(command=upstream.command, args=list(upstream.args),
                                   env=dict(upstream.env) or None, cwd=upstream.cwd)
    # The upstream's stderr goes to this process's own (fd 2), never to a replaced
    # sys.stderr without a file descriptor (an embedding host's, a test runner's).
    return stdio_client(params, errlog=sys.__stderr__ or sys.stderr)


class Upstreams:
    """Open with ``async with``; closing ends the sessions (and stdio servers)."""

    def __init__(self, config: McpConfig) -> None:
        self.config = config
        self.clients: dict[str, Client] = {}
        self.tools: dict[str, ProxiedTool] = {}
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Upstreams:
        try:
            listed: list[tuple[str, types.Tool]] = []
            for name, upstream in self.config.upstreams.items():
                client = await self._stack.enter_async_context(
                    Client(_target(upstream), cache=None))
                self.clients[name] = client
                listed += [(name, tool) for tool in (await client.list_tools()).tools]
        except BaseException:
            await self._stack.aclose()
            raise
        clashes = Counter(tool.name for _, tool in listed)
        for upstream_name, tool in listed:
            exposed = (tool.name if clashes[tool.name] == 1
                       else f"{upstream_name}_{tool.name}")
            trusted = self.config.upstreams[upstream_name].trust_annotations
            self.tools[exposed] = ProxiedTool(exposed, upstream_name, tool, trusted)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def call(self, tool: ProxiedTool, args: dict[str, Any]) -> types.CallToolResult:
        return await self.clients[tool.upstream].call_tool(tool.tool.name, args)
