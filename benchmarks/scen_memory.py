"""6. Memory: peak RSS (VmHWM) of the real ``signoff serve``, scheduler on when this checkout
has it, against the local Slack-compatible server: idle on an empty database, and with many
pending tickets after its sweep has handled the due ones, a burst of clicks and App Home."""

from __future__ import annotations

import time
from datetime import timedelta

from benchmarks.bulk import analyze, insert_pending, make_due, ticket_id
from benchmarks.env import REVIEWER, Bench
from benchmarks.procs import Server, scheduler_available, serve_bot
from benchmarks.report import Row, ScenarioResult, Summary
from benchmarks.rig import AgentSide, agent_side
from benchmarks.slackreq import burst
from escalation.config import load_config
from store.sweep import SweepStore

NAME = "memory"
TITLE = "Memory: peak RSS of signoff serve"
IDLE_LIMIT_MB = 100.0
LOADED_LIMIT_MB = 150.0
CLICKS = 50
SETTLE_S = 2.0
OVERDUE = timedelta(minutes=31)


def run(bench: Bench) -> ScenarioResult:
    result = ScenarioResult(NAME, TITLE)
    scheduler = scheduler_available()
    idle = _idle(bench, scheduler)
    result.rows.append(Row.of("idle (empty database)", "MB", Summary.single(idle),
                              target=f"<{IDLE_LIMIT_MB:g} MB",
                              check=lambda s, _b: s.median < IDLE_LIMIT_MB))
    pending = bench.size.memory_pending
    loaded = _loaded(bench, scheduler)
    result.rows.append(Row.of(f"{pending:,} pending", "MB", Summary.single(loaded),
                              target=f"<{LOADED_LIMIT_MB:g} MB",
                              check=lambda s, _b: s.median < LOADED_LIMIT_MB))
    result.notes.append(
        f"SQLite; VmHWM from /proc; sweep {'on' if scheduler else 'off (not in checkout)'}; "
        f"loaded case: {bench.size.sweep_due:,} of the tickets due for the sweep, then "
        f"{CLICKS} concurrent Approve clicks and an App Home open")
    return result


def _idle(bench: Bench, scheduler: bool) -> float:
    with bench.database("sqlite") as url, agent_side(bench, url) as side, \
            serve_bot(side.env(), bench.workdir / "memory-idle.log",
                      scheduler=scheduler) as bot:
        time.sleep(SETTLE_S)  # the first sweep tick runs at start
        return bot.peak_rss_mb()


def _loaded(bench: Bench, scheduler: bool) -> float:
    size = bench.size
    config = load_config(bench.config_path)
    with bench.database("sqlite") as url, agent_side(bench, url) as side:
        engine = side.ledger.engine
        insert_pending(engine, config, start=0, count=size.memory_pending,
                       created_at=side.ledger.db_now())
        analyze(engine)
        due = [ticket_id(i) for i in range(size.sweep_due)]
        make_due(engine, config, due, created_at=side.ledger.db_now() - OVERDUE)
        bodies = [side.approve_body(side.request()) for _ in range(CLICKS)]
        with serve_bot(side.env(), bench.workdir / "memory-loaded.log",
                       scheduler=scheduler) as bot:
            side.sandbox.set_request_url(bot.events_url)
            if scheduler:
                _wait_swept(side, len(due))
            _exercise(side, bot, bodies)
            return bot.peak_rss_mb()


def _wait_swept(side: AgentSide, due: int, timeout: float = 600) -> None:
    """Until the sweep has recorded a reminder for every due ticket."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = SweepStore(side.ledger).step_counts()
        if sum(n for (kind, _status), n in counts.items() if kind == "remind") >= due:
            return
        time.sleep(0.2)
    raise TimeoutError("the sweep did not handle the due tickets")


def _exercise(side: AgentSide, bot: Server, bodies: list[bytes]) -> None:
    updates = len(side.sandbox.calls("chat.update"))
    burst(bot.events_url, bodies)
    side.sandbox.wait_until(lambda: len(side.sandbox.calls("chat.update")) >= updates + CLICKS,
                            timeout=60)
    homes = len(side.sandbox.calls("views.publish"))
    side.sandbox.open_app_home(REVIEWER)
    side.sandbox.wait_until(lambda: len(side.sandbox.calls("views.publish")) > homes,
                            timeout=60)
    time.sleep(SETTLE_S)
