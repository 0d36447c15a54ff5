"""3. Decision to resume: a signed Approve click arrives at ``signoff serve``; an agent in
another process on the same host is blocked in ``ApprovalClient.wait``. Timed from the
click going out to ``wait()`` returning (both read CLOCK_MONOTONIC, shared by processes)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from benchmarks.env import PG_SKIP_NOTE, Bench
from benchmarks.procs import REPO, serve_bot
from benchmarks.report import Row, ScenarioResult, Summary
from benchmarks.rig import agent_side
from benchmarks.slackreq import post_signed

NAME = "decision_to_resume"
TITLE = "Decision to resume (signed click → wait() returns in another process)"
P50_LIMIT_MS = 100.0
P99_LIMIT_MS = 300.0
WARMUP = 3
JITTER_S = 0.1  # decisions land at random points of the agent's 20 ms polling cycle
IDLE_S = 1.0


def run(bench: Bench) -> ScenarioResult:
    result = ScenarioResult(NAME, TITLE)
    for backend in bench.backends():
        timings = measure(bench, backend, bench.size.resume_samples)
        result.rows.append(Row.of(backend, "ms", Summary.of(timings.resume),
                                  target=f"p50 <{P50_LIMIT_MS:g} ms; p99 <{P99_LIMIT_MS:g} ms",
                                  check=_check))
    if bench.postgres_url is None:
        result.notes.append(PG_SKIP_NOTE)
    result.notes.append("agent: ApprovalClient.from_env() with its default polling "
                        "(every 20 ms) in its own process; bot: signoff serve")
    return result


def _check(stats: Summary, _base: Summary | None) -> bool:
    return stats.median < P50_LIMIT_MS and stats.p99 < P99_LIMIT_MS


@dataclass
class Timings:
    create: list[float] = field(default_factory=list)
    """``client.request()`` in ms."""
    resume: list[float] = field(default_factory=list)
    """Click sent → ``wait()`` returned, in ms."""
    serve_idle_rss_mb: float = 0.0
    serve_peak_rss_mb: float = 0.0


def measure(bench: Bench, backend: str, samples: int) -> Timings:
    out = Timings()
    with bench.database(backend) as url, agent_side(bench, url) as side:
        env = side.env()
        log = bench.workdir / f"resume-bot-{backend}.log"
        with serve_bot(env, log) as bot, _agent(env) as agent:
            time.sleep(IDLE_S)
            out.serve_idle_rss_mb = bot.rss_mb()
            for i in range(WARMUP + samples):
                started = time.perf_counter()
                ticket = side.request()
                created = (time.perf_counter() - started) * 1000
                agent.send(ticket.id)
                time.sleep(random.uniform(0, JITTER_S))
                sent = post_signed(bot.events_url, side.approve_body(ticket))
                done = agent.returned(ticket.id)
                if i >= WARMUP:
                    out.create.append(created)
                    out.resume.append((done - sent.started) * 1000)
            out.serve_peak_rss_mb = bot.peak_rss_mb()
    return out


class Agent:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the agent process exited ({self.proc.poll()})")
        doc: dict[str, Any] = json.loads(line)
        return doc

    def send(self, ticket_id: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(ticket_id + "\n")
        self.proc.stdin.flush()
        if self._read().get("ready") != ticket_id:
            raise RuntimeError("the agent is out of step")

    def returned(self, ticket_id: str) -> float:
        doc = self._read()
        if doc.get("id") != ticket_id or doc.get("status") != "approved":
            raise RuntimeError(f"unexpected answer from the agent: {doc}")
        return float(doc["returned"])


@contextmanager
def _agent(env: dict[str, str]) -> Iterator[Agent]:
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.agent"], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=str(REPO))
    agent = Agent(proc)
    try:
        if not agent._read().get("started"):
            raise RuntimeError("the agent did not start")
        yield agent
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
