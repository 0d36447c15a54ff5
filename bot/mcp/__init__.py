"""``signoff mcp-proxy``: signoff in front of any MCP server (needs ``signoff[mcp]``)."""
