"""Time travel through whole chains: tick(at=...) minute by minute, never sleeping.

Tickets are created backdated against the database's clock, so every ``at`` the tests tick
at lies in the database's past, and the expiry (guarded by the database's clock) can land.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from escalation.engine import EscalationEngine, TickReport
from store.db import make_engine, migrate
from store.ledger import Ledger
from store.models import DecisionKind, TicketStatus
from store.sweep import SweepStore
from tests.escalation.engine_support import GROUPS, MIN, audit_kinds, config, open_ticket
from tests.escalation.recording_notifier import RecordingNotifier


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    url = f"sqlite:///{tmp_path / 'signoff.db'}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    led = Ledger.open(url)
    yield led
    led.close()


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier(groups=dict(GROUPS))


@pytest.fixture
def engine(ledger: Ledger, notifier: RecordingNotifier) -> EscalationEngine:
    return EscalationEngine(SweepStore(ledger), config(), notifier, owner="replica-1")


def run(engine: EscalationEngine, start: datetime, minutes: range) -> TickReport:
    total = TickReport()
    for m in minutes:
        report = engine.tick(at=start + m * MIN)
        for name in vars(total):
            setattr(total, name, getattr(total, name) + getattr(report, name))
    return total


def test_whole_chain_reminds_escalates_loops_and_expires(
        ledger: Ledger, engine: EscalationEngine, notifier: RecordingNotifier) -> None:
    created = ledger.db_now() - 75 * MIN
    ticket = open_ticket(ledger, created=created)
    report = run(engine, created, range(0, 75))
    # 0-10 channel (reminder at 5), U0ONE at 10, reminders 15-25, team at 30, reminder 35,
    # second pass: U0ONE at 40, reminders 45-55, team at 60, reminder 65; expired at 70.
    assert [w / MIN for _, w in notifier.reminders] == [5, 15, 20, 25, 35, 45, 50, 55, 65]
    assert [(lvl, user) for _, lvl, user in notifier.dms] == [
        (1, "U0ONE"), (2, "U0TWO"), (2, "U0THREE"), (1, "U0ONE"), (2, "U0TWO"), (2, "U0THREE")]
    assert notifier.notes == [(ticket.id, 1), (ticket.id, 2)] * 2
    assert notifier.expiries == [ticket.id]
    assert (report.reminders, report.escalations, report.dms, report.expiries) == (9, 4, 6, 1)
    assert report.failures == report.lost == report.skipped == 0
    done = ledger.get_ticket(ticket.id)
    assert done.status is TicketStatus.EXPIRED and done.decided_by == "signoff"
    assert done.next_action_at is None
    kinds = audit_kinds(ledger, ticket.id)
    assert (kinds["reminded"], kinds["escalated"], kinds["expired"]) == (9, 4, 1)
    assert SweepStore(ledger).oncall_targets(ticket.id) == {"U0ONE", "U0TWO", "U0THREE"}
    assert [m.user for m in done.messages if m.role == "dm"] == [u for _, _, u in notifier.dms]
    assert ledger.verify_audit().ok


def test_ticking_again_sends_nothing_twice(
        ledger: Ledger, engine: EscalationEngine, notifier: RecordingNotifier) -> None:
    created = ledger.db_now() - 75 * MIN
    open_ticket(ledger, created=created)
    run(engine, created, range(0, 75))
    sent = (list(notifier.reminders), list(notifier.dms), list(notifier.expiries))
    again = run(engine, created, range(0, 80))
    assert again.claimed == 0
    assert (notifier.reminders, notifier.dms, notifier.expiries) == sent


def test_decision_between_steps_stops_the_chain(
        ledger: Ledger, engine: EscalationEngine, notifier: RecordingNotifier) -> None:
    created = ledger.db_now() - 20 * MIN  # deadline in 50 minutes by the database's clock
    ticket = open_ticket(ledger, created=created)
    run(engine, created, range(0, 13))
    assert [u for _, _, u in notifier.dms] == ["U0ONE"]
    ledger.record_decision(ticket.id, reviewer="U0ONE", kind=DecisionKind.APPROVE)
    report = run(engine, created, range(13, 120))
    assert report.claimed == 0
    assert len(notifier.reminders) == 1 and [u for _, _, u in notifier.dms] == ["U0ONE"]
    assert notifier.expiries == []
    assert ledger.get_ticket(ticket.id).status is TicketStatus.APPROVED


def test_restart_after_a_long_outage_sends_each_overdue_level_once(
        ledger: Ledger, engine: EscalationEngine, notifier: RecordingNotifier) -> None:
    created = ledger.db_now() - 72 * MIN
    ticket = open_ticket(ledger, created=created)
    run(engine, created, range(0, 12))  # reminder at 5, U0ONE at 10; then the sweep stops
    report = engine.tick(at=created + 66 * MIN)
    # Overdue: reminders, the team (pass 1), U0ONE and the team again (pass 2), a reminder.
    # Each level is DM'd once, for its latest pass; no stale reminders.
    assert [(lvl, u) for _, lvl, u in notifier.dms] == [
        (1, "U0ONE"), (1, "U0ONE"), (2, "U0TWO"), (2, "U0THREE")]
    assert len(notifier.reminders) == 1
    assert report.skipped == 1 + 8  # the team's first-pass DM; reminders 15-25, 35, 45-55, 65
    steps = {(s.loop, s.level, s.step): s.status
             for s in SweepStore(ledger).escalation_steps(ticket.id)}
    assert steps[(0, 2, "notify")] == "skipped" and steps[(1, 2, "notify")] == "sent"
    run(engine, created, range(66, 72))
    assert notifier.expiries == [ticket.id] and len(notifier.dms) == 4
    assert ledger.get_ticket(ticket.id).status is TicketStatus.EXPIRED


def test_outage_past_the_deadline_only_expires(
        ledger: Ledger, engine: EscalationEngine, notifier: RecordingNotifier) -> None:
    created = ledger.db_now() - 90 * MIN
    ticket = open_ticket(ledger, created=created)
    report = engine.tick(at=created + 90 * MIN)
    assert (notifier.dms, notifier.reminders, notifier.expiries) == ([], [], [ticket.id])
    assert report.expiries == 1 and report.skipped == 4 + 9
    assert audit_kinds(ledger, ticket.id)["expired"] == 1


def test_expiry_waits_for_the_database_clock(
        ledger: Ledger, engine: EscalationEngine, notifier: RecordingNotifier) -> None:
    created = ledger.db_now()
    ticket = open_ticket(ledger, created=created)
    engine.tick(at=created + 71 * MIN)  # the engine's clock is ahead of the database's
    current = ledger.get_ticket(ticket.id)
    assert current.status is TicketStatus.PENDING and notifier.expiries == []
    assert current.next_action_at == current.expires_at  # handled by the first tick after it
    assert len(notifier.dms) == 3  # both levels of the latest pass


def test_card_that_never_reached_slack_starts_the_chain_at_once(
        ledger: Ledger, engine: EscalationEngine, notifier: RecordingNotifier) -> None:
    ticket = open_ticket(ledger, created=ledger.db_now() - MIN, card=False)
    ticket = ledger.mark_delivery_failed(ticket.id, target="C0PAYMENTS", error="channel_not_found")
    engine.tick(at=ledger.db_now())
    assert [(lvl, u) for _, lvl, u in notifier.dms] == [(1, "U0ONE")]
    escalated = [e for e in ledger.audit_events(ticket_id=ticket.id) if e.kind == "escalated"]
    assert escalated[0].data["started_at_once"] is True
    current = ledger.get_ticket(ticket.id)
    assert (current.escalation_loop, current.escalation_level) == (0, 1)
    assert current.next_action_at is not None and current.next_action_at > ledger.db_now()


def test_transient_dm_failure_is_retried_and_never_doubled(
        ledger: Ledger, engine: EscalationEngine, notifier: RecordingNotifier) -> None:
    notifier.fail["U0TWO"] = ("ratelimited", True)
    notifier.fail_times["U0TWO"] = 1
    created = ledger.db_now() - 40 * MIN
    ticket = open_ticket(ledger, created=created)
    run(engine, created, range(0, 31))
    assert [u for _, _, u in notifier.dms] == ["U0ONE", "U0THREE"]
    failed = [e for e in ledger.audit_events(ticket_id=ticket.id) if e.kind == "delivery_failed"]
    assert [(e.data["target"], e.data["will_retry"]) for e in failed] == [("U0TWO", True)]
    report = engine.tick(at=created + 30 * MIN + timedelta(seconds=30))
    assert report.retries == 1 and [u for _, _, u in notifier.dms][-1] == "U0TWO"
    assert notifier.notes == [(ticket.id, 1), (ticket.id, 2)]  # the retry adds no thread note
    run(engine, created, range(31, 36))
    assert Counter(u for _, _, u in notifier.dms) == {"U0ONE": 1, "U0TWO": 1, "U0THREE": 1}
    step = [s for s in SweepStore(ledger).escalation_steps(ticket.id)
            if s.level == 2 and s.kind == "notify"]
    assert step[0].status == "sent" and step[0].attempts == 2


def test_permanent_dm_failure_is_recorded_and_the_chain_goes_on(
        ledger: Ledger, engine: EscalationEngine, notifier: RecordingNotifier) -> None:
    notifier.fail["U0ONE"] = ("user_not_found", False)
    created = ledger.db_now() - 40 * MIN
    ticket = open_ticket(ledger, created=created)
    report = run(engine, created, range(0, 35))
    assert [u for _, _, u in notifier.dms] == ["U0TWO", "U0THREE"]
    assert report.failures == 1 and report.retries == 0
    statuses = [s.status for s in SweepStore(ledger).escalation_steps(ticket.id)
                if s.kind == "notify"]
    assert statuses == ["failed", "sent"]


def test_round_robin_takes_turns_across_passes(
        ledger: Ledger, engine: EscalationEngine, notifier: RecordingNotifier) -> None:
    created = ledger.db_now() - 50 * MIN
    ticket = open_ticket(ledger, "rr", created=created)
    run(engine, created, range(0, 35))
    users = [u for _, _, u in notifier.dms]
    assert len(users) == 3 and sorted(users) == ["U0A", "U0B", "U0C"]
    assert SweepStore(ledger).oncall_targets(ticket.id) == set(users)


def test_requester_is_never_asked_to_approve_their_own_request(
        ledger: Ledger, engine: EscalationEngine, notifier: RecordingNotifier) -> None:
    created = ledger.db_now() - 40 * MIN
    open_ticket(ledger, created=created, requested_by="U0TWO")
    run(engine, created, range(0, 31))
    assert [u for _, _, u in notifier.dms] == ["U0ONE", "U0THREE"]


def test_group_that_cannot_be_listed_is_recorded(
        ledger: Ledger, engine: EscalationEngine, notifier: RecordingNotifier) -> None:
    notifier.groups.clear()
    created = ledger.db_now() - 40 * MIN
    ticket = open_ticket(ledger, created=created)
    run(engine, created, range(0, 31))
    failed = [e.data["target"] for e in ledger.audit_events(ticket_id=ticket.id)
              if e.kind == "delivery_failed"]
    assert failed == ["S0TEAM"]


def test_reminder_failure_is_recorded_not_retried(
        ledger: Ledger, engine: EscalationEngine, notifier: RecordingNotifier) -> None:
    notifier.fail["remind"] = ("message_not_found", False)
    created = ledger.db_now() - 40 * MIN
    ticket = open_ticket(ledger, created=created)
    report = run(engine, created, range(0, 9))
    assert report.failures == 1 and notifier.reminders == []
    assert audit_kinds(ledger, ticket.id)["delivery_failed"] == 1


def test_expiry_notice_is_retried_on_a_passing_failure(
        ledger: Ledger, engine: EscalationEngine, notifier: RecordingNotifier) -> None:
    notifier.fail["expired"] = ("ratelimited", True)
    notifier.fail_times["expired"] = 1
    created = ledger.db_now() - 80 * MIN
    ticket = open_ticket(ledger, created=created)
    engine.tick(at=created + 71 * MIN)
    assert notifier.expiries == [] and ledger.get_ticket(ticket.id).status is TicketStatus.EXPIRED
    engine.tick(at=created + 71 * MIN + timedelta(seconds=30))
    assert notifier.expiries == [ticket.id]


def test_ticket_without_chain_just_expires(
        ledger: Ledger, engine: EscalationEngine, notifier: RecordingNotifier) -> None:
    from store.models import NewTicket, Route

    now = ledger.db_now()
    new = NewTicket(action="x", requested_by="U0REQ", policy_version="t",
                    route=Route(channel="C0X"), expires_at=now - MIN)
    ticket, _ = ledger.create_ticket(new, at=now - 30 * MIN)
    engine.tick(at=now)
    assert ledger.get_ticket(ticket.id).status is TicketStatus.EXPIRED
    assert notifier.expiries == [ticket.id] and notifier.dms == []


def test_naive_tick_time_is_refused(engine: EscalationEngine) -> None:
    with pytest.raises(ValueError, match="aware"):
        engine.tick(at=datetime(2026, 1, 1))


def test_scheduler_runs_one_interval_job_that_ticks(ledger: Ledger) -> None:
    import threading

    from escalation.scheduler import JOB_ID, start_scheduler

    ticked = threading.Event()

    class Engine(EscalationEngine):
        def tick(self, at: datetime) -> TickReport:
            ticked.set()
            return super().tick(at)

    engine = Engine(ledger, None, RecordingNotifier(), owner="replica-s")
    scheduler = start_scheduler(engine, timedelta(seconds=30))
    try:
        assert ticked.wait(timeout=10)  # the first tick runs at once
        job = scheduler.get_job(JOB_ID)
        assert job.max_instances == 1 and job.coalesce is True
        assert job.trigger.interval == timedelta(seconds=30)
    finally:
        scheduler.shutdown(wait=True)


def test_unreadable_plan_still_expires(
        ledger: Ledger, engine: EscalationEngine, notifier: RecordingNotifier) -> None:
    from store.models import NewTicket, Route

    now = ledger.db_now()
    new = NewTicket(action="x", requested_by="U0REQ", policy_version="t",
                    route=Route(channel="C0X"), expires_at=now - MIN, next_action_at=now - MIN,
                    escalation={"v": 1, "levels": [{"broken": True}]})
    ticket, _ = ledger.create_ticket(new, at=now - 30 * MIN)
    report = engine.tick(at=now)
    assert report.expiries == 1 and notifier.expiries == [ticket.id]
    assert ledger.get_ticket(ticket.id).status is TicketStatus.EXPIRED
