"""1. Ack latency under load: bursts of 1, 10 and 50 signed Approve clicks on distinct
tickets against ``signoff serve``, versus a bare Bolt app that only acks behind the same
server class, and versus a minimal signed handler (no Bolt) that makes the same click write.
Timed from the request going out to the HTTP response read."""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.env import PG_SKIP_NOTE, Bench
from benchmarks.procs import Server, serve_baseline, serve_bot
from benchmarks.report import Row, ScenarioResult, Summary
from benchmarks.rig import AgentSide, agent_side
from benchmarks.slackreq import burst

NAME = "ack_latency"
TITLE = "Ack latency under load (signed Approve clicks → HTTP 200)"
WARMUP = 5
P99_LIMIT_MS = 100.0
MAX_RATIO = 2.0
#: Against the minimal signed handler doing the same write: median, and p99.
MINIMAL_RATIO = 1.5
MINIMAL_RATIO_P99 = 2.0


def run(bench: Bench) -> ScenarioResult:
    result = ScenarioResult(NAME, TITLE)
    for backend in bench.backends():
        result.rows += _backend(bench, backend)
    if bench.postgres_url is None:
        result.notes.append(PG_SKIP_NOTE)
    result.notes.append("client: http.client in threads, one new connection per click, in "
                        "the benchmark process; bot and baselines each in their own process "
                        "(16 waitress threads); the minimal handler verifies the signature "
                        "and writes the click in its own transaction, without Bolt")
    return result


def _backend(bench: Bench, backend: str) -> list[Row]:
    rows = []
    with bench.database(backend) as url, agent_side(bench, url) as side:
        env = side.env()
        logs = bench.workdir
        with serve_bot(env, logs / f"ack-bot-{backend}.log") as bot, \
                serve_baseline(env, logs / f"ack-base-{backend}.log") as base, \
                serve_baseline(env, logs / f"ack-min-{backend}.log", minimal=True) as least:
            _warm(side, bot, (base, least))
            for concurrency, rounds in bench.size.ack_rounds.items():
                ours, theirs, minimal = _level(side, bot, (base, least), concurrency, rounds)
                rows.append(_row(backend, concurrency, ours, theirs))
                rows.append(_minimal_row(backend, concurrency, ours, minimal))
    return rows


def _warm(side: AgentSide, bot: Server, bases: tuple[Server, Server]) -> None:
    bodies = [side.approve_body(side.request()) for _ in range(WARMUP)]
    before = _updates(side)
    for body in bodies:
        for base in bases:
            burst(base.events_url, [body])
        burst(bot.events_url, [body])
    _settle(side, before + WARMUP)


def _level(side: AgentSide, bot: Server, bases: tuple[Server, Server], concurrency: int,
           rounds: int) -> tuple[list[float], list[float], list[float]]:
    ours: list[float] = []
    theirs: list[float] = []
    minimal: list[float] = []
    for _ in range(rounds):
        bodies = [side.approve_body(side.request()) for _ in range(concurrency)]
        theirs += [s.seconds * 1000 for s in burst(bases[0].events_url, bodies)]
        minimal += [s.seconds * 1000 for s in burst(bases[1].events_url, bodies)]
        before = _updates(side)
        ours += [s.seconds * 1000 for s in burst(bot.events_url, bodies)]
        _settle(side, before + concurrency)  # post-ack work ends before the next burst
    return ours, theirs, minimal


def _updates(side: AgentSide) -> int:
    return len(side.sandbox.calls("chat.update"))


def _settle(side: AgentSide, target: int) -> None:
    """Wait for the bot to finish the decisions it acked (one chat.update each)."""
    side.sandbox.wait_until(lambda: _updates(side) >= target, timeout=60)


def _row(backend: str, concurrency: int, ours: Sequence[float],
         theirs: Sequence[float]) -> Row:
    last = concurrency == 50
    target = f"≤{MAX_RATIO:g}x baseline" + (f"; p99 <{P99_LIMIT_MS:g} ms" if last else "")

    def check(stats: Summary, base: Summary | None) -> bool:
        within = base is None or stats.median <= MAX_RATIO * base.median
        return within and (not last or stats.p99 < P99_LIMIT_MS)

    return Row.of(f"{backend}, {concurrency} concurrent", "ms", Summary.of(ours),
                  baseline=Summary.of(theirs), target=target, check=check)


def _minimal_row(backend: str, concurrency: int, ours: Sequence[float],
                 minimal: Sequence[float]) -> Row:
    def check(stats: Summary, base: Summary | None) -> bool:
        return base is None or (stats.median <= MINIMAL_RATIO * base.median
                                and stats.p99 <= MINIMAL_RATIO_P99 * base.p99)

    return Row.of(f"{backend}, {concurrency} concurrent, vs a minimal signed handler "
                  "writing the click", "ms", Summary.of(ours), baseline=Summary.of(minimal),
                  target=f"≤{MINIMAL_RATIO:g}x median, ≤{MINIMAL_RATIO_P99:g}x p99",
                  check=check)
