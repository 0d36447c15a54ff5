"""Three sweepers at once, each with its own connection pool, over many tickets: every
reminder, DM and expiry exactly once, counted where Slack (the local sandbox) records them.

PostgreSQL runs 500 tickets (``SELECT … FOR UPDATE SKIP LOCKED`` claims); SQLite the same
test at a smaller size. Rounds tick all three sweepers at the same simulated ``at``, five
simulated seconds apart; tickets are created backdated against the database's clock so the
expiries (guarded by that clock) land.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from slack_sdk import WebClient

from bot.sandbox import Channel, SlackSandbox, User, Workspace
from escalation.engine import EscalationEngine, TickReport
from store.ledger import Ledger
from store.models import DecisionKind, SlackRef, Ticket, TicketStatus
from store.sweep import SweepStore
from tests.escalation.engine_support import GROUPS, MIN, config, open_ticket
from tests.escalation.recording_notifier import RecordingNotifier
from tests.escalation.slack_notifier import PlainSlackNotifier

SWEEPERS = 3
SECOND = timedelta(seconds=1)
INTERVAL = 5 * SECOND


def size(db_url: str) -> int:
    return 60 if db_url.startswith("sqlite") else 500


@pytest.fixture
def sandbox() -> Iterator[SlackSandbox]:
    workspace = Workspace(
        users=[User("U0ONE", "one"), User("U0TWO", "two"), User("U0THREE", "three")],
        usergroups={k: list(v) for k, v in GROUPS.items()},
        channels=[Channel("C0PAYMENTS", "payments")])
    with SlackSandbox(workspace) as sb:
        yield sb


@pytest.fixture
def replicas(db_url: str) -> Iterator[list[Ledger]]:
    ledgers = [Ledger.open(db_url) for _ in range(SWEEPERS)]
    yield ledgers
    for led in ledgers:
        led.close()


def client(sb: SlackSandbox) -> WebClient:
    return WebClient(base_url=sb.api_url, token=sb.bot_token)


def post_card(ledger: Ledger, slack: WebClient, ticket: Ticket) -> None:
    ts = slack.chat_postMessage(channel="C0PAYMENTS", text=f"card {ticket.id}")["ts"]
    ledger.record_message(ticket.id, SlackRef(role="card", channel="C0PAYMENTS", ts=ts))


def sweep(engines: list[EscalationEngine], at: datetime, pool: ThreadPoolExecutor,
          total: TickReport) -> None:
    for report in pool.map(lambda e: e.tick(at=at), engines):
        for name in vars(total):
            setattr(total, name, getattr(total, name) + getattr(report, name))


def overdue(ledger: Ledger, at: datetime) -> list[Ticket]:
    pending = ledger.list_tickets([TicketStatus.PENDING], limit=10_000)
    return [t for t in pending if t.expires_at <= at]


def test_three_sweepers_do_every_step_exactly_once(
        db_url: str, ledger: Ledger, replicas: list[Ledger], sandbox: SlackSandbox) -> None:
    n, slack = size(db_url), client(sandbox)
    base = ledger.db_now() - 60 * SECOND
    tickets = [open_ticket(ledger, "fast", created=base + (i % 7) * SECOND, card=False)
               for i in range(n)]
    for ticket in tickets:
        post_card(ledger, slack, ticket)
    engines = [EscalationEngine(SweepStore(led), config(), PlainSlackNotifier(client(sandbox)),
                                owner=f"replica-{i}", batch_size=25)
               for i, led in enumerate(replicas)]
    total = TickReport()
    with ThreadPoolExecutor(SWEEPERS) as pool:
        for k in range(11):  # base .. base + 50 s
            at = base + k * INTERVAL
            sweep(engines, at, pool, total)
            assert overdue(ledger, at) == []  # nothing pending past its deadline
    ids = {t.id for t in tickets}
    dms = Counter((c.args["text"].split()[0], c.args["channel"])
                  for c in sandbox.calls("chat.postMessage")
                  if c.ok and c.args["channel"].startswith("D"))
    assert set(dms.values()) == {1} and len(dms) == 2 * n
    assert {t for t, _ in dms} == ids
    assert Counter(ch for _, ch in dms) == {sandbox.dm_channel("U0ONE"): n,
                                            sandbox.dm_channel("U0TWO"): n}
    posts = [c.args["text"] for c in sandbox.calls("chat.postMessage") if c.ok]
    reminders = Counter(t.split()[1] for t in posts if t.startswith("Reminder:"))
    assert set(reminders) == ids and set(reminders.values()) == {1}
    updates = Counter(c.args["channel"] + c.args["ts"] for c in sandbox.calls("chat.update"))
    assert len(updates) == n and set(updates.values()) == {1}
    assert SweepStore(ledger).step_counts() == {("remind", "sent"): n, ("notify", "sent"): 2 * n,
                                    ("expire", "sent"): n}
    assert (total.reminders, total.escalations, total.dms, total.expiries) == (n, 2 * n, 2 * n, n)
    assert total.failures == 0 and total.skipped == 0
    assert all(t.status is TicketStatus.EXPIRED for t in ledger.list_tickets(limit=10_000))
    assert ledger.verify_audit().ok


def test_claims_of_a_dead_sweeper_return_after_the_lease(ledger: Ledger,
                                                         replicas: list[Ledger]) -> None:
    created = ledger.db_now() - 30 * MIN
    tickets = [open_ticket(ledger, created=created) for _ in range(12)]
    at = created + 5 * MIN  # every ticket's first reminder is due
    lease = timedelta(seconds=60)
    dead = SweepStore(replicas[0]).claim_due(owner="dead-replica", at=at, limit=5, lease=lease)
    assert len(dead) == 5  # claimed, then the replica dies without doing anything
    notifier = RecordingNotifier(groups=dict(GROUPS))
    live = EscalationEngine(SweepStore(replicas[1]), config(), notifier, owner="live", lease=lease)
    first = live.tick(at=at)
    assert first.reminders == 7 and {t for t, _ in notifier.reminders}.isdisjoint(
        {t.id for t in dead})
    assert live.tick(at=at + 30 * SECOND).claimed == 0  # still leased to the dead one
    later = live.tick(at=at + lease + SECOND)
    assert later.reminders == 5
    assert Counter(t for t, _ in notifier.reminders) == {t.id: 1 for t in tickets}


def test_a_claimed_ticket_is_not_claimed_twice(ledger: Ledger, replicas: list[Ledger]) -> None:
    created = ledger.db_now() - 30 * MIN
    for _ in range(10):
        open_ticket(ledger, created=created)
    at = created + 5 * MIN
    a = SweepStore(replicas[0]).claim_due(owner="a", at=at, limit=6)
    b = SweepStore(replicas[1]).claim_due(owner="b", at=at, limit=6)
    assert len(a) == 6 and len(b) == 4
    assert {t.id for t in a}.isdisjoint({t.id for t in b})


def test_decisions_racing_the_sweepers_stop_chains_without_errors(
        db_url: str, ledger: Ledger, replicas: list[Ledger]) -> None:
    n = size(db_url) // 5
    base = ledger.db_now() - 25 * SECOND  # deadlines (base + 40 s) still ahead: decidable
    tickets = [open_ticket(ledger, "fast", created=base) for _ in range(n)]
    rejected = {t.id for t in tickets[::2]}
    notifier = RecordingNotifier(groups=dict(GROUPS))
    engines = [EscalationEngine(SweepStore(led), config(), notifier, owner=f"r{i}", batch_size=10)
               for i, led in enumerate(replicas[:2])]
    total = TickReport()

    def decide() -> None:
        for ticket_id in rejected:
            replicas[2].record_decision(ticket_id, reviewer="U0LEAD",
                                        kind=DecisionKind.REJECT, reason="no")

    with ThreadPoolExecutor(SWEEPERS) as pool:
        for k in range(11):
            deciding = pool.submit(decide) if k == 4 else None  # while level 1 goes out
            sweep(engines, base + k * INTERVAL, pool, total)
            if deciding:
                deciding.result()
    assert total.failures == 0
    assert {t.id for t in ledger.list_tickets([TicketStatus.REJECTED], limit=10_000)} == rejected
    level2 = {ticket_id for ticket_id, level, _ in notifier.dms if level == 2}
    assert level2 == {t.id for t in tickets} - rejected  # the decision stopped the chain
    assert len(notifier.dms) == len(set(notifier.dms))
    assert ledger.verify_audit().ok
