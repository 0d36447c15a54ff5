"""7. The agent gateway: decision → HTTP long-poll return; ``POST /v1/requests`` against its
floor; 1,000 agents waiting at once (added RSS, ack p99 with and without them); receipt
verification. Against the real ``signoff serve`` process; agents over real HTTP."""

from __future__ import annotations

import asyncio
import http.client
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from sqlalchemy import update

from benchmarks import scen_resume
from benchmarks.bulk import insert_pending, ticket_id
from benchmarks.env import ACTION, PG_SKIP_NOTE, REQUESTER, Bench
from benchmarks.procs import Server, serve_bot
from benchmarks.report import Row, ScenarioResult, Summary
from benchmarks.rig import AgentSide, agent_side
from benchmarks.slackreq import burst, post_signed
from bot import receipts
from escalation.config import load_config
from store.agents import AgentStore
from store.models import Ticket
from store.tables import TicketRow

NAME = "gateway"
TITLE = "Agent gateway (long-poll wake-up, POST /v1/requests, 1,000 waiters, receipts)"
WARMUP = 3
WAITERS = 1_000
ACK_BURST = 50
_amounts = iter(range(10_000_000, 20_000_000))


def run(bench: Bench) -> ScenarioResult:
    result = ScenarioResult(NAME, TITLE)
    samples = bench.size.resume_samples
    for backend in bench.backends():
        with bench.database(backend) as url, agent_side(bench, url) as side, \
                serve_bot(side.env(), bench.workdir / f"gateway-{backend}.log") as bot:
            name, token = _token(side)
            polling = scen_resume.measure(bench, backend, samples).resume
            result.rows.append(_long_poll(side, bot, token, backend, samples, polling))
            result.rows.append(_post_request(side, bot, token, backend, samples))
            result.rows += _waiters(side, bot, (name, token), backend,
                                    bench.size.ack_rounds[50])
    result.rows.append(_verify_receipts(bench.size.overhead_samples * 10))
    if bench.postgres_url is None:
        result.notes.append(PG_SKIP_NOTE)
    result.notes.append("agents: http.client / httpx on loopback in the benchmark process; "
                        "signoff serve in its own process (API on uvicorn, Slack on waitress)")
    return result


def _token(side: AgentSide) -> tuple[str, str]:
    agent, token = AgentStore(side.ledger).add(f"bench-{random.randrange(10**9)}",
                                               actions=("*",), max_pending=100_000)
    return agent.name, token


def _body() -> dict[str, object]:
    return {"action": ACTION, "args": {"amount": next(_amounts), "customer": "cus_42"},
            "reason": "customer was double charged", "requested_by": REQUESTER}


def _create(client: httpx.Client, side: AgentSide) -> Ticket:
    doc = client.post("/v1/requests", json=_body()).json()
    return side.ledger.get_ticket(doc["id"])


# -- decision → long-poll return ---------------------------------------------------------------

def _long_poll(side: AgentSide, bot: Server, token: str, backend: str, samples: int,
               polling: list[float]) -> Row:
    timings = []
    with httpx.Client(base_url=bot.api_url, headers={"Authorization": f"Bearer {token}"},
                      timeout=60) as client:
        for i in range(WARMUP + samples):
            ticket = _create(client, side)
            returned: list[float] = []
            poll = threading.Thread(target=_wait, args=(bot.api_url, token, ticket.id, returned))
            poll.start()
            time.sleep(random.uniform(0.05, 0.1))  # the long-poll is parked by now
            sent = post_signed(bot.events_url, side.approve_body(ticket))
            poll.join(timeout=60)
            if i >= WARMUP and returned:
                timings.append((returned[0] - sent.started) * 1000)
    return Row.of(f"{backend}: decision → long-poll returns", "ms", Summary.of(timings),
                  baseline=Summary.of(polling), target="p50 <10 ms; p99 <50 ms",
                  check=lambda s, _b: s.median < 10 and s.p99 < 50,
                  note="from the click going out; baseline: the embedded polling client")


def _wait(url: str, token: str, ticket_id: str, out: list[float]) -> None:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        conn.request("GET", f"/v1/requests/{ticket_id}?wait=30",
                     headers={"Authorization": f"Bearer {token}"})
        doc = json.loads(conn.getresponse().read())
        if doc.get("status") != "pending":
            out.append(time.monotonic())
    finally:
        conn.close()


# -- POST /v1/requests against its floor ---------------------------------------------------------

def _post_request(side: AgentSide, bot: Server, token: str, backend: str,
                  samples: int) -> Row:
    """Floor: the same HTTP hop to a bare endpoint (no token → 401 before any work) plus
    the request's own work in process (policy, INSERT, audit event, card post)."""
    ours, floor = [], []
    with httpx.Client(base_url=bot.api_url, headers={"Authorization": f"Bearer {token}"},
                      timeout=60) as client, httpx.Client(base_url=bot.api_url) as bare:
        for i in range(WARMUP + samples):
            hop = _timed(lambda: bare.get("/v1/requests/t0"))
            work = _timed(side.request)
            mine = _timed(lambda: client.post("/v1/requests", json=_body()))
            if i >= WARMUP:
                ours.append(mine)
                floor.append(hop + work)
    return Row.of(f"{backend}: POST /v1/requests", "ms", Summary.of(ours),
                  baseline=Summary.of(floor), target="≤1.5x floor",
                  check=lambda s, b: b is not None and s.median <= 1.5 * b.median,
                  note="floor = bare HTTP hop + in-process request()")


def _timed(fn: Callable[[], object]) -> float:
    began = time.perf_counter()
    fn()
    return (time.perf_counter() - began) * 1000


# -- 1,000 waiters -----------------------------------------------------------------------------

def _waiters(side: AgentSide, bot: Server, agent: tuple[str, str], backend: str,
             rounds: int) -> list[Row]:
    name, token = agent
    ids = _parked_tickets(side, name)
    quiet = _acks(side, bot, rounds)
    before = bot.rss_mb()
    with _held(bot.api_url, token, ids):
        _until_parked(bot, WAITERS)
        time.sleep(1.0)
        added = bot.rss_mb() - before
        busy = _acks(side, bot, rounds)
    return [
        Row.of(f"{backend}: {WAITERS} waiters, added RSS", "MB", Summary.single(added),
               target="<50 MB", check=lambda s, _b: s.median < 50),
        Row.of(f"{backend}: ack p99 at {ACK_BURST} concurrent, {WAITERS} waiting", "ms",
               Summary.of(busy), baseline=Summary.of(quiet), target="p99 ≤1.2x without",
               check=lambda s, b: b is not None and s.p99 <= 1.2 * b.p99),
    ]


def _parked_tickets(side: AgentSide, agent: str) -> list[str]:
    """``WAITERS`` pending tickets of ``agent``, written straight into the table."""
    first = 5_000_000
    insert_pending(side.ledger.engine, load_config(side.config_path), start=first,
                   count=WAITERS, created_at=side.ledger.db_now())
    ids = [ticket_id(n) for n in range(first, first + WAITERS)]
    with side.ledger.engine.begin() as conn:
        conn.execute(update(TicketRow).where(TicketRow.id.in_(ids)).values(agent=agent))
    return ids


def _until_parked(bot: Server, count: int, timeout: float = 180.0) -> None:
    """Until the server reports ``count`` long-polls waiting (its ``/v1/healthz``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(f"{bot.api_url}/v1/healthz", timeout=10).json()["waiting"] >= count:
            return
        time.sleep(0.2)
    raise RuntimeError(f"fewer than {count} long-polls were parked after {timeout:g} s")


def _acks(side: AgentSide, bot: Server, rounds: int) -> list[float]:
    out: list[float] = []
    for _ in range(rounds):
        bodies = [side.approve_body(side.request()) for _ in range(ACK_BURST)]
        before = len(side.sandbox.calls("chat.update"))
        out += [s.seconds * 1000 for s in burst(bot.events_url, bodies)]
        side.sandbox.wait_until(
            lambda b=before: len(side.sandbox.calls("chat.update")) >= b + ACK_BURST,
            timeout=60)
    return out


@contextmanager
def _held(url: str, token: str, ids: list[str]) -> Iterator[None]:
    """``ids`` long-polled at once from one event loop in a thread, until the block ends."""
    stop = threading.Event()

    async def hold() -> None:
        limits = httpx.Limits(max_connections=len(ids) + 10)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120,
                                     headers={"Authorization": f"Bearer {token}"}) as c:
            tasks = [asyncio.create_task(c.get(f"/v1/requests/{i}", params={"wait": 60}))
                     for i in ids]
            while not stop.is_set():
                await asyncio.sleep(0.1)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    thread = threading.Thread(target=asyncio.run, args=(hold(),), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=60)


# -- receipts ----------------------------------------------------------------------------------

def _verify_receipts(n: int) -> Row:
    kid, pem, public = receipts.generate_key()
    ticket = _ticket_for_receipt()
    token = receipts.issue(ticket, kid=kid, private_pem=pem, agent="bench",
                           now=datetime.now(UTC))
    keys = {"keys": [public]}
    per = []
    for _ in range(n):
        began = time.perf_counter()
        receipts.verify(token, action=ticket.action, args=ticket.final_args, keys=keys)
        per.append((time.perf_counter() - began) * 1000)
    return Row.of("receipt verify (bot.receipts.verify)", "ms", Summary.of(per),
                  target="<0.2 ms", check=lambda s, _b: s.median < 0.2)


def _ticket_for_receipt() -> Ticket:
    from store.models import args_hash

    args = {"amount": 120, "customer": "cus_42"}
    now = datetime.now(UTC)
    return Ticket.model_validate({
        "id": "tbench", "idempotency_key": None, "action": ACTION, "args": args,
        "args_hash": args_hash(args), "final_args": args, "final_args_hash": args_hash(args),
        "review_type": "approval", "summary": None, "reason": "", "evidence": (),
        "confidence": None, "requested_by": REQUESTER, "agent": "bench", "run_id": None,
        "tier": "high", "route": {"channel": "C0BENCH"}, "policy_version": "bench",
        "policy_rule": None, "status": "approved", "version": 2, "approvals": ("U0REVIEW",),
        "decided_by": "U0REVIEW", "decided_at": now, "created_at": now, "expires_at": now,
        "next_action_at": None, "escalation_level": 0, "escalation_loop": 0,
        "escalation": None, "card": None})
