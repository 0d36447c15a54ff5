"""A real upstream MCP server for the proxy's tests: notes in a folder (``NOTES_ROOT``).
Every call it receives is appended to ``calls.jsonl`` there, so tests see exactly what
reached the upstream. Run: ``python tests/mcp/notes_server.py`` (stdio) or with
``--http PORT``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

ROOT = Path(os.environ.get("NOTES_ROOT", "."))
server = MCPServer("notes")


def _log(tool: str, **args: object) -> None:
    with (ROOT / "calls.jsonl").open("a") as f:
        f.write(json.dumps({"tool": tool, "args": args}) + "\n")


@server.tool(description="Read a note.", annotations=ToolAnnotations(read_only_hint=True))
def read_note(name: str) -> str:
    _log("read_note", name=name)
    path = ROOT / f"{name}.txt"
    return path.read_text() if path.exists() else ""


@server.tool(description="Overwrite a note with new text.",
             annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True))
def write_note(name: str, text: str) -> str:
    _log("write_note", name=name, text=text)
    (ROOT / f"{name}.txt").write_text(text)
    return f"wrote {len(text)} characters to {name}"


@server.tool(description="Delete every note.",
             annotations=ToolAnnotations(destructive_hint=True))
def purge() -> str:
    _log("purge")
    return "purged"


@server.tool(description="Start a sync, which kills this server mid-call.",
             annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False))
def sync() -> str:
    _log("sync")
    os._exit(3)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--http":
        server.settings.port = int(sys.argv[2]) if hasattr(server, "settings") else 0
        server.run("streamable-http")
    else:
        server.run("stdio")
