"""The proxy's rig: the e2e rig (sandbox Slack, the bot behind its server, a real database)
with an ``mcp:`` section fronting the notes server, and ``signoff mcp-proxy`` launched as a
real subprocess that a real MCP client session talks to."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp import Client, StdioServerParameters

from escalation.config import load_config
from store.db import migrate_url
from store.ledger import Ledger
from tests.conftest import PG_SKIP, pg_base_url, pg_schema_url, sqlite_url
from tests.e2e.conftest import EXAMPLE, Rig, running_rig, workspace

REPO = Path(__file__).parents[2]
NOTES_SERVER = Path(__file__).with_name("notes_server.py")
REQUESTER = "U0REQUESTER"

RULES: list[dict[str, Any]] = [
    {"name": "mcp-reads", "action": "notes.*",
     "when": {"annotations.readOnlyHint": {"eq": True}}, "decide": "allow"},
    {"name": "no-purge", "action": "notes.purge", "decide": "deny",
     "reason": "purging is never done by an agent"},
    {"name": "no-system-notes", "action": "notes.write_note", "when": {"name": "passwd"},
     "decide": "deny", "reason": "system notes are off limits"},
    {"name": "plans-get-questions", "action": "notes.write_note", "when": {"name": "plan"},
     "decide": "require_approval", "route": "payments", "tier": "high"},
    {"name": "mcp-writes", "action": "notes.*",
     "when": {"annotations.destructiveHint": {"eq": True}}, "decide": "require_approval",
     "route": "payments", "review": "edit", "tier": "high"},
    {"name": "sync", "action": "notes.sync", "decide": "allow"},
]


def write_config(tmp_path: Path, notes: Path, *, upstream: dict[str, Any] | None = None) -> Path:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["policy"]["rules"] = RULES + doc["policy"]["rules"]
    doc["mcp"] = {"requested_by": REQUESTER, "wait": "20s", "upstreams": {"notes": upstream or {
        "command": sys.executable, "args": [str(NOTES_SERVER)],
        "env": {"NOTES_ROOT": str(notes)}, "trust_annotations": True}}}
    path = tmp_path / "signoff.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@dataclass
class McpRig:
    rig: Rig
    config_path: Path
    notes: Path
    db_url: str

    def env(self, **extra: str) -> dict[str, str]:
        return {"SIGNOFF_DATABASE_URL": self.db_url, "SIGNOFF_CONFIG": str(self.config_path),
                "SLACK_BOT_TOKEN": self.rig.sandbox.bot_token,
                "SLACK_API_URL": self.rig.sandbox.api_url,
                "PYTHONPATH": str(REPO), "SIGNOFF_URL": "", "SIGNOFF_AGENT_TOKEN": "", **extra}

    def upstream_calls(self) -> list[dict[str, Any]]:
        log = self.notes / "calls.jsonl"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    def proxy_params(self, *extra: str, env: dict[str, str] | None = None,
                     wait: float = 20) -> StdioServerParameters:
        return StdioServerParameters(
            command=sys.executable,
            args=["-m", "bot.cli", "mcp-proxy", "--wait", str(wait), *extra],
            env=env or self.env(), cwd=str(REPO))

    @asynccontextmanager
    async def session(self, *extra: str, wait: float = 20,
                      env: dict[str, str] | None = None) -> AsyncIterator[Client]:
        """A real MCP client session with ``signoff mcp-proxy`` over stdio."""
        async with Client(self.proxy_params(*extra, wait=wait, env=env), cache=None,
                          read_timeout_seconds=60) as client:
            yield client


@pytest.fixture(params=["sqlite"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLite for these (each test starts subprocesses); a test asks for PostgreSQL with
    ``@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)``."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "signoff.db")
        migrate_url(url)
        yield url
        return
    base = pg_base_url()
    if base is None:
        pytest.skip(PG_SKIP)
    with pg_schema_url(base) as url:
        migrate_url(url)
        yield url


@pytest.fixture
def mcp_rig(ledger: Ledger, db_url: str, tmp_path: Path) -> Iterator[McpRig]:
    notes = tmp_path / "notes"
    notes.mkdir()
    path = write_config(tmp_path, notes)
    os.environ.pop("SIGNOFF_MCP_REQUESTED_BY", None)
    with running_rig(ledger, load_config(path), workspace()) as rig:
        yield McpRig(rig, path, notes, db_url)
