"""9. The MCP gateway: an allowed tool call through ``signoff mcp-proxy`` against the same
call straight to the upstream (p50/p99, ratio in one run), and a reviewer's decision →
the proxied result back at the MCP client. Real processes: the upstream (the README's
notes server) and the proxy each over stdio, the client the ``mcp`` SDK's."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import yaml
from mcp import Client, StdioServerParameters

from benchmarks.env import CONFIG_YAML, PG_SKIP_NOTE, SECRET, Bench, workspace
from benchmarks.procs import REPO, serve_bot, signoff_env
from benchmarks.report import Row, ScenarioResult, Summary
from bot.sandbox import SlackSandbox
from store.agents import AgentStore
from store.ledger import Ledger
from store.models import DecisionKind, TicketStatus

NAME = "mcp"
TITLE = "MCP gateway (allowed call via signoff mcp-proxy vs direct; decision → result)"
WARMUP = 5
NOTES = REPO / "examples" / "mcp_notes" / "notes_server.py"
RULES = [{"action": "notes.*", "when": {"annotations.readOnlyHint": {"eq": True}},
          "decide": "allow"},
         {"action": "notes.*", "when": {"annotations.destructiveHint": {"eq": True}},
          "decide": "require_approval", "route": "default"}]


def run(bench: Bench) -> ScenarioResult:
    result = ScenarioResult(NAME, TITLE)
    samples = bench.size.overhead_samples
    for backend in bench.backends():
        with bench.database(backend) as url:
            config = _config(bench, backend)
            rows = anyio.run(_measure, bench, url, config, samples, backend)
            result.rows += rows
            result.rows += _over_api(bench, url, config, samples, backend)
    if bench.postgres_url is None:
        result.notes.append(PG_SKIP_NOTE)
    result.notes.append("client, proxy and upstream are separate processes on stdio; the "
                        "proxy embedded (no Slack token: allowed calls post nothing), or "
                        "holding only an agent token for signoff serve's agent API (over "
                        "the agent API); decision = a committed approval row")
    return result


def _config(bench: Bench, backend: str) -> Path:
    doc: dict[str, Any] = yaml.safe_load(CONFIG_YAML)
    doc["policy"]["rules"] = RULES + doc["policy"]["rules"]
    notes = bench.workdir / f"notes-{backend}"
    notes.mkdir(exist_ok=True)
    doc["mcp"] = {"requested_by": "U0BENCHREQ", "upstreams": {"notes": {
        "command": sys.executable, "args": [str(NOTES)], "env": {"NOTES_ROOT": str(notes)},
        "trust_annotations": True}}}
    path = bench.workdir / f"signoff-mcp-{backend}.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    (notes / "todo.txt").write_text("benchmark")
    return path


async def _measure(bench: Bench, url: str, config: Path, samples: int,
                   backend: str) -> list[Row]:
    direct_params, proxy_params = _params(config, {"SIGNOFF_DATABASE_URL": url,
                                                   "SIGNOFF_URL": ""})
    async with Client(direct_params, cache=None) as direct, \
            Client(proxy_params, cache=None) as proxied:
        direct_ms, proxied_ms = await _alternate(direct, proxied, samples)
        decided = await _decision_to_result(proxied, url, max(3, samples // 3))
    ours, base = Summary.of(proxied_ms), Summary.of(direct_ms)
    return [
        Row.of(f"{backend}: allowed tools/call via proxy", "ms", ours, baseline=base,
               target="≤1.2x direct + 2 ms",
               check=lambda s, b: b is not None and s.median <= 1.2 * b.median + 2,
               note="baseline = the same call straight to the upstream"),
        Row.of(f"{backend}: decision → proxied result", "ms", Summary.of(decided),
               target="p50 < 20 ms", check=lambda s, _b: s.median < 20,
               note="approval committed → upstream run → result at the MCP client"),
    ]


def _over_api(bench: Bench, url: str, config: Path, samples: int, backend: str) -> list[Row]:
    """The production shape: the proxy holds nothing but a token for ``signoff serve``."""
    log = bench.workdir / f"mcp-serve-{backend}.log"
    with SlackSandbox(workspace(), signing_secret=SECRET) as sandbox:
        env = signoff_env(database_url=url, api_url=sandbox.api_url,
                          token=sandbox.bot_token, config=config)
        with serve_bot(env, log) as bot:
            ledger = Ledger.open(url)
            try:
                _, token = AgentStore(ledger).add(
                    f"mcp-bench-{time.monotonic_ns()}", actions=("notes.*",),
                    max_pending=100, trusted_annotations=True)
            finally:
                ledger.close()
            direct_ms, proxied_ms = anyio.run(_pairs, config, samples, {
                "SIGNOFF_URL": bot.api_url, "SIGNOFF_AGENT_TOKEN": token})
    return [Row.of(f"{backend}: allowed tools/call via proxy over the agent API", "ms",
                   Summary.of(proxied_ms), baseline=Summary.of(direct_ms),
                   target="≤1.2x direct + 2 ms",
                   check=lambda s, b: b is not None and s.median <= 1.2 * b.median + 2,
                   note="one POST /v1/requests with claim: true, then the upstream call")]


async def _pairs(config: Path, samples: int,
                 proxy_env: dict[str, str]) -> tuple[list[float], list[float]]:
    direct_params, proxy_params = _params(config, proxy_env)
    async with Client(direct_params, cache=None) as direct, \
            Client(proxy_params, cache=None) as proxied:
        return await _alternate(direct, proxied, samples)


def _params(config: Path, proxy_env: dict[str, str]
            ) -> tuple[StdioServerParameters, StdioServerParameters]:
    """The upstream straight, and ``signoff mcp-proxy`` in front of it (``proxy_env``: how
    the proxy reaches signoff, a database or the agent API)."""
    upstream = yaml.safe_load(config.read_text())["mcp"]["upstreams"]["notes"]
    direct = StdioServerParameters(command=upstream["command"], args=upstream["args"],
                                   env=upstream["env"])
    proxy = StdioServerParameters(
        command=sys.executable, args=["-m", "bot.cli", "mcp-proxy", "--wait", "30"],
        env={**proxy_env, "SIGNOFF_CONFIG": str(config), "PYTHONPATH": str(REPO),
             "SIGNOFF_MCP_REQUESTED_BY": "U0BENCHREQ", "PATH": os.environ.get("PATH", "")},
        cwd=str(REPO))
    return direct, proxy


async def _alternate(direct: Client, proxied: Client,
                     samples: int) -> tuple[list[float], list[float]]:
    """The same read each way in turn, after a warm-up: (direct ms, proxied ms)."""
    direct_ms, proxied_ms = [], []
    for i in range(WARMUP + samples):
        d = await _timed(direct, "read_note", {"name": "todo"})
        p = await _timed(proxied, "read_note", {"name": "todo"})
        if i >= WARMUP:
            direct_ms.append(d)
            proxied_ms.append(p)
    return direct_ms, proxied_ms


async def _timed(client: Client, tool: str, args: dict[str, Any]) -> float:
    began = time.perf_counter()
    result = await client.call_tool(tool, args)
    took = (time.perf_counter() - began) * 1000
    assert not result.is_error, result
    return took


async def _decision_to_result(client: Client, url: str, samples: int) -> list[float]:
    ledger = Ledger.open(url)
    try:
        out: list[float] = []
        for i in range(samples):
            committed: list[float] = []
            done = threading.Event()

            def approve(done: threading.Event = done, committed: list[float] = committed
                        ) -> None:
                while not done.is_set():
                    found = ledger.list_tickets([TicketStatus.PENDING])
                    if found:
                        ledger.record_decision(found[0].id, reviewer="U0BENCHREV",
                                               kind=DecisionKind.APPROVE)
                        committed.append(time.perf_counter())
                        return
                    time.sleep(0.005)

            async with anyio.create_task_group() as tg:
                tg.start_soon(anyio.to_thread.run_sync, approve)
                result = await client.call_tool("write_note", {"name": f"n{i}", "text": "x"})
                returned = time.perf_counter()
                done.set()
            assert not result.is_error and committed, result
            out.append((returned - committed[0]) * 1000)
        return out
    finally:
        ledger.close()
