"""The notes MCP server of this example: ``python examples/mcp_notes/notes_server.py`` serves
it over stdio. Its tools live in ``bot/demo/notes_server.py`` (the demo fronts the same
server): a read tool marked ``readOnlyHint`` and write/delete tools marked
``destructiveHint``, which signoff's rules read."""

from bot.demo.notes_server import server

if __name__ == "__main__":
    server.run("stdio")
