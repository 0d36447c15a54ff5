"""``signoff mcp-proxy``: an MCP server in front of the MCP servers under ``mcp:`` in
signoff.yml, every tool call through policy and, where it says so, a reviewer in Slack."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING

from bot.commands.options import config_option, config_path
from escalation.config import load_config
from store.errors import ConfigError

if TYPE_CHECKING:
    from bot.agent.client import ApprovalClient


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "mcp-proxy", help="gate any MCP server: its tool calls through policy and Slack review",
        description="Serve the tools of the MCP servers under `mcp: upstreams:` in signoff.yml; "
        "each call goes through policy as <upstream>.<tool>. With SIGNOFF_URL and "
        "SIGNOFF_AGENT_TOKEN set it asks `signoff serve`; otherwise it works embedded "
        "(SIGNOFF_DATABASE_URL, SLACK_BOT_TOKEN).")
    config_option(p)
    p.add_argument("--http", metavar="HOST:PORT",
                   help="serve streamable HTTP on HOST:PORT (path /mcp) instead of stdio")
    p.add_argument("--requested-by", metavar="SLACK_USER_ID",
                   help="the Slack user the MCP client acts for (default: mcp.requested_by, "
                   "else SIGNOFF_MCP_REQUESTED_BY)")
    p.add_argument("--wait", type=float, metavar="SECONDS",
                   help="how long one call waits for a reviewer (default: mcp.wait, 50s)")
    p.set_defaults(func=cmd_mcp_proxy)


def cmd_mcp_proxy(args: argparse.Namespace) -> int:
    try:
        import anyio

        from bot.mcp.proxy import McpProxy
    except ImportError as exc:  # the optional extra is missing
        raise ConfigError("signoff mcp-proxy needs the MCP SDK: pip install 'signoff[mcp]' "
                          f"({exc})") from None
    # stdout is the MCP channel on stdio: every log line goes to stderr.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    path = config_path(args)
    config = load_config(path)
    if not config.mcp.upstreams:
        raise ConfigError(f"{path}: mcp.upstreams is empty; add at least one MCP server, e.g. "
                          "mcp: {upstreams: {files: {command: npx, args: [...]}}}")
    who = (args.requested_by or config.mcp.requested_by
           or os.environ.get("SIGNOFF_MCP_REQUESTED_BY"))
    if not who:
        raise ConfigError("signoff mcp-proxy needs the Slack user the MCP client acts for: "
                          "--requested-by U0..., mcp.requested_by in signoff.yml, or "
                          "SIGNOFF_MCP_REQUESTED_BY")
    client = _client(args)
    proxy = McpProxy.of(config, client, requested_by=who, wait_s=args.wait)
    try:
        if args.http:
            host, _, port = args.http.rpartition(":")
            anyio.run(proxy.serve_http, host or "127.0.0.1", int(port))
        else:
            anyio.run(proxy.serve_stdio)
    finally:
        proxy.gate.close()  # outcomes still queued are recorded before the client closes
        client.close()
    return 0


def _client(args: argparse.Namespace) -> ApprovalClient:
    from bot.agent.client import ApprovalClient

    settings = args.settings
    if settings.signoff_url and settings.agent_token is not None:
        from bot.agent.http import HttpBackend

        return ApprovalClient(backend=HttpBackend(settings.signoff_url,
                                                  settings.agent_token.get_secret_value()))
    return ApprovalClient.from_settings(settings)
