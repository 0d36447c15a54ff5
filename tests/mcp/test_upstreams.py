"""Two upstreams offering the same tool names: each clashing name is prefixed with its
upstream, and each prefixed tool still reaches its own server under its own name."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio

from bot.mcp.upstreams import Upstreams
from escalation.mcp_config import McpConfig, McpUpstream
from tests.mcp.conftest import NOTES_SERVER


def test_clashing_names_are_prefixed_per_upstream(tmp_path: Path) -> None:
    roots = {name: tmp_path / name for name in ("alpha", "beta")}
    for root in roots.values():
        root.mkdir()
    config = McpConfig(upstreams={name: McpUpstream(
        command=sys.executable, args=(str(NOTES_SERVER),), env={"NOTES_ROOT": str(root)})
        for name, root in roots.items()})

    async def scenario() -> tuple[set[str], str, str]:
        async with Upstreams(config) as ups:
            tool = ups.tools["beta_write_note"]
            await ups.call(tool, {"name": "n", "text": "to beta"})
            listed = tool.listed()
            return set(ups.tools), tool.action, listed.name

    names, action, listed = anyio.run(scenario)
    assert names == {f"{u}_{t}" for u in roots for t in
                     ("read_note", "write_note", "purge", "sync")}
    assert action == "beta.write_note" and listed == "beta_write_note"
    assert (roots["beta"] / "n.txt").read_text() == "to beta"
    assert not (roots["alpha"] / "n.txt").exists()
