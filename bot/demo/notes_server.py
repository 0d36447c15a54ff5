"""A small filesystem-like MCP server to put behind ``signoff mcp-proxy`` (the demo's MCP
upstream and the README's worked example): notes (text files) in the folder ``NOTES_ROOT``.
Reading is harmless; writing and deleting are not, and say so in their MCP annotations,
which signoff's rules read. Needs the ``mcp`` extra; run it with
``python -m bot.demo.notes_server``."""

from __future__ import annotations

import os
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

ROOT = Path(os.environ.get("NOTES_ROOT", "notes"))
server = MCPServer("notes")


def _path(name: str) -> Path:
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"{name!r} is not a note name")
    return ROOT / f"{name}.txt"


@server.tool(description="List the notes.", annotations=ToolAnnotations(read_only_hint=True))
def list_notes() -> list[str]:
    return sorted(p.stem for p in ROOT.glob("*.txt"))


@server.tool(description="Read one note.", annotations=ToolAnnotations(read_only_hint=True))
def read_note(name: str) -> str:
    return _path(name).read_text()


@server.tool(description="Overwrite a note with new text.",
             annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True))
def write_note(name: str, text: str) -> str:
    ROOT.mkdir(parents=True, exist_ok=True)
    _path(name).write_text(text)
    return f"wrote {len(text)} characters to {name}"


@server.tool(description="Delete a note.",
             annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True))
def delete_note(name: str) -> str:
    _path(name).unlink()
    return f"deleted {name}"


if __name__ == "__main__":
    server.run("stdio")
