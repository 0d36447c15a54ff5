"""9. Many agents at once: N agent processes loop request → wait through the HTTP gateway
(``POST /v1/requests``, push-woken ``GET /v1/requests/{id}?wait=30``) while a clicker
approves every card with signed requests to ``/slack/events`` of the real ``signoff serve``
(sweep on, the sandbox as Slack). Approvals per second; request, end-to-end and
click → resume percentiles; PostgreSQL transactions per approval (``pg_stat_database``)."""

from __future__ import annotations

import json
import os
import queue
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.env import CHANNEL, PG_SKIP_NOTE, REVIEWER, Bench, pg_schema
from benchmarks.procs import REPO, Server, serve_bot
from benchmarks.report import Row, ScenarioResult, Summary
from benchmarks.rig import AgentSide, agent_side
from benchmarks.slackreq import approve_payload, form_body, post_signed
from bot.render import ACTION_APPROVE
from bot.render.ids import parse_button_value
from store.agents import AgentStore
from store.db import migrate_url, normalise_url

NAME = "many_agents"
TITLE = "Many agents at once (request → wait over the gateway, a clicker approving each card)"
CLICKERS = 8
#: ``signoff serve --processes`` of the PostgreSQL case that runs more than one.
PROCESSES = 2
RESUME_P99_MS = 300.0
BENCH_DATABASE = "signoff_bench_many"


def run(bench: Bench) -> ScenarioResult:
    result = ScenarioResult(NAME, TITLE)
    for backend in bench.backends():
        with _database(bench, backend) as url:
            for agents in bench.size.many_agents:
                result.rows += _case(bench, backend, url, agents, result)
            if backend == "postgresql":  # replicas share PostgreSQL, woken by LISTEN
                most = max(bench.size.many_agents)
                result.rows += _case(bench, backend, url, most, result, processes=PROCESSES)
    if bench.postgres_url is None:
        result.notes.append(PG_SKIP_NOTE)
    result.notes.append(
        f"each agent: its own process (http.client), {bench.size.many_seconds:g} s of "
        f"request → wait; clicker: {CLICKERS} threads posting signed Approve clicks as cards "
        "appear in the sandbox; signoff serve with its sweep, one per case; approvals/s "
        "ratio is against the 1-agent case of the same run; the PostgreSQL case with "
        f"{PROCESSES} serve processes: signoff serve --processes {PROCESSES} (the kernel "
        "spreads connections over them), CPU summed over the processes")
    return result


@contextmanager
def _database(bench: Bench, backend: str) -> Iterator[str]:
    """SQLite as every scenario has it; on PostgreSQL a throw-away schema in a database of
    its own (``signoff_bench_many``, created once and kept: dropping a database waits for a
    checkpoint), so its ``pg_stat_database`` counters see only this scenario's transactions
    and not those of other work on the same server."""
    if backend == "sqlite":
        with bench.database(backend) as url:
            yield url
        return
    assert bench.postgres_url is not None
    base = make_url(normalise_url(bench.postgres_url))
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                  {"n": BENCH_DATABASE}).first()
            if exists is None:
                conn.exec_driver_sql(f'CREATE DATABASE "{BENCH_DATABASE}"')
    finally:
        admin.dispose()
    own = base.set(database=BENCH_DATABASE).render_as_string(hide_password=False)
    with pg_schema(own) as url:
        migrate_url(url)
        yield url


def _case(bench: Bench, backend: str, url: str, agents: int,
          result: ScenarioResult, *, processes: int = 1) -> list[Row]:
    label = f"{backend}, {agents} agent{'s' if agents > 1 else ''}"
    if processes > 1:
        label += f", {processes} serve processes"
    log = bench.workdir / f"many-{backend}-{agents}-{processes}.log"
    with agent_side(bench, url) as side, serve_bot(side.env(), log, scheduler=True,
                                                   processes=processes) as bot:
        _until_children(bot, processes - 1)
        tokens = [AgentStore(side.ledger).add(f"many-{random.randrange(10**9)}-{i}",
                                              actions=("*",), max_pending=100_000)[1]
                  for i in range(agents)]
        clicks: dict[str, float] = {}
        xacts, cpu = _pg_counts(url), _cpu_seconds(bot.proc.pid)
        with _clicker(side, bot, clicks):
            lines = _run_agents(bench, bot, tokens, backend)
        cpu = _cpu_seconds(bot.proc.pid) - cpu
        time.sleep(1.2)  # PostgreSQL flushes its statistics at most once a second
        xacts = tuple(b - a for a, b in zip(xacts, _pg_counts(url), strict=True))
    done = [ln for ln in lines if ln[4] == "approved"]
    if len(done) < len(lines):
        result.notes.append(f"{label}: {len(lines) - len(done)} requests ended not approved")
    if not done:
        raise RuntimeError(f"{label}: no request was approved")
    span = max(ln[3] for ln in done) - min(ln[1] for ln in done)
    rate = len(done) / span
    rows = [
        Row.of(f"{label}: approvals/s", "/s", Summary.single(rate),
               baseline=_first_rate(result, backend), target="≥ fewer agents' rate",
               check=lambda s, b: b is None or s.median >= b.median),
        Row.of(f"{label}: request (POST /v1/requests)", "ms",
               Summary.of([(ln[2] - ln[1]) * 1000 for ln in done])),
        Row.of(f"{label}: end to end (request → resumed)", "ms",
               Summary.of([(ln[3] - ln[1]) * 1000 for ln in done])),
        Row.of(f"{label}: click → resume", "ms",
               Summary.of([(ln[3] - clicks[ln[0]]) * 1000 for ln in done if ln[0] in clicks]),
               target=f"p99 <{RESUME_P99_MS:g} ms",
               check=lambda s, _b: s.p99 < RESUME_P99_MS),
    ]
    # What an approval costs, whatever else the machine runs: serve's CPU time (user +
    # system, /proc) and, on PostgreSQL, its transactions and new connections.
    rows.append(Row.of(f"{label}: serve CPU per approval", "ms",
                       Summary.single(cpu * 1000 / len(done)),
                       note="utime + stime of signoff serve over the case"))
    if backend == "postgresql":
        rows.append(Row.of(f"{label}: transactions per approval", "xact",
                           Summary.single(xacts[0] / len(done)),
                           note="pg_stat_database.xact_commit delta over the case"))
        rows.append(Row.of(f"{label}: connections opened per approval", "conn",
                           Summary.single(xacts[1] / len(done)),
                           note="pg_stat_database.sessions delta over the case"))
    return rows


def _first_rate(result: ScenarioResult, backend: str) -> Summary | None:
    """The approvals/s of this backend's first (fewest agents) case, the ratio's baseline."""
    for row in result.rows:
        if row.case.startswith(f"{backend}, ") and row.case.endswith("approvals/s"):
            return Summary.single(row.median)
    return None


def _pg_counts(url: str) -> tuple[int, int]:
    """Transactions committed and sessions opened so far in the database (0, 0 on SQLite)."""
    if not url.startswith("postgresql"):
        return 0, 0
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            xacts, sessions = conn.execute(text(
                "SELECT xact_commit, sessions FROM pg_stat_database "
                "WHERE datname = current_database()")).one()
            return int(xacts), int(sessions)
    finally:
        engine.dispose()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` and its child processes so far."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(_cpu_seconds(child) for child in _children(pid))


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        return [int(p) for p in fh.read().split()]


def _until_children(bot: Server, n: int) -> None:
    """Wait until ``signoff serve --processes`` has started its other processes, each
    listening (its line in the log)."""
    deadline = time.monotonic() + 60
    while bot.log.read_text(errors="replace").count("one more process serving") < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"signoff serve did not start {n} more processes")
        time.sleep(0.1)


Line = tuple[str, float, float, float, str]


def _run_agents(bench: Bench, bot: Server, tokens: list[str], backend: str) -> list[Line]:
    outs = [bench.workdir / f"many-{backend}-{len(tokens)}-{i}.txt" for i in range(len(tokens))]
    procs = [subprocess.Popen([sys.executable, "-m", "benchmarks.gateway_agent", bot.api_url,
                               token, str(bench.size.many_seconds), str(out), str(i)],
                              cwd=str(REPO))
             for i, (token, out) in enumerate(zip(tokens, outs, strict=True))]
    for proc in procs:
        if proc.wait(timeout=bench.size.many_seconds + 120) != 0:
            raise RuntimeError(f"an agent process exited with {proc.returncode}")
    lines: list[Line] = []
    for out in outs:
        for raw in Path(out).read_text().splitlines():
            tid, sent, created, resumed, status = raw.split()
            lines.append((tid, float(sent), float(created), float(resumed), status))
    return lines


@contextmanager
def _clicker(side: AgentSide, bot: Server, clicks: dict[str, float]) -> Iterator[None]:
    """Approve every card the bot posts, from ``CLICKERS`` threads; ``clicks`` gets the
    time each click went out."""
    stop = threading.Event()
    todo: queue.Queue[tuple[str, str] | None] = queue.Queue()

    def watch() -> None:
        # Each call read once: rescanning every call at each change cost the benchmark
        # process (and the sandbox's lock, which Slack's answers to serve wait for) more
        # with every approval of the run.
        _, seen = side.sandbox.calls_after(0)
        while not stop.is_set():
            since = side.sandbox.version
            posts, seen = side.sandbox.calls_after(seen, "chat.postMessage")
            for call in posts:
                card = _card(call.args, call.response)
                if card is not None:
                    todo.put(card)
            side.sandbox.wait_for_change(since, 0.2)

    def click() -> None:
        while (item := todo.get()) is not None:
            tid, ts = item
            body = form_body(approve_payload(side.sandbox, REVIEWER, tid, CHANNEL, ts))
            sent = post_signed(bot.events_url, body)
            clicks[tid] = sent.started

    threads = [threading.Thread(target=watch, daemon=True)]
    threads += [threading.Thread(target=click, daemon=True) for _ in range(CLICKERS)]
    for t in threads:
        t.start()
    try:
        yield
    finally:
        stop.set()
        for _ in range(CLICKERS):
            todo.put(None)
        for t in threads:
            t.join(timeout=30)


def _card(args: object, response: object) -> tuple[str, str] | None:
    """(ticket id, ts) of a posted request card with an Approve button."""
    if not isinstance(args, dict) or not isinstance(response, dict) or not response.get("ok"):
        return None
    blocks = args.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    for block in blocks or []:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == ACTION_APPROVE:
                return parse_button_value(str(element["value"])).ticket_id, str(response["ts"])
    return None
